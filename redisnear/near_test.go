package redisnear

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv"
)

// Child processes: the test binary run again with REDISNEAR_CHILD set to a
// role, and its arguments in REDISNEAR_ARGS.
func TestMain(m *testing.M) {
	if role := os.Getenv("REDISNEAR_CHILD"); role != "" {
		args := strings.Fields(os.Getenv("REDISNEAR_ARGS"))
		if err := childRoles[role](args); err != nil {
			fmt.Fprintf(os.Stderr, "child %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var childRoles = map[string]func(args []string) error{
	"reader": childReader,
	"leader": childLeader,
	"miss":   childMiss,
	"cold":   childCold,
}

var tableSeq atomic.Int64

// uniqueTable is a table name of this test's own, removed when it ends.
func uniqueTable(t testing.TB) string {
	name := fmt.Sprintf("redisnear-test-%d-%d", os.Getpid(), tableSeq.Add(1))
	kv.Remove(name)
	t.Cleanup(func() { kv.Remove(name) })
	return name
}

func openNear(table, addr string) (*Client, error) {
	return Open(Options{
		Redis:        rueidis.ClientOption{InitAddress: []string{addr}},
		Table:        table,
		TableOptions: &kv.Options{MaxMemory: 4 << 20},
		Prefixes:     []string{"user:"},
	})
}

func openNearT(t testing.TB, table, addr string) *Client {
	t.Helper()
	c, err := openNear(table, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// child is a running child process.
type child struct{ *testproc.Child }

func startChild(t *testing.T, role string, args ...string) *child {
	t.Helper()
	return &child{testproc.Start(t, "REDISNEAR_CHILD="+role, "REDISNEAR_ARGS="+strings.Join(args, " "))}
}

// line returns the child's next line of output, failing after 10 s.
func (c *child) line(t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		l, _ := c.Line()
		got <- l
	}()
	select {
	case l := <-got:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("the child said nothing for 10 s")
		return ""
	}
}

// waitOnline waits until a leader vouches for the table.
func waitOnline(t testing.TB, c *Client) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if c.Online() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no leader vouched for the table within 5 s")
		}
	}
}

// childReader: args table addr key. Prints "ready", then reads key every
// millisecond and prints each value it has not printed before with the
// Unix nanosecond it read it ("<absent>" for ErrNotFound), until it is
// killed.
func childReader(args []string) error {
	c, err := openNear(args[0], args[1])
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println("ready")
	last := ""
	for {
		v, err := c.Get(context.Background(), nil, args[2])
		s := string(v)
		if errors.Is(err, ErrNotFound) {
			s = "<absent>"
		} else if err != nil {
			s = "<error>"
		}
		if s != last {
			fmt.Println(s, time.Now().UnixNano())
			last = s
		}
		time.Sleep(time.Millisecond)
	}
}

// childLeader: args table addr. Opens a client, and prints "leading" once
// it leads; then waits to be killed.
func childLeader(args []string) error {
	c, err := openNear(args[0], args[1])
	if err != nil {
		return err
	}
	var st Stats
	for c.Stats(&st); !st.Leading; c.Stats(&st) {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Println("leading")
	select {}
}

// childMiss: args table addr key startAt. At startAt (Unix nanoseconds)
// reads key and prints its value.
func childMiss(args []string) error {
	c, err := openNear(args[0], args[1])
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println("ready")
	startAt, _ := strconv.ParseInt(args[3], 10, 64)
	time.Sleep(time.Until(time.Unix(0, startAt)))
	return printGet(c, args[2])
}

// printGet reads key through c and prints its value, or <absent>.
func printGet(c *Client, key string) error {
	v, err := c.Get(context.Background(), nil, key)
	switch {
	case errors.Is(err, ErrNotFound):
		fmt.Println("<absent>")
	case err != nil:
		return err
	default:
		fmt.Println(string(v))
	}
	return nil
}

// childCold: args table addr key startAt. At startAt (Unix nanoseconds)
// opens a client, on a table no process may have opened yet, and reads key
// at once; prints its value, then its Stats, and keeps the client open
// until its stdin ends, so that no leader closes, and none takes over
// and flushes, while another child has yet to read.
func childCold(args []string) error {
	fmt.Println("ready")
	startAt, _ := strconv.ParseInt(args[3], 10, 64)
	time.Sleep(time.Until(time.Unix(0, startAt)))
	c, err := openNear(args[0], args[1])
	if err != nil {
		return err
	}
	defer c.Close()
	if err := printGet(c, args[2]); err != nil {
		return err
	}
	var st Stats
	c.Stats(&st)
	fmt.Printf("%+v\n", st)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// sees waits until reader r prints want, and returns when it read it.
func (r *child) sees(t *testing.T, want string) time.Time {
	t.Helper()
	for {
		l := r.line(t)
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("reader said %q", l)
		}
		if f[0] == want {
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			return time.Unix(0, ns)
		}
	}
}

// fixture is a test's redis-server, a plain client of it (anyone who
// changes keys), and a table of the test's own.
type fixture struct {
	t     *testing.T
	srv   *redisServer
	raw   rueidis.Client
	table string
}

func newFixture(t *testing.T) *fixture {
	srv := startRedis(t)
	return &fixture{t: t, srv: srv, raw: srv.rawClient(), table: uniqueTable(t)}
}

// near opens a client in this process and waits until a leader vouches
// for the table.
func (f *fixture) near() *Client {
	f.t.Helper()
	c := openNearT(f.t, f.table, f.srv.addr())
	waitOnline(f.t, c)
	return c
}

// set sets key in Redis as any client would. After a restart the client's
// first commands fail until it connects again: it tries for 5 s.
func (f *fixture) set(key, value string) {
	f.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := f.raw.Do(context.Background(), f.raw.B().Set().Key(key).Value(value).Build()).Error()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatal(err)
		}
	}
}

// reader starts a reader process of key and waits until it reads want.
func (f *fixture) reader(key, want string) *child {
	f.t.Helper()
	r := startChild(f.t, "reader", f.table, f.srv.addr(), key)
	if l := r.line(f.t); l != "ready" {
		f.t.Fatalf("reader said %q", l)
	}
	r.sees(f.t, want)
	return r
}

// leader starts a process that leads, and waits until it does.
func (f *fixture) leader() *child {
	f.t.Helper()
	l := startChild(f.t, "leader", f.table, f.srv.addr())
	if s := l.line(f.t); s != "leading" {
		f.t.Fatalf("leader said %q", s)
	}
	return l
}

// eventually waits up to 2 s until c reads want for key.
func (f *fixture) eventually(c *Client, key, want string) {
	f.t.Helper()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		v, err := c.Get(context.Background(), nil, key)
		if err == nil && string(v) == want {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s reads %q, %v; want %q", key, v, err, want)
		}
	}
}

// TestChangeSeenByEveryProcess: keys changed in Redis by another client
// are seen with their new values by readers in two other processes, each
// change within a bound; it logs the 99th percentile.
func TestChangeSeenByEveryProcess(t *testing.T) {
	f := newFixture(t)
	leader := f.near()
	f.set("user:1", "v0")
	readers := []*child{f.reader("user:1", "v0"), f.reader("user:1", "v0")}
	var delays []time.Duration
	for i := 1; i <= 50; i++ {
		v := fmt.Sprint("v", i)
		at := time.Now()
		f.set("user:1", v)
		for _, r := range readers {
			delays = append(delays, r.sees(t, v).Sub(at))
		}
	}
	slices.Sort(delays)
	t.Logf("a change seen by a reader after: p50 %v, p99 %v, max %v (readers poll every millisecond)",
		delays[len(delays)/2], delays[len(delays)*99/100], delays[len(delays)-1])
	var st Stats
	leader.Stats(&st)
	if st.Invalidations == 0 || !st.Leading {
		t.Errorf("leader stats %+v", st)
	}
}

// TestLeaderKilled: the leading process is killed; another process takes
// the lead, and changes keep reaching every process.
func TestLeaderKilled(t *testing.T) {
	f := newFixture(t)
	l := f.leader()
	follower := f.near()
	f.set("user:2", "before")
	r := f.reader("user:2", "before")

	l.Cmd.Process.Kill()
	l.Cmd.Wait()
	killed := time.Now()
	f.set("user:2", "after")
	seen := r.sees(t, "after")
	t.Logf("seen %v after the leader's death", seen.Sub(killed))
	if d := seen.Sub(killed); d > 2*time.Second {
		t.Errorf("the change after the leader's death was seen %v later", d)
	}
	// A new leader is elected (this process or the reader's), and
	// invalidations flow again.
	waitOnline(t, follower)
	f.set("user:2", "later")
	r.sees(t, "later")
	f.eventually(follower, "user:2", "later")
}

// TestRedisRestart: Redis restarts empty; no process serves what it held
// before, and new values reach everyone.
func TestRedisRestart(t *testing.T) {
	f := newFixture(t)
	leader := f.near()
	f.set("user:3", "old")
	r := f.reader("user:3", "old")

	f.srv.restart() // empty: user:3 is gone
	r.sees(t, "<absent>")
	waitOnline(t, leader)
	f.set("user:3", "new")
	r.sees(t, "new")
	var st Stats
	leader.Stats(&st)
	if st.Flushes < 2 {
		t.Errorf("the leader flushed %d times: once on taking the lead, and once on losing Redis, at least", st.Flushes)
	}
}

// TestOneRedisGetPerHost: eight processes miss one key at the same moment;
// Redis runs one GET for all of them, for a key it has and for one it
// does not.
func TestOneRedisGetPerHost(t *testing.T) {
	t.Run("present", func(t *testing.T) { oneGetPerHost(t, "user:4", "hot") })
	t.Run("absent", func(t *testing.T) { oneGetPerHost(t, "user:none", "<absent>") })
}

func oneGetPerHost(t *testing.T, key, want string) {
	f := newFixture(t)
	f.near()
	if want != "<absent>" {
		f.set(key, want)
	}
	startAt := strconv.FormatInt(time.Now().Add(2*time.Second).UnixNano(), 10)
	var cs []*child
	for range 8 {
		cs = append(cs, startChild(t, "miss", f.table, f.srv.addr(), key, startAt))
	}
	for _, c := range cs {
		c.line(t) // ready
	}
	before := f.srv.getCalls(f.raw)
	for i, c := range cs {
		if v := c.line(t); v != want {
			t.Errorf("child %d read %q", i, v)
		}
		c.Cmd.Wait()
	}
	if n := f.srv.getCalls(f.raw) - before; n != 1 {
		t.Errorf("%d GETs reached Redis for 8 processes, want 1", n)
	}
}

// TestOneRedisGetAtColdStart: six processes open a table that does not
// exist yet, at the same moment, and read one key at once, before any
// leader could have vouched for the table: Redis still runs one GET.
func TestOneRedisGetAtColdStart(t *testing.T) {
	f := newFixture(t)
	f.set("user:cold", "cold")
	startAt := strconv.FormatInt(time.Now().Add(2*time.Second).UnixNano(), 10)
	var cs []*child
	for range 6 {
		cs = append(cs, startChild(t, "cold", f.table, f.srv.addr(), "user:cold", startAt))
	}
	for _, c := range cs {
		c.line(t) // ready
	}
	before := f.srv.getCalls(f.raw)
	var stats []string
	for i, c := range cs {
		if v := c.line(t); v != "cold" {
			t.Errorf("child %d read %q", i, v)
		}
		stats = append(stats, c.line(t))
	}
	if n := f.srv.getCalls(f.raw) - before; n != 1 {
		t.Errorf("%d GETs reached Redis for 6 processes opening a fresh table, want 1; their stats:\n%s",
			n, strings.Join(stats, "\n"))
	}
	for i, c := range cs {
		c.Stdin.Close()
		if err := c.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
}

// TestOpenWaitBounded: with no leader able to vouch (the one there is
// stopped, and its lease has run out), Open returns after OnlineWait, and
// reads go to Redis.
func TestOpenWaitBounded(t *testing.T) {
	f := newFixture(t)
	l := f.leader()
	if err := l.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer l.Cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(2 * lease)
	f.set("user:8", "v")
	start := time.Now()
	c, err := Open(Options{
		Redis:      rueidis.ClientOption{InitAddress: []string{f.srv.addr()}},
		Table:      f.table,
		Prefixes:   []string{"user:"},
		OnlineWait: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	took := time.Since(start)
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("Open took %v with no leader able to vouch, want its OnlineWait of 300ms", took)
	}
	if c.Online() {
		t.Fatal("online with the only leader stopped")
	}
	if v, err := c.Get(context.Background(), nil, "user:8"); err != nil || string(v) != "v" {
		t.Errorf("Get: %q, %v", v, err)
	}
	var st Stats
	if c.Stats(&st); st.Bypasses != 1 {
		t.Errorf("stats %+v, want one bypass", st)
	}
}

// TestNotCached: keys outside the prefixes, and keys Redis lacks.
func TestNotCached(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.near()
	f.set("other:1", "x")
	if v, err := c.Get(ctx, nil, "other:1"); err != nil || string(v) != "x" {
		t.Errorf("outside the prefixes: %q, %v", v, err)
	}
	if _, found, _ := c.t.Get(nil, []byte("other:1")); found {
		t.Error("a key outside the prefixes was cached")
	}
	if v, err := c.Get(ctx, []byte("dst"), "user:absent"); !errors.Is(err, ErrNotFound) || string(v) != "dst" {
		t.Errorf("absent key: %q, %v", v, err)
	}
	if _, found, _ := c.t.Get(nil, []byte("user:absent")); !found {
		t.Error("the absence of user:absent was not cached")
	}
	// Its creation in Redis is reported like any change.
	f.set("user:absent", "now here")
	f.eventually(c, "user:absent", "now here")
	if v, err := c.Get(ctx, []byte("dst:"), "user:absent"); err != nil || string(v) != "dst:now here" {
		t.Errorf("appended to dst: %q, %v", v, err)
	}
	// Redis reports this process's own write to the leader (this process)
	// too; wait for that, which would drop a copy filled before it.
	var st Stats
	c.Stats(&st)
	before := st.Invalidations
	if err := c.Set(ctx, "user:5", []byte("mine"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); st.Invalidations == before; c.Stats(&st) {
		if time.Now().After(deadline) {
			t.Fatal("the leader heard nothing of this process's Set")
		}
		time.Sleep(time.Millisecond)
	}
	if v, err := c.Get(ctx, nil, "user:5"); err != nil || string(v) != "mine" {
		t.Errorf("after Set: %q, %v", v, err)
	}
	if ttl, found, _ := c.t.TTL([]byte("user:5")); !found || ttl > time.Minute || ttl < 50*time.Second {
		t.Errorf("near copy TTL %v, %v: want Redis's", ttl, found)
	}
	if err := c.Delete(ctx, "user:5"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, nil, "user:5"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
}

// TestFlushAll: FLUSHALL in Redis empties every process's view.
func TestFlushAll(t *testing.T) {
	f := newFixture(t)
	f.near()
	f.set("user:6", "v")
	r := f.reader("user:6", "v")
	if err := f.raw.Do(context.Background(), f.raw.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	r.sees(t, "<absent>")
}

// TestLeaderStopped: a leader stopped with SIGSTOP keeps its claim (it is
// alive), but its lease runs out, and readers go to Redis meanwhile: they
// see changes, only slower.
func TestLeaderStopped(t *testing.T) {
	f := newFixture(t)
	l := f.leader()
	follower := f.near()
	f.set("user:7", "before")
	r := f.reader("user:7", "before")
	if err := l.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer l.Cmd.Process.Signal(syscall.SIGCONT)
	stopped := time.Now()
	f.set("user:7", "while-stopped")
	seen := r.sees(t, "while-stopped")
	t.Logf("seen %v after the leader stopped", seen.Sub(stopped))
	if d := seen.Sub(stopped); d > 2*time.Second {
		t.Errorf("seen %v after the leader stopped", d)
	}
	var st Stats
	follower.Stats(&st)
	if st.Leading {
		t.Error("the follower took the lead from a live, stopped leader")
	}
	// Resumed, the leader vouches again, and nothing from before the stop
	// is served.
	l.Cmd.Process.Signal(syscall.SIGCONT)
	waitOnline(t, follower)
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if v, err := follower.Get(context.Background(), nil, "user:7"); err != nil || string(v) != "while-stopped" {
			t.Fatalf("after the leader resumed: %q, %v", v, err)
		}
	}
}
