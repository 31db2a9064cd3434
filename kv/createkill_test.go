//go:build shmkvfail

package kv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmkv/shmkv/kv/internal/failpoint"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/shm"
)

func init() {
	rawChildren["create-crash"] = childCreateCrash
}

// childCreateCrash: args name crash-at memory. Creates the table with the
// failpoint armed and prints how many steps creating it took.
func childCreateCrash(args []string) error {
	at, _ := strconv.ParseInt(args[1], 10, 64)
	mem, _ := strconv.ParseInt(args[2], 10, 64)
	failpoint.CrashAt.Store(at)
	tb, err := Open(args[0], &Options{Memory: mem, Exclusive: true})
	failpoint.CrashAt.Store(0)
	if err != nil {
		return err
	}
	defer tb.Close()
	fmt.Println(failpoint.Steps.Load())
	return nil
}

// afterCreatorDied checks what a creator killed while creating name left:
// no name, or a whole table; either way the next Open succeeds at once,
// with no manual removal. It removes the table for the next round.
func afterCreatorDied(t *testing.T, name, when string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(shm.Dir, name)); err == nil {
		ro, err := Open(name, &Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("%s: the name exists but is no whole table: %v", when, err)
		}
		ro.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	start := time.Now()
	tb, err := Open(name, &Options{Memory: 1 << 20})
	if err != nil {
		t.Fatalf("%s: Open after the creator died: %v", when, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("%s: Open took %v", when, d)
	}
	mustSet(t, tb, "k", "v")
	mustCheck(t, tb)
	tb.Close()
	if err := Remove(name); err != nil {
		t.Fatal(err)
	}
}

// TestKillSweepCreation kills a creator before each step of creating a
// table. Before creation built the table under no name and linked it whole,
// a creator killed between creating the object and publishing its header
// left a name every opener refused until someone removed it by hand.
func TestKillSweepCreation(t *testing.T) {
	name := uniqueName(t)
	run := func(at int64) (string, error) {
		c := testproc.Start(t, "SHMKV_RAW_CHILD=create-crash", fmt.Sprintf("SHMKV_ARGS=%s %d %d", name, at, 1<<20))
		out, _ := c.Rest()
		return strings.TrimSpace(out), c.Wait()
	}
	out, err := run(-1)
	steps, perr := strconv.Atoi(out)
	if err != nil || perr != nil || steps < 5 {
		t.Fatalf("counting run: %q, %v", out, err)
	}
	if err := Remove(name); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d steps", steps)
	for n := int64(1); n <= int64(steps); n++ {
		if _, err := run(n); !testproc.Killed(err) {
			t.Fatalf("step %d: the creator was not killed: %v", n, err)
		}
		afterCreatorDied(t, name, fmt.Sprint("step ", n))
	}
}

// TestKillLargeCreation kills the creator of a large table after delays
// spread over its creation, as a user's Ctrl-C or an OOM kill would.
func TestKillLargeCreation(t *testing.T) {
	name := uniqueName(t)
	for delay := 2 * time.Millisecond; delay <= 80*time.Millisecond; delay *= 2 {
		c := testproc.Start(t, "SHMKV_RAW_CHILD=create-crash", fmt.Sprintf("SHMKV_ARGS=%s 0 %d", name, 512<<20))
		time.Sleep(delay)
		c.Kill()
		afterCreatorDied(t, name, fmt.Sprint("killed after ", delay))
	}
}
