package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
)

// TestConcurrentModel is the model test with many goroutines on one
// handle, as bbolt's simulation tests run many against one database. Each
// operation holds its key's lock in the model while it runs on the table,
// so operations on one key are ordered and checked exactly against the
// model, while operations on different keys, which share shards, race on
// the table as they would in a program. Beside them, unsynchronised Range,
// Len, Stats and Check calls must never fail, and Check never find a
// problem. Run it under -race.
func TestConcurrentModel(t *testing.T) {
	t.Parallel()
	seed := testproc.Seed(t, *modelSeed, "kv.model.seed")
	const workers, nkeys = 6, 96
	tb := newTable(t, &Options{Keys: 400, Memory: 400 * 120, MaxKeySize: 32, MaxValueSize: 200})
	var locks [nkeys]sync.Mutex
	model := make([]*string, nkeys) // nil: absent; guarded by locks[i]
	ops := max(*modelOps/workers, 1000)

	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var buf []byte
			for step := range ops {
				i := rng.IntN(nkeys)
				k := fmt.Appendf(nil, "key-%d", i)
				locks[i].Lock()
				err := concurrentStep(tb, rng, k, &model[i], &buf)
				locks[i].Unlock()
				if err != nil {
					errs <- fmt.Errorf("seed %d, worker %d, step %d, key %s: %v", seed, w, step, k, err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		var st Stats
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := tb.Range(func(k, v []byte) bool { return true }); err != nil {
				errs <- fmt.Errorf("Range: %v", err)
				return
			}
			if n := tb.Len(); n < 0 || n > nkeys {
				errs <- fmt.Errorf("Len = %d", n)
				return
			}
			if err := tb.Stats(&st); err != nil {
				errs <- fmt.Errorf("Stats: %v", err)
				return
			}
			if rep, err := tb.Check(); err != nil || len(rep.Problems) > 0 {
				errs <- fmt.Errorf("Check: %v, %v", err, rep.Problems)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	watcher.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, v := range model {
		got, ok := mustGet(t, tb, fmt.Sprint("key-", i))
		if (v != nil) != ok || (ok && got != *v) {
			t.Fatalf("key-%d = %q, %v at the end; model %v", i, got, ok, v)
		}
	}
	mustCheck(t, tb)
}

// concurrentStep runs one random operation on k, whose model value is *m,
// and checks the answer against the model.
func concurrentStep(tb *Table, rng *rand.Rand, k []byte, m **string, buf *[]byte) error {
	value := func() string {
		if rng.IntN(3) == 0 {
			return strconv.Itoa(rng.IntN(100))
		}
		return string(make([]byte, rng.IntN(200)))
	}
	switch op := rng.IntN(10); {
	case op < 3:
		v := value()
		if err := tb.Set(k, []byte(v)); err != nil {
			return err
		}
		*m = &v
	case op < 6:
		got, ok, err := tb.Get((*buf)[:0], k)
		*buf = got
		if err != nil || ok != (*m != nil) || (ok && string(got) != **m) {
			return fmt.Errorf("Get = %q, %v, %v; model %v", got, ok, err, *m)
		}
	case op < 7:
		del, err := tb.Delete(k)
		if err != nil || del != (*m != nil) {
			return fmt.Errorf("Delete = %v, %v; model %v", del, err, *m)
		}
		*m = nil
	case op < 8:
		n, err := tb.Add(k, 3)
		cur, numeric := int64(0), true
		if *m != nil {
			cur, numeric = parseInt([]byte(**m))
		}
		switch {
		case !numeric:
			if !errors.Is(err, ErrNotNumber) {
				return fmt.Errorf("Add on %q = %d, %v", **m, n, err)
			}
		case err != nil || n != cur+3:
			return fmt.Errorf("Add = %d, %v; model %v", n, err, *m)
		default:
			s := strconv.FormatInt(n, 10)
			*m = &s
		}
	case op < 9:
		old, nv := "", value()
		if *m != nil && rng.IntN(2) == 0 {
			old = **m
		}
		swapped, err := tb.CompareAndSwap(k, []byte(old), []byte(nv))
		if err != nil || swapped != (*m != nil && **m == old) {
			return fmt.Errorf("CompareAndSwap = %v, %v; model %v", swapped, err, *m)
		}
		if swapped {
			*m = &nv
		}
	default:
		v := value()
		stored, err := tb.SetIfAbsent(k, []byte(v))
		if err != nil || stored != (*m == nil) {
			return fmt.Errorf("SetIfAbsent = %v, %v; model %v", stored, err, *m)
		}
		if stored {
			*m = &v
		}
	}
	return nil
}
