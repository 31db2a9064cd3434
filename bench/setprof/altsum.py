import sys, statistics, collections
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
labels = []
by = collections.defaultdict(dict)
for r, label, ns, cpu in rows:
    if label not in labels: labels.append(label)
    by[r][label] = (float(ns), float(cpu))
first = labels[0]
print(f"{'label':24s} {'med ns':>8s} {'min ns':>8s} {'med cpu':>8s} {'ratio(ns)':>9s} {'IQR':>13s} {'ratio(cpu)':>10s}  rounds={len(by)}")
for l in labels:
    ns = [by[r][l][0] for r in by if l in by[r]]
    cpu = [by[r][l][1] for r in by if l in by[r]]
    rat = [by[r][l][0] / by[r][first][0] for r in by if l in by[r] and first in by[r]]
    ratc = [by[r][l][1] / by[r][first][1] for r in by if l in by[r] and first in by[r]]
    q = statistics.quantiles(rat, n=4) if len(rat) >= 4 else [min(rat), 0, max(rat)]
    print(f"{l:24s} {statistics.median(ns):8.1f} {min(ns):8.1f} {statistics.median(cpu):8.1f} {statistics.median(rat):9.3f} {q[0]:6.3f}-{q[2]:6.3f} {statistics.median(ratc):10.3f}")
