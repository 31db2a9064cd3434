#!/bin/bash
# alt.sh COUNT OUT 'label|binary|bench' ...: alternate the given benchmarks
# COUNT rounds (one goroutine, BT each, default 0.3s); print per label the
# median ns/op and cpu-ns/op, and the median over rounds of the ratio to the
# first label within the same round.
cd /work/wt/sp
count=$1 out=$2; shift 2
: > $out.raw
for r in $(seq $count); do
  for spec in "$@"; do
    IFS='|' read -r label bin bench <<<"$spec"
    line=$(./$bin -test.run '^$' -test.bench "$bench" -test.benchtime ${BT:-0.3s} -test.cpu 1 | awk '/ns\/op/ {print $3, $5}')
    echo "$r $label $line" >> $out.raw
  done
done
python3 /work/wt/sp/altsum.py $out.raw > $out
cat $out
