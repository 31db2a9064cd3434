#!/usr/bin/env python3
"""cgdiff.py BASE_SMALL BASE_LARGE NEW_SMALL NEW_LARGE OPS: per-operation
cost of two builds from cachegrind outputs; each pair differs only in OPS
benchmark operations. Prints the totals outside the Go runtime, the cache
misses, and the functions whose cost changed most (bench/ab/cg)."""
import collections, re, sys

def load(path):
    events, fn, per = None, None, collections.defaultdict(lambda: None)
    per = {}
    for line in open(path):
        if line.startswith('events:'):
            events = line.split()[1:]
        elif line.startswith('fn='):
            fn = line[3:].strip()
        elif line[:1].isdigit() and fn is not None:
            nums = [int(x) for x in line.split()[1:]]
            acc = per.setdefault(fn, [0] * len(events))
            for i, v in enumerate(nums):
                acc[i] += v
    return events, per

def per_op(small, large, ops):
    events, a = load(small)
    _, b = load(large)
    out = {}
    for fn in set(a) | set(b):
        x, y = a.get(fn, [0] * len(events)), b.get(fn, [0] * len(events))
        out[fn] = {e: (y[i] - x[i]) / ops for i, e in enumerate(events)}
    return out

def name(fn):
    # The same function before and after a move between packages or a
    # change of receiver type compares as one.
    return re.sub(r'\(\*\w+\)\.', '(*).', fn.split('/')[-1])

def runtime(fn):
    # The runtime's functions, the write barrier's entry among them.
    return fn.startswith('runtime.') or 'gcWriteBarrier' in fn

def totals(d):
    ir = sum(v['Ir'] for f, v in d.items() if not runtime(f))
    d1 = sum(v.get('D1mr', 0) + v.get('D1mw', 0) for v in d.values())
    ll = sum(v.get('DLmr', 0) + v.get('DLmw', 0) for v in d.values())
    return ir, d1, ll

ops = float(sys.argv[5])
base, new = per_op(sys.argv[1], sys.argv[2], ops), per_op(sys.argv[3], sys.argv[4], ops)
(bi, bd, bl), (ni, nd, nl) = totals(base), totals(new)
print(f'  instructions outside the runtime  {bi:9.1f} {ni:9.1f}  {ni / bi:.3f}')
print(f'  L1d misses (all)                  {bd:9.2f} {nd:9.2f}')
print(f'  L2 misses (all)                   {bl:9.2f} {nl:9.2f}')
by = collections.defaultdict(lambda: [0.0, 0.0])
for f, v in base.items():
    by[name(f)][0] += v['Ir']
for f, v in new.items():
    by[name(f)][1] += v['Ir']
moved = sorted(((n - b, f) for f, (b, n) in by.items() if not runtime(f)), key=lambda x: -abs(x[0]))
for d, f in moved[:8]:
    if abs(d) >= 1:
        print(f'  {d:+9.1f}  {f}')
