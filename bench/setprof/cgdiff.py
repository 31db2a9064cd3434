#!/usr/bin/env python3
"""cgdiff.py SMALL LARGE NOPS [TOP]: per-op cost by function from two cachegrind
outputs of the same binary that differ only in benchmark iterations (NOPS more
in LARGE). Prints Ir, Dr, Dw, D1 misses, LL misses per op."""
import sys, collections
def load(path):
    ev = None; fn = None; tot = collections.defaultdict(lambda: None)
    per = {}
    for line in open(path):
        if line.startswith('events:'):
            ev = line.split()[1:]
        elif line.startswith('fn='):
            fn = line[3:].strip()
        elif line[:1].isdigit() and fn is not None:
            nums = [int(x) for x in line.split()[1:]]
            a = per.setdefault(fn, [0]*len(ev))
            for i, v in enumerate(nums): a[i] += v
    return ev, per
ev, a = load(sys.argv[1]); _, b = load(sys.argv[2]); n = float(sys.argv[3])
top = int(sys.argv[4]) if len(sys.argv) > 4 else 30
idx = {e: i for i, e in enumerate(ev)}
def g(v, e): return v[idx[e]] if e in idx else 0
rows = []
tot = [0]*len(ev)
for fn in set(a) | set(b):
    va = a.get(fn, [0]*len(ev)); vb = b.get(fn, [0]*len(ev))
    d = [(y - x) / n for x, y in zip(va, vb)]
    for i in range(len(ev)): tot[i] += d[i]
    rows.append((fn, d))
rows.sort(key=lambda r: -g(r[1], 'Ir'))
def fmt(name, d):
    d1 = g(d, 'D1mr') + g(d, 'D1mw'); ll = g(d, 'DLmr') + g(d, 'DLmw')
    return f"{g(d,'Ir'):8.1f} {g(d,'Dr'):7.1f} {g(d,'Dw'):7.1f} {d1:7.2f} {ll:7.2f}  {name}"
print(f"{'Ir/op':>8} {'Dr/op':>7} {'Dw/op':>7} {'D1m/op':>7} {'L2m/op':>7}  function")
print(fmt('TOTAL', tot))
for fn, d in rows[:top]:
    print(fmt(fn, d))
print("-- top by L1 misses")
rows.sort(key=lambda r: -(g(r[1], 'D1mr') + g(r[1], 'D1mw')))
for fn, d in rows[:12]:
    print(fmt(fn, d))
print("-- top by L2 misses")
rows.sort(key=lambda r: -(g(r[1], 'DLmr') + g(r[1], 'DLmw')))
for fn, d in rows[:12]:
    print(fmt(fn, d))
