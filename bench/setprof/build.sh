#!/bin/bash
# build.sh NAME REV [sed-patch-script]: build kv's test binary of REV with the
# zz benchmark files as /work/wt/sp/NAME.test
set -e
d=$(mktemp -d); git -C /work/wt/setprof archive "$2" | tar -x -C $d
cp /work/wt/sp/zz_sp_test.go $d/kv/  # bench/setprof/zz_sp_test.go.txt
git -C /work/wt/setprof show "$2":kv/options.go | grep -q MaxMemory && cp /work/wt/sp/zz_spmem_test.go $d/kv/  # bench/setprof/zz_spmem_test.go.txt
if [ -n "$3" ]; then (cd $d && bash -c "$3"); fi
(cd $d && GOWORK=off GOFLAGS=-mod=mod go test -c -o /work/wt/sp/$1.test ./kv)
rm -rf $d
