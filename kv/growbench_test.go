package kv

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
)

var loadKeys = flag.Int("kv.load.keys", 1_000_000, "keys BenchmarkLoad stores (10,000,000 for the figures in bench/RESULTS.md)")

// BenchmarkLoad stores kv.load.keys keys of 16 bytes with 64-byte values,
// into a default table that grows all the way (growing) and into one
// created with Keys and Memory set to the final size (presized): the ratio
// of the two is what growing costs. It reports the load rate and the bytes
// of shared memory each entry takes once loaded. Run it with -benchtime 1x.
func BenchmarkLoad(b *testing.B) {
	n := *loadKeys
	keys := benchKeys(n)
	value := make([]byte, 64)
	for _, c := range []struct {
		name string
		opts *Options
	}{
		{"growing", &Options{MaxKeySize: 64, MaxValueSize: 1024}},
		{"presized", &Options{Keys: n, Memory: int64(n) * 80, MaxKeySize: 64, MaxValueSize: 1024}},
	} {
		b.Run(fmt.Sprintf("%s/keys=%d", c.name, n), func(b *testing.B) {
			var st Stats
			for range b.N {
				name := uniqueName(b)
				tb, err := Open(name, c.opts)
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range keys {
					if err := tb.Set(k, value); err != nil {
						b.Fatal(err)
					}
				}
				tb.Stats(&st)
				tb.Close()
				Remove(name) // now, not at the end: each run takes gigabytes
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
			b.ReportMetric(float64(st.TotalBytes)/float64(n), "bytes/entry")
			b.ReportMetric(float64(st.Grows), "grows")
		})
	}
}

// BenchmarkOverwriteMemory loads kv.load.keys keys into a default table,
// as BenchmarkLoad does, then overwrites keys chosen at random, twice as
// many times: the memory per entry once every log has gone round, which
// is what a table under steady writes keeps. Run it with -benchtime 1x.
func BenchmarkOverwriteMemory(b *testing.B) {
	n := *loadKeys
	keys := benchKeys(n)
	value := make([]byte, 64)
	var loaded, overwritten Stats
	for range b.N {
		name := uniqueName(b)
		tb, err := Open(name, &Options{MaxKeySize: 64, MaxValueSize: 1024})
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			if err := tb.Set(k, value); err != nil {
				b.Fatal(err)
			}
		}
		tb.Stats(&loaded)
		r := rand.New(rand.NewPCG(uint64(n), 1))
		for range 2 * n {
			if err := tb.Set(keys[r.IntN(n)], value); err != nil {
				b.Fatal(err)
			}
		}
		tb.Stats(&overwritten)
		tb.Close()
		Remove(name)
	}
	b.ReportMetric(float64(loaded.TotalBytes)/float64(n), "bytes/entry-loaded")
	b.ReportMetric(float64(overwritten.TotalBytes)/float64(n), "bytes/entry-overwritten")
	b.ReportMetric(float64(overwritten.Grows-loaded.Grows), "grows-overwriting")
}

func init() {
	rawChildren["get-latency"] = childGetLatency
}

// childGetLatency: args name keys duration. Reads random keys below keys
// for duration, timing each Get, and prints the count and the 50th, 99th
// and 99.9th percentiles in nanoseconds.
func childGetLatency(args []string) error {
	tb, err := Open(args[0], &Options{NoCreate: true, Populate: true})
	if err != nil {
		return err
	}
	defer tb.Close()
	keys, _ := strconv.Atoi(args[1])
	d, _ := time.ParseDuration(args[2])
	ks := benchKeys(keys)
	lat := make([]int64, 0, 1<<22)
	buf := make([]byte, 0, 128)
	fmt.Println("ready")
	for i, end := 0, time.Now().Add(d); time.Now().Before(end); i++ {
		k := ks[(i*7919)%keys]
		t0 := time.Now()
		out, ok, err := tb.Get(buf[:0], k)
		el := time.Since(t0)
		if err != nil || !ok {
			return fmt.Errorf("Get(%s) = %v, %v", k, ok, err)
		}
		buf = out
		if len(lat) < cap(lat) {
			lat = append(lat, int64(el))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) int64 { return lat[int(p*float64(len(lat)-1))] }
	fmt.Println(len(lat), q(0.5), q(0.99), q(0.999))
	return nil
}

// BenchmarkGetLatencyDuringGrowth: another process reads keys of a table
// for a second while this one either leaves it alone (steady) or loads new
// keys into it, so that its shards grow again and again (growing). It
// reports the reader's Get latency percentiles; the goal is a
// p99.9 during growth no more than twice the steady one. Run it with
// -benchtime 1x.
func BenchmarkGetLatencyDuringGrowth(b *testing.B) {
	const keys = 100_000
	for _, phase := range []string{"steady", "growing"} {
		b.Run(phase, func(b *testing.B) {
			for range b.N {
				name := uniqueName(b)
				tb := openTable(b, name, nil)
				value := make([]byte, 64)
				for _, k := range benchKeys(keys) {
					if err := tb.Set(k, value); err != nil {
						b.Fatal(err)
					}
				}
				reader := testproc.Start(b, "SHMKV_RAW_CHILD=get-latency", "SHMKV_ARGS="+name+" "+strconv.Itoa(keys)+" 1s")
				reader.Expect(b, "ready")
				if phase == "growing" {
					more := benchKeys(4_000_000)[keys:]
					for i, end := 0, time.Now().Add(time.Second); i < len(more) && time.Now().Before(end); i++ {
						if err := tb.Set(more[i], value); err != nil {
							b.Fatal(err)
						}
					}
				}
				out, _ := reader.Rest()
				if err := reader.Wait(); err != nil {
					b.Fatalf("reader: %v", err)
				}
				f := strings.Fields(out)
				if len(f) != 4 {
					b.Fatalf("reader said %q", out)
				}
				for i, unit := range []string{"reads", "p50-ns", "p99-ns", "p99.9-ns"} {
					v, _ := strconv.ParseFloat(f[i], 64)
					b.ReportMetric(v, unit)
				}
				var st Stats
				tb.Stats(&st)
				b.ReportMetric(float64(st.Grows), "grows")
			}
		})
	}
}
