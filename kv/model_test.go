package kv

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
)

var (
	modelOps  = flag.Int("kv.model.ops", 20000, "operations per model test run")
	modelSeed = flag.Uint64("kv.model.seed", 0, "seed for the model test (0: from the clock)")
)

// TestModel runs long random sequences of every operation against a Go map
// and requires every answer to be equal. The key space fits the table, so
// ErrFull is a failure here; the small data area makes the log wrap and
// clean over and over, and deletes make tombstones and index rebuilds.
func TestModel(t *testing.T) {
	t.Parallel()
	seed := testproc.Seed(t, *modelSeed, "kv.model.seed")
	for _, geo := range []struct {
		name    string
		opts    Options
		keys    int
		maxVal  int
		bigKeys bool
	}{
		{"one shard", Options{Keys: 300, Memory: 300 * 120, MaxKeySize: 64, MaxValueSize: 200}, 200, 200, false},
		{"many shards", Options{Keys: 40000, Memory: 40000 * 60, MaxKeySize: 64, MaxValueSize: 100}, 2000, 100, false},
		{"large entries", Options{Keys: 64, Memory: 64 * 5000, MaxKeySize: 4096, MaxValueSize: 8192}, 40, 8192, true},
	} {
		t.Run(geo.name, func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, geo.opts, geo.keys, geo.maxVal, geo.bigKeys)
		})
	}
}

func runModel(t *testing.T, seed uint64, opts Options, nkeys, maxVal int, bigKeys bool) {
	rng := rand.New(rand.NewPCG(seed, 7))
	name := uniqueName(t)
	tb := openTable(t, name, &opts)
	model := map[string]string{}
	keyOf := func() []byte {
		i := rng.IntN(nkeys)
		if bigKeys {
			return bytes.Repeat([]byte{byte(i), byte(i >> 8), 0}, 1+i*37%1300)
		}
		return fmt.Appendf(nil, "key-%d", i)
	}
	valueOf := func() []byte {
		switch rng.IntN(4) {
		case 0:
			return strconv.AppendInt(nil, rng.Int64N(2000)-1000, 10)
		case 1:
			return nil
		default:
			v := make([]byte, rng.IntN(maxVal+1))
			for i := range v {
				v[i] = byte(rng.IntN(256))
			}
			return v
		}
	}
	fail := func(step int, format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, step %d: %s", seed, step, fmt.Sprintf(format, args...))
	}
	var buf []byte
	for step := range *modelOps {
		k := keyOf()
		want, has := model[string(k)]
		switch op := rng.IntN(106); {
		case op < 30:
			v := valueOf()
			if err := tb.Set(k, v); err != nil {
				fail(step, "Set: %v", err)
			}
			model[string(k)] = string(v)
		case op < 60:
			var ok bool
			var err error
			buf, ok, err = tb.Get(buf[:0], k)
			if err != nil || ok != has || string(buf) != want {
				fail(step, "Get = %q, %v, %v; model %q, %v", buf, ok, err, want, has)
			}
		case op < 72:
			del, err := tb.Delete(k)
			if err != nil || del != has {
				fail(step, "Delete = %v, %v; model %v", del, err, has)
			}
			delete(model, string(k))
		case op < 80:
			d := rng.Int64N(100) - 50
			n, err := tb.Add(k, d)
			cur, perr := int64(0), error(nil)
			if has {
				if _, ok := parseInt([]byte(want)); !ok {
					perr = ErrNotNumber
				} else {
					cur, _ = strconv.ParseInt(want, 10, 64)
				}
			}
			if perr != nil {
				if !errors.Is(err, ErrNotNumber) {
					fail(step, "Add on %q = %d, %v; want ErrNotNumber", want, n, err)
				}
				break
			}
			if err != nil || n != cur+d {
				fail(step, "Add(%d) on %q = %d, %v", d, want, n, err)
			}
			model[string(k)] = strconv.FormatInt(n, 10)
		case op < 88:
			old := []byte(want)
			if rng.IntN(3) == 0 {
				old = valueOf()
			}
			nv := valueOf()
			swapped, err := tb.CompareAndSwap(k, old, nv)
			wantSwap := has && string(old) == want
			if err != nil || swapped != wantSwap {
				fail(step, "CompareAndSwap = %v, %v; want %v", swapped, err, wantSwap)
			}
			if wantSwap {
				model[string(k)] = string(nv)
			}
		case op < 94:
			v := valueOf()
			stored, err := tb.SetIfAbsent(k, v)
			if err != nil || stored == has {
				fail(step, "SetIfAbsent = %v, %v; key present %v", stored, err, has)
			}
			if !has {
				model[string(k)] = string(v)
			}
		case op < 96:
			if got := snapshotAll(t, tb); !maps.Equal(got, model) {
				fail(step, "Range saw %d entries, model has %d", len(got), len(model))
			}
		case op < 98:
			if tb.Len() != len(model) {
				fail(step, "Len = %d, model %d", tb.Len(), len(model))
			}
		case op < 100:
			tb.Close()
			tb = openTable(t, name, nil)
		case op < 102:
			old := []byte(want)
			if rng.IntN(3) == 0 {
				old = valueOf()
			}
			deleted, err := tb.CompareAndDelete(k, old)
			wantDel := has && string(old) == want
			if err != nil || deleted != wantDel {
				fail(step, "CompareAndDelete = %v, %v; want %v", deleted, err, wantDel)
			}
			if wantDel {
				delete(model, string(k))
			}
		default:
			// The TTL forms, with a time to live no run reaches: to the
			// model, the forms without.
			switch rng.IntN(3) {
			case 0:
				v := valueOf()
				stored, err := tb.SetIfAbsentTTL(k, v, time.Hour)
				if err != nil || stored == has {
					fail(step, "SetIfAbsentTTL = %v, %v; key present %v", stored, err, has)
				}
				if !has {
					model[string(k)] = string(v)
				}
			case 1:
				old := []byte(want)
				if rng.IntN(3) == 0 {
					old = valueOf()
				}
				nv := valueOf()
				swapped, err := tb.CompareAndSwapTTL(k, old, nv, time.Hour)
				wantSwap := has && string(old) == want
				if err != nil || swapped != wantSwap {
					fail(step, "CompareAndSwapTTL = %v, %v; want %v", swapped, err, wantSwap)
				}
				if wantSwap {
					model[string(k)] = string(nv)
				}
			default:
				ttl := time.Hour
				if rng.IntN(2) == 0 {
					ttl = 0
				}
				found, err := tb.Touch(k, ttl)
				if err != nil || found != has {
					fail(step, "Touch(%v) = %v, %v; key present %v", ttl, found, err, has)
				}
			}
		}
		if step%2000 == 0 {
			if rep := mustCheck(t, tb); rep.Entries != len(model) {
				fail(step, "Check counted %d entries, model %d", rep.Entries, len(model))
			}
		}
	}
	if got := snapshotAll(t, tb); !maps.Equal(got, model) {
		t.Fatalf("seed %d: final Range differs from the model", seed)
	}
	mustCheck(t, tb)
	var st Stats
	tb.Stats(&st)
	t.Logf("%d ops: %d entries, %d sets, %d deletes, %d index rebuilds", *modelOps, st.Entries, st.Sets, st.Deletes, st.Rebuilds)
}
