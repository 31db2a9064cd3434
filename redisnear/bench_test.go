package redisnear

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkGetHit is the cost of a read the table answers.
func BenchmarkGetHit(b *testing.B) {
	srv := startRedis(b)
	c := openNearT(b, uniqueTable(b), srv.addr())
	waitOnline(b, c)
	ctx := context.Background()
	if err := c.Set(ctx, "user:1", make([]byte, 64), 0); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 128)
	for range 10 {
		buf, _ = c.Get(ctx, buf[:0], "user:1")
	}
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = c.Get(ctx, buf[:0], "user:1")
	}
}

// BenchmarkInvalidation: from a SET by another client to the moment a
// process's read through the near cache returns the new value, b.N times;
// it reports the median and the 99th percentile. The reader reads in a
// loop, so the figure is the invalidation's delay plus at most one read.
func BenchmarkInvalidation(b *testing.B) {
	srv := startRedis(b)
	raw := srv.rawClient()
	c := openNearT(b, uniqueTable(b), srv.addr())
	waitOnline(b, c)
	ctx := context.Background()
	raw.Do(ctx, raw.B().Set().Key("user:1").Value("0").Build())
	delays := make([]time.Duration, 0, b.N)
	for i := range b.N {
		want := fmt.Sprint(i + 1)
		// Cached before the change.
		c.Get(ctx, nil, "user:1")
		at := time.Now()
		if err := raw.Do(ctx, raw.B().Set().Key("user:1").Value(want).Build()).Error(); err != nil {
			b.Fatal(err)
		}
		for {
			v, err := c.Get(ctx, nil, "user:1")
			if err == nil && string(v) == want {
				break
			}
			if time.Since(at) > 5*time.Second {
				b.Fatalf("not seen after 5 s: %q, %v", v, err)
			}
			// A reader that never yields keeps the runtime from polling
			// the network promptly on a machine of two processors.
			runtime.Gosched()
		}
		delays = append(delays, time.Since(at))
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(delays[len(delays)*99/100].Nanoseconds()), "p99-ns")
}
