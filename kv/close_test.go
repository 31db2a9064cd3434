package kv

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestCloseRacingCalls: goroutines are inside calls on a handle, waiting
// for shard locks that another handle holds, when the handle is closed and
// another table is opened at once in the same process, where the kernel
// may hand it the closed table's addresses. Before Close revoked the
// mapping, the waiters then took "their" lock word in the new table and
// wrote into it. Now every racing call returns nil or ErrClosed, and the
// new table holds exactly what was written to it.
func TestCloseRacingCalls(t *testing.T) {
	const rounds = 20
	for round := range rounds {
		name := uniqueName(t)
		a := openTable(t, name, small)
		holder := openTable(t, name, small)
		for i := range holder.shards {
			if err := holder.lockShard(&holder.shards[i]); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					k := []byte(fmt.Sprint("a", (i*7+g)%50))
					var err error
					switch (i + g) % 3 {
					case 0:
						err = a.Set(k, []byte("racing write"))
					case 1:
						_, err = a.Add([]byte(fmt.Sprint("n", g)), 1)
					case 2:
						_, err = a.Delete(k)
					}
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						errs <- fmt.Errorf("round %d: racing call: %v", round, err)
						return
					}
				}
			}()
		}
		time.Sleep(30 * time.Millisecond) // the writers are asleep on the locks
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		b := newTable(t, small)
		for i := range 50 {
			mustSet(t, b, fmt.Sprint("a", i), "from b")
		}
		for i := range holder.shards {
			holder.unlock(&holder.shards[i])
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // any late write would have landed
		for i := range 50 {
			if v, ok := mustGet(t, b, fmt.Sprint("a", i)); !ok || v != "from b" {
				t.Fatalf("round %d: b's a%d = %q, %v", round, i, v, ok)
			}
		}
		if n := b.Len(); n != 50 {
			t.Fatalf("round %d: b holds %d keys, want 50", round, n)
		}
		mustCheck(t, b)
		b.Close()
		holder.Close()
	}
}
