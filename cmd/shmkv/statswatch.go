package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shmkv/shmkv/kv"
)

// watchStats is 'stats --watch': every interval, the rates of reads, hits,
// misses, sets, deletes and evictions per second since the last refresh,
// the hit ratio over that interval, and the table's entries and memory. On
// a terminal the block is redrawn in place, as redis-cli --stat's figures
// are read at a glance; elsewhere each refresh is one line under a header,
// for a log. It stops after count refreshes (0: never) or at SIGINT or
// SIGTERM, which is no failure.
func watchStats(m *Main, name string, t *kv.Table, interval time.Duration, count int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var prev, cur kv.Stats
	if err := t.Stats(&prev); err != nil {
		return opError("stats", name, err)
	}
	onTerminal := isTerminal(m.Stdout)
	if !onTerminal {
		fmt.Fprintln(m.Stdout, "time      reads/s     hits/s   misses/s  hit%    sets/s  deletes/s evictions/s    entries       used      total")
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := time.Now()
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			if onTerminal {
				fmt.Fprintln(m.Stdout)
			}
			return nil
		case <-tick.C:
		}
		if err := t.Stats(&cur); err != nil {
			return opError("stats", name, err)
		}
		now := time.Now()
		r := rates(&prev, &cur, now.Sub(last))
		if onTerminal {
			drawWatch(m.Stdout, name, interval, &cur, &r)
		} else {
			fmt.Fprintf(m.Stdout, "%s %10.0f %10.0f %10.0f %5s %9.0f %10.0f %11.0f %10d %10s %10s\n",
				now.Format("15:04:05"), r.reads, r.hits, r.misses, percent(r.hitRatio), r.sets, r.deletes, r.evictions,
				cur.Entries, humanBytes(cur.BytesUsed), humanBytes(cur.TotalBytes))
		}
		prev, last = cur, now
	}
	return nil
}

// watchRates are per-second rates between two Stats.
type watchRates struct {
	reads, hits, misses, sets, deletes, evictions float64
	hitRatio                                      float64 // of the reads in between; -1 if there were none
}

func rates(a, b *kv.Stats, d time.Duration) watchRates {
	sec := d.Seconds()
	per := func(x, y uint64) float64 {
		if y < x || sec <= 0 {
			return 0 // counters do not go back; a recreated table does
		}
		return float64(y-x) / sec
	}
	r := watchRates{
		reads: per(a.Gets, b.Gets), hits: per(a.Hits, b.Hits), misses: per(a.Misses, b.Misses),
		sets: per(a.Sets, b.Sets), deletes: per(a.Deletes, b.Deletes), evictions: per(a.Evictions, b.Evictions),
		hitRatio: -1,
	}
	if r.reads > 0 {
		r.hitRatio = r.hits / r.reads
	}
	return r
}

func percent(ratio float64) string {
	if ratio < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", 100*ratio)
}

// drawWatch redraws the terminal block: the cursor goes home and the screen
// is cleared first, so the figures change in place.
func drawWatch(w io.Writer, name string, interval time.Duration, st *kv.Stats, r *watchRates) {
	fmt.Fprint(w, "\x1b[H\x1b[2J")
	fmt.Fprintf(w, "shmkv %s, every %v (Ctrl-C stops)\n\n", printable(name), interval)
	fmt.Fprintf(w, "reads/s      %12.0f   hits/s %.0f, misses/s %.0f\n", r.reads, r.hits, r.misses)
	ratio := percent(r.hitRatio)
	if r.hitRatio >= 0 {
		ratio += "%"
	}
	fmt.Fprintf(w, "hit ratio    %12s\n", ratio)
	fmt.Fprintf(w, "sets/s       %12.0f   deletes/s %.0f\n", r.sets, r.deletes)
	fmt.Fprintf(w, "evictions/s  %12.0f\n", r.evictions)
	fmt.Fprintf(w, "entries      %12d   room for %d before growing\n", st.Entries, st.KeyCapacity)
	fmt.Fprintf(w, "memory       %12s   of at most %s; %s used by entries; grew %d times\n", humanBytes(st.TotalBytes), humanBytes(st.MaxBytes), humanBytes(st.BytesUsed), st.Grows)
}
