package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/shmkv/shmkv/kv"
	"golang.org/x/sync/singleflight"
)

// The stampede: procs worker processes, each with goroutines goroutines,
// all miss the same key at the same moment, keys times over, and each miss
// is filled by a load that takes loadTime. Counted is how many loads run:
// with shmkv's GetOrLoad, one per key for the whole host; with a cache per
// process in front of golang.org/x/sync/singleflight, one per key per
// process.

// stampedeJob is what a stampede worker is told, through stampedeEnv.
type stampedeJob struct {
	Mode       string // "shmkv" or "singleflight"
	Table      string // the shmkv table; also where loads are counted
	Keys       int
	Goroutines int
	LoadTime   time.Duration
	Round      time.Duration // every round's misses start at StartAt + i*Round
	StartAt    int64
}

const stampedeEnv = "BENCH_STAMPEDE_WORKER"

// stampedeResult is one mode's count.
type stampedeResult struct {
	Mode        string
	Procs, Keys int
	Loads       int64
}

// runStampede runs both modes and returns their counts.
func runStampede(procs, goroutines, keys int, loadTime time.Duration) ([]stampedeResult, error) {
	var rs []stampedeResult
	for _, mode := range []string{"shmkv", "singleflight"} {
		name := fmt.Sprintf("shmkv-stampede-%d", os.Getpid())
		kv.Remove(name)
		t, err := kv.Open(name, &kv.Options{MaxMemory: 16 << 20, Exclusive: true})
		if err != nil {
			return nil, err
		}
		job := stampedeJob{Mode: mode, Table: name, Keys: keys, Goroutines: goroutines, LoadTime: loadTime,
			Round: 4 * loadTime, StartAt: time.Now().Add(time.Second).UnixNano()}
		err = runStampedeWorkers(procs, job)
		loads, _ := t.Add([]byte("loads"), 0)
		t.Close()
		kv.Remove(name)
		if err != nil {
			return nil, err
		}
		rs = append(rs, stampedeResult{Mode: mode, Procs: procs, Keys: keys, Loads: loads})
	}
	return rs, nil
}

func runStampedeWorkers(procs int, job stampedeJob) error {
	b, _ := json.Marshal(job)
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), stampedeEnv+"="+string(b))
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				errs <- fmt.Errorf("stampede worker: %v", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// runStampedeWorker is the body of a worker process.
func runStampedeWorker(spec string) error {
	var j stampedeJob
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		return err
	}
	t, err := kv.Open(j.Table, &kv.Options{NoCreate: true})
	if err != nil {
		return err
	}
	defer t.Close()
	load := func() ([]byte, error) {
		if _, err := t.Add([]byte("loads"), 1); err != nil {
			return nil, err
		}
		time.Sleep(j.LoadTime)
		return []byte("loaded"), nil
	}
	loader := func(context.Context, []byte) ([]byte, time.Duration, error) {
		v, err := load()
		return v, 0, err
	}
	// The per-process alternative: a map in front of singleflight.
	var group singleflight.Group
	var mu sync.Mutex
	local := map[string][]byte{}
	getLocal := func(key string) error {
		mu.Lock()
		_, ok := local[key]
		mu.Unlock()
		if ok {
			return nil
		}
		_, err, _ := group.Do(key, func() (any, error) {
			v, err := load()
			if err == nil {
				// Stored before Do returns, so that no caller misses after it.
				mu.Lock()
				local[key] = v
				mu.Unlock()
			}
			return v, err
		})
		return err
	}
	ctx := context.Background()
	for i := range j.Keys {
		key := fmt.Sprint("key-", i)
		time.Sleep(time.Until(time.Unix(0, j.StartAt).Add(time.Duration(i) * j.Round)))
		var wg sync.WaitGroup
		errs := make(chan error, j.Goroutines)
		for range j.Goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if j.Mode == "shmkv" {
					_, err = t.GetOrLoad(ctx, nil, []byte(key), loader)
				} else {
					err = getLocal(key)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// writeStampede writes the counts as a Markdown table.
func writeStampede(w io.Writer, rs []stampedeResult, goroutines int, loadTime time.Duration) {
	fmt.Fprintf(w, "%d processes of %d goroutines miss each of %d keys at the same moment; each load takes %v.\n\n",
		rs[0].Procs, goroutines, rs[0].Keys, loadTime)
	fmt.Fprintln(w, "| fill | loads | loads per key |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, r := range rs {
		what := "shmkv GetOrLoad (one per host)"
		if r.Mode == "singleflight" {
			what = "a cache per process with x/sync/singleflight"
		}
		fmt.Fprintf(w, "| %s | %d | %.2f |\n", what, r.Loads, float64(r.Loads)/float64(r.Keys))
	}
}
