package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Result is one cell's figures.
type Result struct {
	Cell
	Shareable bool    `json:"shareable"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// OpsMin and OpsMax are the lowest and highest throughput of the runs
	// whose median OpsPerSec is.
	OpsMin        float64 `json:"ops_min_per_sec"`
	OpsMax        float64 `json:"ops_max_per_sec"`
	P50           int64   `json:"p50_ns"`
	P99           int64   `json:"p99_ns"`
	P999          int64   `json:"p999_ns"`
	BytesPerEntry float64 `json:"bytes_per_entry"`
	Skipped       string  `json:"skipped,omitempty"`
}

// workerJob is what a worker process is told, through BENCH_WORKER.
type workerJob struct {
	Cell     Cell
	Target   string
	StartAt  int64 // Unix nanoseconds: every worker starts together
	Duration time.Duration
	Seed     uint64
}

// workerResult is what a worker reports on its standard output.
type workerResult struct {
	Ops     int64
	Elapsed time.Duration
	Hist    hist
	Err     string
}

const workerEnv = "BENCH_WORKER"

// sampleOps is about how many operations pass between latency samples:
// reading the clock for every operation would cost more than shmkv's Get
// (about 40 ns a reading on a VM).
const sampleOps = 64

// work runs one worker's share of a cell against a client. Everything it
// needs is prepared before the common start (newSchedule), so that the
// clock runs over the operations and little else.
func work(cl client, c Cell, start time.Time, d time.Duration, seed uint64) workerResult {
	sched := newSchedule(c, seed)
	batch := make([]request, cl.batchSize())
	sampleEvery := max(1, sampleOps/len(batch))
	value := valueOf(c.ValueSize)
	var res workerResult
	time.Sleep(time.Until(start))
	// Warm-up, off the clock: a worker's first operations pay for cold
	// caches, page faults and branch predictors, which a steady user has
	// long paid. Every worker warms up for as long, so they still measure
	// together.
	op := 0
	for n, warm := 0, start.Add(warmUp(d)); n%256 != 0 || time.Now().Before(warm); n++ {
		for i := range batch {
			kind, key := sched.next(op)
			op++
			batch[i] = request{kind: kind, key: key, value: value}
		}
		if err := cl.do(batch); err != nil {
			res.Err = err.Error()
			return res
		}
	}
	begin := time.Now()
	deadline := begin.Add(d)
	for n := 0; ; n++ {
		if n%256 == 0 && time.Now().After(deadline) {
			break
		}
		for i := range batch {
			kind, key := sched.next(op)
			op++
			batch[i] = request{kind: kind, key: key, value: value}
		}
		var t0 time.Time
		if n%sampleEvery == 0 {
			t0 = time.Now()
		}
		if err := cl.do(batch); err != nil {
			res.Err = err.Error()
			break
		}
		if n%sampleEvery == 0 {
			res.Hist.add(time.Since(t0))
		}
		res.Ops += int64(len(batch))
	}
	res.Elapsed = time.Since(begin)
	return res
}

// warmUp is how long a worker runs before a measurement of d starts.
func warmUp(d time.Duration) time.Duration { return d / 5 }

// runWorkerProcess is the body of a re-executed worker process.
func runWorkerProcess(job string) {
	var j workerJob
	res := workerResult{}
	if err := json.Unmarshal([]byte(job), &j); err != nil {
		res.Err = err.Error()
	} else if st := storeNamed(j.Cell.Store); st == nil {
		res.Err = "unknown store " + j.Cell.Store
	} else if cl, err := st.connect(j.Target); err != nil {
		res.Err = err.Error()
	} else {
		res = work(cl, j.Cell, time.Unix(0, j.StartAt), j.Duration, j.Seed)
		cl.close()
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

func storeNamed(name string) store {
	for _, s := range allStores() {
		if s.name() == name {
			return s
		}
	}
	return nil
}

// measure runs one cell: worker processes for a shareable store,
// goroutines for the others.
func measure(st store, target string, c Cell, d time.Duration) (Result, error) {
	r := Result{Cell: c, Shareable: st.shareable()}
	// Every worker starts at the same moment, after process start-up and
	// its schedule (about a second for a million keys).
	start := time.Now().Add(300*time.Millisecond + time.Duration(c.Keys)*time.Microsecond)
	results := make([]workerResult, c.Workers)
	var wg sync.WaitGroup
	errs := make(chan error, c.Workers)
	for w := range c.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seed := uint64(time.Now().UnixNano()) + uint64(w)*7919
			if !st.shareable() {
				cl, err := st.connect(target)
				if err != nil {
					errs <- err
					return
				}
				results[w] = work(cl, c, start, d, seed)
				cl.close()
				return
			}
			job, _ := json.Marshal(workerJob{Cell: c, Target: target, StartAt: start.UnixNano(), Duration: d, Seed: seed})
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), workerEnv+"="+string(job))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				errs <- fmt.Errorf("worker: %v", err)
				return
			}
			if err := json.NewDecoder(bytes.NewReader(out)).Decode(&results[w]); err != nil {
				errs <- fmt.Errorf("worker said %q: %v", out, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return r, err
	}
	var h hist
	var ops int64
	var longest time.Duration
	for _, w := range results {
		if w.Err != "" {
			return r, fmt.Errorf("worker: %s", w.Err)
		}
		ops += w.Ops
		longest = max(longest, w.Elapsed)
		h.merge(&w.Hist)
	}
	r.OpsPerSec = float64(ops) / longest.Seconds()
	r.P50, r.P99, r.P999 = int64(h.quantile(0.5)), int64(h.quantile(0.99)), int64(h.quantile(0.999))
	return r, nil
}
