#!/bin/bash
# cg.sh BIN BENCH TAG: cachegrind at 100k and 400k Sets, per-op diff.
set -e
cd /work/wt/sp
for n in 100000 400000; do
  GODEBUG=cpu.rdtscp=off valgrind --tool=cachegrind --cache-sim=yes --D1=49152,12,64 --LL=1048576,8,64 \
    --cachegrind-out-file=cg/$3.$n ./$1 -test.run '^$' -test.bench "$2" -test.benchtime ${n}x -test.cpu 1 >cg/$3.$n.log 2>&1
done
python3 cgdiff.py cg/$3.100000 cg/$3.400000 300000 ${4:-30} > cg/$3.txt
