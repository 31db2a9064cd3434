package kv

import (
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

func init() {
	children["set"] = func(tb *Table, args []string) error { return tb.Set([]byte(args[0]), []byte(args[1])) }
}

// TestKilledWaiterUncounted: a process killed while asleep on a shard's
// lock left the waiter count raised for good, and every later unlock paid
// a wake syscall. Now the first unlock that finds nobody to wake clears it.
func TestKilledWaiterUncounted(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, small)
	h := format.HashKey(tb.g.Seed, []byte("k"))
	s := tb.shardFor(h)
	if err := tb.lockShard(s); err != nil {
		t.Fatal(err)
	}
	waiter := testproc.Start(t, "SHMKV_CHILD=set", "SHMKV_ARGS="+name+" k v")
	deadline := time.Now().Add(5 * time.Second)
	for s.ctlLoad(format.CtlWaiters) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the child never slept on the lock")
		}
		time.Sleep(time.Millisecond)
	}
	waiter.Kill()
	if n := s.ctlLoad(format.CtlWaiters); n != 1 {
		t.Fatalf("waiter count %d after the waiter died, want its stale 1", n)
	}
	tb.unlock(s)
	if n := s.ctlLoad(format.CtlWaiters); n != 0 {
		t.Fatalf("waiter count %d after an unlock that woke nobody", n)
	}
	// A waiter the reset undercounts leaves the count at zero, not below.
	s.leaveWaiters()
	if n := s.ctlLoad(format.CtlWaiters); n != 0 {
		t.Fatalf("waiter count %d after leaving at zero", n)
	}
	mustSet(t, tb, "k", "v2")
	mustCheck(t, tb)
}
