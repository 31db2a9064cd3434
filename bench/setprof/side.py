import sys
def rd(p):
    d = {}
    for line in open(p):
        f = line.split()
        if len(f) >= 6 and f[0].replace('.','',1).replace('-','',1).isdigit() and f[5] != 'function':
            name = f[5].replace('github.com/shmkv/shmkv/','').replace('github.com/cespare/','')
            if name not in d: d[name] = (float(f[0]), float(f[3]))
    return d
a = rd(sys.argv[1]); b = rd(sys.argv[2])
rows = sorted(set(a) | set(b), key=lambda k: -abs(b.get(k,(0,0))[0] - a.get(k,(0,0))[0]))
print(f"{'base Ir':>8} {'new Ir':>8} {'dIr':>7} {'base D1m':>8} {'new D1m':>8}  function")
for k in rows:
    x = a.get(k,(0,0)); y = b.get(k,(0,0))
    if max(x[0], y[0]) < 5 and max(x[1], y[1]) < 0.1: continue
    print(f"{x[0]:8.1f} {y[0]:8.1f} {y[0]-x[0]:+7.1f} {x[1]:8.2f} {y[1]:8.2f}  {k}")
