package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/redisnear"
)

// The near cache in front of Redis (redisnear), against Redis read
// directly and against rueidis's own client-side cache (one per process),
// all on a redis-server of the run's own on the loopback:
//   - the cost of a read that hits, in this process;
//   - how many GETs reach Redis when procs processes each read every key
//     once;
//   - the memory their cached copies take: one table for the host, or the
//     heap each process's cache grows by.

const (
	nearKeys      = 1000
	nearValueSize = 64
)

// nearJob is what a near worker process is told, through nearEnv.
type nearJob struct {
	Mode  string // "redisnear" or "rueidis-csc"
	Addr  string
	Table string
}

const nearEnv = "BENCH_NEAR_WORKER"

// nearResult is one run's figures.
type nearResult struct {
	procs          int
	hitNs          map[string]float64 // per read, by way of reading
	gets           map[string]int     // GETs that reached Redis, by mode
	bytes          map[string]uint64  // memory of the copies, by mode
	nearTableBytes uint64
}

func runNear(procs int) (*nearResult, error) {
	addr, stop, err := startRedisTCP()
	if err != nil {
		return nil, err
	}
	defer stop()
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	ctx := context.Background()
	value := rueidis.BinaryString(valueOf(nearValueSize))
	for i := range nearKeys {
		if err := raw.Do(ctx, raw.B().Set().Key(nearKey(i)).Value(value).Build()).Error(); err != nil {
			return nil, err
		}
	}
	r := &nearResult{procs: procs, hitNs: map[string]float64{}, gets: map[string]int{}, bytes: map[string]uint64{}}
	if err := nearHits(ctx, addr, r); err != nil {
		return nil, err
	}
	for _, mode := range []string{"redisnear", "rueidis-csc"} {
		table := fmt.Sprintf("shmkv-bench-near-%d", os.Getpid())
		kv.Remove(table)
		before, err := getCalls(ctx, raw)
		if err != nil {
			return nil, err
		}
		heap, err := runNearWorkers(procs, nearJob{Mode: mode, Addr: addr, Table: table})
		if err != nil {
			kv.Remove(table)
			return nil, err
		}
		after, err := getCalls(ctx, raw)
		if err != nil {
			kv.Remove(table)
			return nil, err
		}
		r.gets[mode] = after - before
		r.bytes[mode] = heap
		if mode == "redisnear" {
			if t, err := kv.Open(table, &kv.Options{NoCreate: true, ReadOnly: true}); err == nil {
				var st kv.Stats
				t.Stats(&st)
				r.bytes[mode] = st.TotalBytes
				t.Close()
			}
		}
		kv.Remove(table)
	}
	return r, nil
}

func nearKey(i int) string { return "user:" + strconv.Itoa(i) }

// nearHits times a read that hits each way, in this process, as the
// median of 5 runs of 200 ms.
func nearHits(ctx context.Context, addr string, r *nearResult) error {
	table := fmt.Sprintf("shmkv-bench-near-hits-%d", os.Getpid())
	kv.Remove(table)
	defer kv.Remove(table)
	near, err := redisnear.Open(redisnear.Options{Redis: rueidis.ClientOption{InitAddress: []string{addr}},
		Table: table, TableOptions: &kv.Options{MaxMemory: 16 << 20}, Prefixes: []string{"user:"}})
	if err != nil {
		return err
	}
	defer near.Close()
	csc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		return err
	}
	defer csc.Close()
	plain, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return err
	}
	defer plain.Close()
	// Wait for a leader, then warm every cache.
	if err := waitOnline(near); err != nil {
		return err
	}
	buf := make([]byte, 0, 128)
	ways := map[string]func(i int) error{
		"redisnear Get": func(i int) error {
			var err error
			buf, err = near.Get(ctx, buf[:0], nearKey(i))
			return err
		},
		"rueidis client-side cache (DoCache)": func(i int) error {
			return csc.DoCache(ctx, csc.B().Get().Key(nearKey(i)).Cache(), time.Minute).Error()
		},
		"Redis GET (rueidis Do)": func(i int) error {
			return plain.Do(ctx, plain.B().Get().Key(nearKey(i)).Build()).Error()
		},
	}
	for name, read := range ways {
		for i := range nearKeys {
			if err := read(i); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		var runs []float64
		for range 5 {
			n, start := 0, time.Now()
			for time.Since(start) < 200*time.Millisecond {
				for j := range 64 {
					if err := read((n + j) % nearKeys); err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
				}
				n += 64
			}
			runs = append(runs, float64(time.Since(start).Nanoseconds())/float64(n))
		}
		slices.Sort(runs)
		r.hitNs[name] = runs[len(runs)/2]
	}
	return nil
}

func runNearWorkers(procs int, job nearJob) (uint64, error) {
	b, _ := json.Marshal(job)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total uint64
		first error
	)
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), nearEnv+"="+string(b))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			var heap uint64
			if err == nil {
				heap, err = strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = fmt.Errorf("near worker: %v", err)
			}
			total += heap
		}()
	}
	wg.Wait()
	return total, first
}

// runNearWorker reads every key once, and prints how much its heap grew
// (for rueidis's cache, the copies it keeps).
func runNearWorker(spec string) error {
	var j nearJob
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		return err
	}
	ctx := context.Background()
	heapBefore := heapAllocated()
	var read func(key string) error
	switch j.Mode {
	case "redisnear":
		near, err := redisnear.Open(redisnear.Options{Redis: rueidis.ClientOption{InitAddress: []string{j.Addr}},
			Table: j.Table, TableOptions: &kv.Options{MaxMemory: 16 << 20}, Prefixes: []string{"user:"}})
		if err != nil {
			return err
		}
		defer near.Close()
		if err := waitOnline(near); err != nil {
			return err
		}
		read = func(key string) error { _, err := near.Get(ctx, nil, key); return err }
	default:
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{j.Addr}})
		if err != nil {
			return err
		}
		defer c.Close()
		read = func(key string) error { return c.DoCache(ctx, c.B().Get().Key(key).Cache(), time.Minute).Error() }
	}
	for i := range nearKeys {
		if err := read(nearKey(i)); err != nil {
			return err
		}
	}
	heapAfter := heapAllocated()
	if j.Mode == "redisnear" {
		heapAfter = heapBefore // its copies are in the table, counted once by the parent
	}
	fmt.Println(max(heapAfter, heapBefore) - heapBefore)
	return nil
}

// waitOnline waits until a leader vouches for near's table: before that,
// reads go to Redis and are not cached.
func waitOnline(near *redisnear.Client) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if near.Online() {
			return nil
		}
	}
	return fmt.Errorf("no leader vouched for the table within 5 s")
}

func getCalls(ctx context.Context, c rueidis.Client) (int, error) {
	info, err := c.Do(ctx, c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		return 0, err
	}
	var calls int
	for _, line := range strings.Split(info, "\n") {
		if n, _ := fmt.Sscanf(line, "cmdstat_get:calls=%d", &calls); n == 1 {
			return calls, nil
		}
	}
	return 0, nil
}

// startRedisTCP starts a redis-server on a free loopback port.
func startRedisTCP() (addr string, stop func(), err error) {
	if why := installHint("redis-server", "redis-server"); why != "" {
		return "", nil, fmt.Errorf("redis-server %s", why)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr = l.Addr().String()
	l.Close()
	dir, err := os.MkdirTemp("", "shmkv-bench-near-")
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait(); os.RemoveAll(dir) }
	for range 500 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server did not listen on %s", addr)
}

// writeNear writes the figures as Markdown.
func writeNear(w io.Writer, r *nearResult) {
	fmt.Fprintf(w, "%d keys of %d bytes on a redis-server on the loopback (TCP).\n\n", nearKeys, nearValueSize)
	fmt.Fprintln(w, "| a read that hits, in one process | ns | against redisnear |")
	fmt.Fprintln(w, "|---|---:|---:|")
	base := r.hitNs["redisnear Get"]
	for _, name := range []string{"redisnear Get", "rueidis client-side cache (DoCache)", "Redis GET (rueidis Do)"} {
		fmt.Fprintf(w, "| %s | %.0f | %.2f× |\n", name, r.hitNs[name], r.hitNs[name]/base)
	}
	fmt.Fprintf(w, "\n%d processes each read every key once:\n\n", r.procs)
	fmt.Fprintln(w, "| cache | GETs that reached Redis | per key | memory of the copies |")
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	for _, mode := range []string{"redisnear", "rueidis-csc"} {
		what := "redisnear (one table for the host; its allocated blocks)"
		if mode == "rueidis-csc" {
			what = "rueidis client-side cache (one per process; each process's heap growth while it read, client included, summed)"
		}
		fmt.Fprintf(w, "| %s | %d | %.2f | %d KiB |\n", what, r.gets[mode], float64(r.gets[mode])/nearKeys, r.bytes[mode]>>10)
	}
}
