package fuzz

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/shmkv/shmkv/kv"
)

// FuzzOps decodes the fuzzer's bytes into a sequence of operations on a
// small table and checks every answer against a map.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 5, 1, 1, 0, 2, 1, 3, 1, 2})
	f.Add(bytes.Repeat([]byte{0, 7, 200, 1, 7, 2, 7}, 40))
	f.Add(bytes.Repeat([]byte{0, 3, 250, 2, 3, 4, 3, 0}, 60))
	f.Fuzz(func(t *testing.T, prog []byte) {
		tb, err := kv.Open(uniqueName(t), small)
		if err != nil {
			t.Fatal(err)
		}
		defer tb.Close()
		model := map[string]string{}
		next := func() byte {
			if len(prog) == 0 {
				return 0
			}
			b := prog[0]
			prog = prog[1:]
			return b
		}
		for step := 0; len(prog) > 0; step++ {
			op, kb := next(), next()
			key := []byte{'k', kb % 32}
			if kb >= 224 {
				key = bytes.Repeat([]byte{kb}, 1+int(kb)%64)
			}
			want, has := model[string(key)]
			value := func() []byte {
				n := next()
				if n%5 == 0 {
					return strconv.AppendInt(nil, int64(n)-100, 10)
				}
				return bytes.Repeat([]byte{n}, int(n))
			}
			switch op % 12 {
			case 0:
				v := value()
				err := tb.Set(key, v)
				if err == nil {
					model[string(key)] = string(v)
				} else if err != kv.ErrFull {
					t.Fatalf("step %d: Set: %v", step, err)
				}
			case 1:
				got, ok, err := tb.Get(nil, key)
				if err != nil || ok != has || string(got) != want {
					t.Fatalf("step %d: Get = %q, %v, %v; model %q, %v", step, got, ok, err, want, has)
				}
			case 2:
				del, err := tb.Delete(key)
				if err != nil || del != has {
					t.Fatalf("step %d: Delete = %v, %v; model %v", step, del, err, has)
				}
				delete(model, string(key))
			case 3:
				d := int64(int8(next()))
				n, err := tb.Add(key, d)
				cur, perr := int64(0), error(nil)
				if has {
					cur, perr = strconv.ParseInt(want, 10, 64)
					if perr == nil && strconv.FormatInt(cur, 10) != want {
						perr = kv.ErrNotNumber // "+1", "01": Redis's strict form only
					}
				}
				switch {
				case perr != nil:
					if !errors.Is(err, kv.ErrNotNumber) {
						t.Fatalf("step %d: Add on %q = %v, want ErrNotNumber", step, want, err)
					}
				case err == kv.ErrFull:
				case err != nil || n != cur+d:
					t.Fatalf("step %d: Add = %d, %v; want %d", step, n, err, cur+d)
				default:
					model[string(key)] = strconv.FormatInt(n, 10)
				}
			case 4:
				old := []byte(want)
				if next()%2 == 0 {
					old = value()
				}
				nv := value()
				swapped, err := tb.CompareAndSwap(key, old, nv)
				wantSwap := has && string(old) == want
				if err == kv.ErrFull && wantSwap {
					break
				}
				if err != nil || swapped != wantSwap {
					t.Fatalf("step %d: CompareAndSwap = %v, %v; want %v", step, swapped, err, wantSwap)
				}
				if swapped {
					model[string(key)] = string(nv)
				}
			case 5:
				v := value()
				stored, err := tb.SetIfAbsent(key, v)
				if err == kv.ErrFull && !has {
					break
				}
				if err != nil || stored == has {
					t.Fatalf("step %d: SetIfAbsent = %v, %v; present %v", step, stored, err, has)
				}
				if stored {
					model[string(key)] = string(v)
				}
			case 7:
				loaded := false
				got, err := tb.GetOrLoad(context.Background(), nil, key, func(context.Context, []byte) ([]byte, time.Duration, error) {
					loaded = true
					return value(), 0, nil
				})
				switch {
				case has && (loaded || err != nil || string(got) != want):
					t.Fatalf("step %d: GetOrLoad of a present key = %q, %v, loaded %v; model %q", step, got, err, loaded, want)
				case !has && !loaded:
					t.Fatalf("step %d: GetOrLoad of an absent key did not load: %q, %v", step, got, err)
				case !has && err == nil:
					model[string(key)] = string(got)
				case !has && err != kv.ErrFull:
					t.Fatalf("step %d: GetOrLoad = %q, %v", step, got, err)
				}
			case 9:
				old := []byte(want)
				if next()%2 == 0 {
					old = value()
				}
				del, err := tb.CompareAndDelete(key, old)
				wantDel := has && string(old) == want
				if err != nil || del != wantDel {
					t.Fatalf("step %d: CompareAndDelete = %v, %v; want %v", step, del, err, wantDel)
				}
				if del {
					delete(model, string(key))
				}
			case 10:
				// The TTL forms, with a time no run reaches.
				v := value()
				if next()%2 == 0 {
					stored, err := tb.SetIfAbsentTTL(key, v, time.Hour)
					if err == kv.ErrFull && !has {
						break
					}
					if err != nil || stored == has {
						t.Fatalf("step %d: SetIfAbsentTTL = %v, %v; present %v", step, stored, err, has)
					}
					if stored {
						model[string(key)] = string(v)
					}
					break
				}
				old := []byte(want)
				if next()%2 == 0 {
					old = value()
				}
				swapped, err := tb.CompareAndSwapTTL(key, old, v, time.Hour)
				wantSwap := has && string(old) == want
				if err == kv.ErrFull && wantSwap {
					break
				}
				if err != nil || swapped != wantSwap {
					t.Fatalf("step %d: CompareAndSwapTTL = %v, %v; want %v", step, swapped, err, wantSwap)
				}
				if swapped {
					model[string(key)] = string(v)
				}
			case 11:
				ttl := time.Duration(next()%2) * time.Hour
				found, err := tb.Touch(key, ttl)
				if err == kv.ErrFull && has {
					break
				}
				if err != nil || found != has {
					t.Fatalf("step %d: Touch(%v) = %v, %v; present %v", step, ttl, found, err, has)
				}
			case 8:
				del, err := tb.Invalidate(key)
				if err != nil || del != has {
					t.Fatalf("step %d: Invalidate = %v, %v; model %v", step, del, err, has)
				}
				delete(model, string(key))
			case 6:
				seen := map[string]string{}
				if next()%2 == 0 {
					if err := tb.Range(func(k, v []byte) bool { seen[string(k)] = string(v); return true }); err != nil {
						t.Fatal(err)
					}
				} else {
					var err error
					for k, v := range tb.All(&err) {
						seen[string(k)] = string(v)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if len(seen) != len(model) {
					t.Fatalf("step %d: Range saw %d, model %d", step, len(seen), len(model))
				}
				for k, v := range model {
					if seen[k] != v {
						t.Fatalf("step %d: Range %q = %q, model %q", step, k, seen[k], v)
					}
				}
			}
		}
		rep, err := tb.Check()
		if err != nil || len(rep.Problems) > 0 || rep.Entries != len(model) {
			t.Fatalf("Check: %v %v, %d entries, model %d", err, rep.Problems, rep.Entries, len(model))
		}
	})
}
