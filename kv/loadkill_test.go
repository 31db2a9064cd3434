//go:build shmkvfail

package kv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// Kill sweep of the load claims (load.go): a child process runs one
// GetOrLoad and kills itself just before its Nth store to the region, for
// every N: the take of the claim (of a free record, or over a dead
// loader's), the store of the value, and the claim's end, the one
// compare-and-swap that ends a claim with or without the lock. After each
// death a GetOrLoad of the key in this process, another process than the
// dead loader, must answer within a bound: with the child's value if its
// store landed, and without a load then; otherwise with its own load, run
// once. And Check is clean.

func init() {
	rawChildren["load-kill"] = childLoadKill
}

// childLoadKill: args name variant crash-at. Opens the table, arms the
// failpoint, and calls GetOrLoad("loaded") with a load that returns
// "child value"; prints the stores it made. The variants:
//   - stored, takeover: the load's value is stored (takeover: over a claim
//     the test left held by a dead loader);
//   - failed: the load fails, so nothing is stored;
//   - timeout: the load first takes the key's shard lock through a second
//     handle, which holds it; the store, with a LockTimeout of 1 ns, times
//     out after one sleep, and the claim ends without the lock.
func childLoadKill(args []string) error {
	name, variant := args[0], args[1]
	at, _ := strconv.ParseInt(args[2], 10, 64)
	o := &Options{NoCreate: true}
	if variant == "timeout" {
		// One sleep on the lock word, then ErrLockTimeout: a fixed number
		// of stores (the lock-wait and waiter counts), for every run.
		o.LockTimeout = time.Nanosecond
	}
	tb, err := Open(name, o)
	if err != nil {
		return err
	}
	defer tb.Close()
	key := []byte("loaded")
	var holder *Table
	var held *shard
	if variant == "timeout" {
		if holder, err = Open(name, &Options{NoCreate: true}); err != nil {
			return err
		}
		defer holder.Close()
		holder.stopFlusher()
	}
	errLoad := errors.New("the load failed")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	arm(tb, at)
	v, err := tb.GetOrLoad(ctx, nil, key, func(context.Context, []byte) ([]byte, time.Duration, error) {
		if holder != nil {
			held = holder.shardFor(format.HashKey(holder.g.Seed, key))
			if err := holder.lockShard(held); err != nil {
				return nil, 0, err
			}
		}
		if variant == "failed" {
			return nil, 0, errLoad
		}
		return []byte("child value"), 0, nil
	})
	failpoint.CrashAt.Store(0)
	if held != nil {
		holder.unlock(held)
	}
	switch {
	case variant == "failed" && !errors.Is(err, errLoad),
		variant == "timeout" && (!errors.Is(err, ErrLockTimeout) || string(v) != "child value"),
		(variant == "stored" || variant == "takeover") && (err != nil || string(v) != "child value"):
		return fmt.Errorf("GetOrLoad = %q, %v", v, err)
	}
	fmt.Println(failpoint.Steps.Load())
	return nil
}

func loadKillEnv(name, variant string, at int64) []string {
	return []string{"SHMKV_RAW_CHILD=load-kill", "SHMKV_ARGS=" + name + " " + variant + " " + strconv.FormatInt(at, 10)}
}

func TestKillSweepGetOrLoad(t *testing.T) {
	for _, variant := range []string{"stored", "failed", "timeout", "takeover"} {
		t.Run(variant, func(t *testing.T) {
			name := uniqueName(t)
			tb := openTable(t, name, small)
			tb.stopFlusher() // its ticks would change the object between a restore and the child's run
			mustSet(t, tb, "other", "v")
			if variant == "takeover" {
				path, _ := loadLog(t)
				now := strconv.FormatInt(time.Now().UnixNano(), 10)
				dead := startChild(t, "get-or-load", name, "loaded", now, path, "1h")
				dead.Expect(t, "loading")
				dead.Kill()
				if held := heldClaims(tb, "loaded"); len(held) != 1 {
					t.Fatalf("%d claims held after the loader's death, want 1", len(held))
				}
			}
			img := image(t, name)
			stores := childValueFrom(variant)

			out, killed := runKillable(t, loadKillEnv(name, variant, -1))
			steps, err := strconv.Atoi(strings.TrimSpace(out))
			if killed || err != nil || steps < 2 {
				t.Fatalf("counting run: %q, killed %v", out, killed)
			}
			t.Logf("%d stores", steps)
			if got := afterLoader(t, tb); (got == "child value") != stores {
				t.Fatalf("after the uninterrupted loader: %q", got)
			}
			sawChild, sawOwn := false, false
			for n := 1; n <= steps; n++ {
				restore(t, name, img)
				if out, killed := runKillable(t, loadKillEnv(name, variant, int64(n))); !killed {
					t.Fatalf("step %d: the child was not killed: it made %s stores, the counting run %d", n, strings.TrimSpace(out), steps)
				}
				switch got := afterLoader(t, tb); got {
				case "child value":
					if !stores {
						t.Fatalf("step %d: the child's value was stored", n)
					}
					sawChild = true
				default:
					if sawChild {
						t.Fatalf("step %d: the child's value, stored at an earlier step, is not there", n)
					}
					sawOwn = true
				}
				if rep := mustCheck(t, tb); len(rep.Problems) > 0 {
					t.Fatalf("step %d: Check found problems", n)
				}
			}
			if !sawOwn || stores && !sawChild {
				t.Errorf("the sweep saw the child's value %v, a load of its own %v", sawChild, sawOwn)
			}
		})
	}
}

// childValueFrom reports whether the variant's child stores its value.
func childValueFrom(variant string) bool {
	return variant == "stored" || variant == "takeover"
}

// afterLoader, once the loading child is gone, calls GetOrLoad("loaded")
// in tb, and checks that it answered within a second: with a stored
// value and no load, or with one load of its own, stored. It returns the
// value.
func afterLoader(t *testing.T, tb *Table) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	loads := 0
	begin := time.Now()
	v, err := getOrLoad(tb, ctx, nil, []byte("loaded"), 0, func() ([]byte, error) {
		loads++
		return []byte("own value"), nil
	})
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("GetOrLoad after the loader's death: %v after %v", err, took)
	}
	if took > time.Second {
		t.Errorf("GetOrLoad after the loader's death took %v", took)
	}
	switch got := string(v); {
	case got == "own value" && loads == 1, got == "child value" && loads == 0:
	default:
		t.Fatalf("GetOrLoad after the loader's death = %q with %d loads", got, loads)
	}
	if got, found := mustGet(t, tb, "loaded"); got != string(v) || !found {
		t.Errorf("stored after GetOrLoad: %q, %v; want %q", got, found, v)
	}
	if got, _ := mustGet(t, tb, "other"); got != "v" {
		t.Errorf("other = %q", got)
	}
	for _, c := range heldClaims(tb, "loaded") {
		if c.owner() == tb.owner {
			t.Errorf("this handle still holds a claim after its GetOrLoad")
		}
	}
	return string(v)
}
