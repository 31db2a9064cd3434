package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"

	"github.com/dgraph-io/ristretto/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/maypok86/otter/v2"
	"github.com/shmkv/shmkv/kv"
)

// Hit ratio: the same key streams, cache-aside (read; on a miss, write),
// through shmkv's evicting table and through otter (W-TinyLFU), ristretto
// (TinyLFU with sampled LFU) and golang-lru (LRU), at equal capacity in
// entries. shmkv's capacity is set in bytes, not entries, so it runs first
// and the others get the number of entries it held on average over the
// measured half of the stream.

// hitCache is one cache under test.
type hitCache interface {
	get(key string) bool
	set(key string)
}

// stream is one workload: its name, the keys requested in order, the
// target cache size as a share of the key space, and from which request
// on hits are counted (the first part warms the cache).
type stream struct {
	name    string
	keys    []uint32
	share   float64
	measure int
	zipf    float64 // the Zipf exponent of a stream drawn from one alone; 0 otherwise
}

// zipfKeys draws n ranks from a Zipf distribution of exponent s over
// space keys (any s > 0: math/rand's Zipf wants s > 1) and maps each rank
// to a key through a random permutation, so that hot keys do not sit
// together.
func zipfKeys(rng *rand.Rand, s float64, space, n int) []uint32 {
	cdf := make([]float64, space)
	sum := 0.0
	for i := range cdf {
		sum += 1 / math.Pow(float64(i+1), s)
		cdf[i] = sum
	}
	perm := rng.Perm(space)
	keys := make([]uint32, n)
	for i := range keys {
		rank := sort.SearchFloat64s(cdf, rng.Float64()*sum)
		keys[i] = uint32(perm[min(rank, space-1)])
	}
	return keys
}

const hitSpace = 1_000_000 // keys in the Zipf streams

// hitStreams are the workloads of the issue: Zipf 0.8, 1.0, 1.2 at caches
// of 0.1%, 1% and 10% of the key space; a loop over twice the cache; and
// Zipf 1.0 with a scan of cold keys injected half way.
func hitStreams(n int, seed uint64) []stream {
	rng := rand.New(rand.NewPCG(seed, 0x417))
	var ss []stream
	for _, s := range []float64{0.8, 1.0, 1.2} {
		keys := zipfKeys(rng, s, hitSpace, n)
		for _, share := range []float64{0.001, 0.01, 0.1} {
			ss = append(ss, stream{fmt.Sprintf("zipf %.1f", s), keys, share, n / 2, s})
		}
	}
	// A loop over twice the cache: LRU keeps nothing it will see again.
	loopLen := int(0.01 * hitSpace * 2)
	loop := make([]uint32, n)
	for i := range loop {
		loop[i] = uint32(i % loopLen)
	}
	ss = append(ss, stream{"loop over 2x the cache", loop, 0.01, n / 2, 0})
	// Zipf 1.0, with a scan of 10x the cache of keys never seen before at
	// the middle; counted from the scan on.
	z := zipfKeys(rng, 1.0, hitSpace, n)
	scan := make([]uint32, 0, n+hitSpace/10)
	scan = append(scan, z[:n/2]...)
	for i := range hitSpace / 10 {
		scan = append(scan, uint32(hitSpace+i))
	}
	scan = append(scan, z[n/2:]...)
	ss = append(ss, stream{"zipf 1.0, scan half way", scan, 0.01, n / 2, 0})
	return ss
}

// hitResult is one stream's hit ratios.
type hitResult struct {
	stream  string
	share   float64
	entries int                // the capacity every cache had
	ratios  map[string]float64 // by cache name
	optimum float64            // for a Zipf stream, the best hit ratio any cache of that capacity can expect; 0 if not computed
}

// zipfOptimum is the share of the requests of a Zipf stream of exponent s
// over space keys that go to its entries most popular keys: the hit ratio
// of a cache that holds exactly those, the best any policy of that
// capacity can expect when requests are drawn independently.
func zipfOptimum(s float64, space, entries int) float64 {
	top, all := 0.0, 0.0
	for i := 1; i <= space; i++ {
		p := 1 / math.Pow(float64(i), s)
		all += p
		if i <= entries {
			top += p
		}
	}
	return top / all
}

var hitCacheNames = []string{"shmkv", "otter", "ristretto", "golang-lru"}

// runHitRatio runs every stream through every cache.
func runHitRatio(n int, seed uint64, log io.Writer) ([]hitResult, error) {
	var rs []hitResult
	for _, st := range hitStreams(n, seed) {
		shm, err := newShmkvHits(int(st.share * hitSpace))
		if err != nil {
			return nil, err
		}
		r := hitResult{stream: st.name, share: st.share, ratios: map[string]float64{}}
		var entries int
		r.ratios["shmkv"], entries = replay(shm, st, shm.len)
		shm.close()
		r.entries = entries
		if st.zipf != 0 {
			r.optimum = zipfOptimum(st.zipf, hitSpace, entries)
		}
		for _, name := range hitCacheNames[1:] {
			c, err := newPeerHits(name, entries)
			if err != nil {
				return nil, err
			}
			r.ratios[name], _ = replay(c, st, nil)
		}
		fmt.Fprintf(log, "%-26s %5.1f%% (%d entries): shmkv %.1f%% otter %.1f%% ristretto %.1f%% lru %.1f%%\n",
			st.name, st.share*100, entries, 100*r.ratios["shmkv"], 100*r.ratios["otter"], 100*r.ratios["ristretto"], 100*r.ratios["golang-lru"])
		rs = append(rs, r)
	}
	return rs, nil
}

// replay runs st through c and returns the hit ratio over the measured
// part, and, if size is given, the mean of what it reports there.
func replay(c hitCache, st stream, size func() int) (float64, int) {
	hits, total := 0, 0
	sizes, samples := 0, 0
	key := make([]byte, 0, 16)
	for i, k := range st.keys {
		key = fmt.Appendf(key[:0], "%016d", k)
		s := string(key)
		hit := c.get(s)
		if !hit {
			c.set(s)
		}
		if i >= st.measure {
			total++
			if hit {
				hits++
			}
			if size != nil && i%10_000 == 0 {
				sizes += size()
				samples++
			}
		}
	}
	mean := 0
	if samples > 0 {
		mean = sizes / samples
	}
	return float64(hits) / float64(max(total, 1)), mean
}

var hitValue = []byte("0123456789abcdef")

// shmkvHits is an evicting shmkv table sized, in bytes, for about
// entries entries of 16-byte keys and values.
type shmkvHits struct {
	t    *kv.Table
	name string
}

func newShmkvHits(entries int) (*shmkvHits, error) {
	name := fmt.Sprintf("shmkv-hitratio-%d", os.Getpid())
	kv.Remove(name)
	// About 48 KiB of header, registry and control block, then about 100
	// bytes an entry at the ceiling: 48 in the log (16 of header, 16 of
	// key, 16 of value) with its slack, and the index.
	t, err := kv.Open(name, &kv.Options{MaxMemory: 48<<10 + int64(entries)*100, Eviction: kv.EvictLRU,
		MaxKeySize: 16, MaxValueSize: 16, Exclusive: true})
	if err != nil {
		return nil, err
	}
	return &shmkvHits{t: t, name: name}, nil
}

func (s *shmkvHits) get(key string) bool {
	_, found, _ := s.t.Get(nil, []byte(key))
	return found
}
func (s *shmkvHits) set(key string) { s.t.Set([]byte(key), hitValue) }
func (s *shmkvHits) len() int       { return s.t.Len() }
func (s *shmkvHits) close()         { s.t.Close(); kv.Remove(s.name) }

func newPeerHits(name string, entries int) (hitCache, error) {
	switch name {
	case "otter":
		c, err := otter.New(&otter.Options[string, []byte]{MaximumSize: entries})
		return otterHits{c}, err
	case "ristretto":
		c, err := ristretto.NewCache(&ristretto.Config[string, []byte]{NumCounters: 10 * int64(entries), MaxCost: int64(entries),
			BufferItems: 64, IgnoreInternalCost: true}) // a cost of 1 an entry, as the capacity is in entries
		return ristrettoHits{c}, err
	default:
		c, err := lru.New[string, []byte](entries)
		return lruHits{c}, err
	}
}

type otterHits struct{ c *otter.Cache[string, []byte] }

func (o otterHits) get(key string) bool { _, ok := o.c.GetIfPresent(key); return ok }
func (o otterHits) set(key string)      { o.c.Set(key, hitValue) }

// ristrettoHits waits for each set to be applied: ristretto buffers sets
// and applies them in the background, and a replay that ran ahead of it
// would measure the buffer, not the policy.
type ristrettoHits struct {
	c *ristretto.Cache[string, []byte]
}

func (r ristrettoHits) get(key string) bool { _, ok := r.c.Get(key); return ok }
func (r ristrettoHits) set(key string)      { r.c.Set(key, hitValue, 1); r.c.Wait() }

type lruHits struct{ c *lru.Cache[string, []byte] }

func (l lruHits) get(key string) bool { _, ok := l.c.Get(key); return ok }
func (l lruHits) set(key string)      { l.c.Add(key, hitValue) }

// writeHitRatio writes the results as a Markdown table.
func writeHitRatio(w io.Writer, rs []hitResult, n int) {
	fmt.Fprintf(w, "Cache-aside over %d requests a stream (hits counted over the second half; the scan stream counts from the scan on), %d keys in the Zipf streams, 16-byte keys and values. Every cache holds as many entries as shmkv's table held on average (its capacity is set in bytes).\n\n", n, hitSpace)
	fmt.Fprintln(w, "| stream | cache (target share, entries) | shmkv | otter | ristretto | golang-lru (LRU) | best possible (the most popular keys held) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %.1f%%, %d |", r.stream, r.share*100, r.entries)
		for _, name := range hitCacheNames {
			fmt.Fprintf(w, " %.1f%% |", 100*r.ratios[name])
		}
		if r.optimum > 0 {
			fmt.Fprintf(w, " %.1f%% |\n", 100*r.optimum)
		} else {
			fmt.Fprintln(w, " |")
		}
	}
}

// writeHitRatioSVG draws the hit ratios as bars, a group for each stream,
// with the best possible hit ratio of a Zipf stream marked across its group
// by a dashed line and given in a row of its own below the bars.
func writeHitRatioSVG(w io.Writer, rs []hitResult, n int) {
	const rowH, barH, plotW, barGap = 14.0, 11.0, 600.0, 4.0
	const best = "best possible"
	colors := []string{"#d62728", "#1f77b4", "#2ca02c", "#7f7f7f"}
	cacheLine := func(r hitResult) string { return fmt.Sprintf("cache %.1f%%, %d entries", r.share*100, r.entries) }
	groupW, nameW := 0.0, textWidth(best, chartFontSize)
	for _, r := range rs {
		groupW = max(groupW, textWidth(r.stream, chartFontSize), textWidth(cacheLine(r), chartFontSize))
	}
	for _, name := range hitCacheNames {
		nameW = max(nameW, textWidth(name, chartFontSize))
	}
	left := chartMargin + groupW + 14 + nameW + 6
	x := func(ratio float64) float64 { return ratio * plotW }
	var c svgChart
	c.text(chartMargin, 24, 14, "start", fmt.Sprintf("Hit ratio, cache-aside, %s requests a stream, equal capacity in entries", thousands(n)), "")
	c.text(chartMargin, 42, chartFontSize, "start",
		"Dashed line: the best possible hit ratio, the share of requests that go to as many of the most popular keys as the cache holds",
		`fill="#555"`)
	const axisY = 64.0
	top := axisY + 8
	bottom := top
	for _, r := range rs {
		bottom += float64(len(hitCacheNames))*rowH + 12
		if r.optimum > 0 {
			bottom += rowH
		}
	}
	for p := 0; p <= 100; p += 20 {
		gx := left + x(float64(p)/100)
		c.line(gx, top-4, gx, bottom, `stroke="#ddd"`)
		c.text(gx, axisY, chartFontSize, "middle", fmt.Sprintf("%d%%", p), `fill="#555"`)
	}
	y := top
	for _, r := range rs {
		groupTop := y
		c.text(chartMargin, y+10, chartFontSize, "start", r.stream, "")
		c.text(chartMargin, y+24, chartFontSize, "start", cacheLine(r), `fill="#555"`)
		ox := left + x(r.optimum)
		for i, name := range hitCacheNames {
			v := r.ratios[name]
			c.text(left-6, y+9, chartFontSize, "end", name, "")
			c.rect(left, y, x(v), barH, colors[i%len(colors)])
			label := fmt.Sprintf("%.1f%%", 100*v)
			lx := left + x(v) + barGap
			// A label the dashed line would cross goes just right of it.
			if r.optimum > 0 && ox >= left+x(v)-1 && ox <= lx+textWidth(label, chartFontSize)+2 {
				lx = ox + barGap
			}
			c.text(lx, y+9, chartFontSize, "start", label, `fill="#333"`)
			y += rowH
		}
		if r.optimum > 0 {
			c.text(left-6, y+9, chartFontSize, "end", best, "")
			c.text(ox+barGap, y+9, chartFontSize, "start", fmt.Sprintf("%.1f%%", 100*r.optimum), "")
			c.line(ox, groupTop-2, ox, y+rowH-1, `stroke="#000" stroke-width="1.5" stroke-dasharray="3,2"`)
			y += rowH
		}
		y += 12
	}
	c.writeTo(w)
}
