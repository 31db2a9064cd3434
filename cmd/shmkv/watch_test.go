package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "k", "v0")
	done := make(chan result, 1)
	go func() { done <- run(t, nil, "watch", name, "k", "--count", "2") }()
	// Until the watcher has read the key, a write is what it starts from:
	// keep changing the key until it has seen two changes.
	w := openWriter(t, name)
	var r result
	deleted := false
wait:
	for i := 1; ; i++ {
		if i%3 == 0 && !deleted {
			w.Delete([]byte("k"))
			deleted = true
		} else {
			w.Set([]byte("k"), []byte("v"+strings.Repeat("x", i)))
		}
		select {
		case r = <-done:
			break wait
		case <-time.After(20 * time.Millisecond):
		}
	}
	if r.code != 0 {
		t.Fatalf("watch: exit %d, %q", r.code, r.stderr)
	}
	events := strings.SplitAfter(r.stdout, "\n")
	n := 0
	for len(events) > 1 {
		switch events[0] {
		case "PUT\n":
			if events[1] != "k\n" || len(events) < 3 || !strings.HasPrefix(events[2], "vx") {
				t.Fatalf("watch printed %q", r.stdout)
			}
			events = events[3:]
		case "DELETE\n":
			if events[1] != "k\n" {
				t.Fatalf("watch printed %q", r.stdout)
			}
			events = events[2:]
		default:
			t.Fatalf("watch printed %q", r.stdout)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d events, want 2: %q", n, r.stdout)
	}
	mustRun(t, 2, nil, "watch", name, "k", "--count", "-1")
	mustRun(t, 1, nil, "watch", name+"-missing", "k", "--count", "1")
}

// watchWhile runs 'shmkv watch' with args while write(i) changes the key
// every 20ms, until it exits: until the watcher has read the key, a write
// is what it starts from, so the test cannot wait for it first.
func watchWhile(t *testing.T, write func(i int), args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- run(t, nil, args...) }()
	for i := 0; ; i++ {
		write(i)
		select {
		case r := <-done:
			if r.code != 0 {
				t.Fatalf("%v: exit %d, %q", args, r.code, r.stderr)
			}
			return r
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestWatchQuoted: a key or value that is not printable text (a newline,
// a NUL, bytes that are not UTF-8) is printed Go-quoted, so that every
// change is still three lines, or two, and unquotes to its bytes. Before,
// "line one\nline two" made a fourth line.
func TestWatchQuoted(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name)
	w := openWriter(t, name)
	key := "\xff\xfe"
	values := []string{"line one\nline two", "\x00\xff bin", `"quoted" at the start`}
	want := map[string]string{
		"PUT\n\"\\xff\\xfe\"\n\"line one\\nline two\"\n":         values[0],
		"PUT\n\"\\xff\\xfe\"\n\"\\x00\\xff bin\"\n":              values[1],
		"PUT\n\"\\xff\\xfe\"\n\"\\\"quoted\\\" at the start\"\n": values[2],
	}
	r := watchWhile(t, func(i int) { w.Set([]byte(key), []byte(values[i%3])) }, "watch", name, key, "--count", "3")
	rest := r.stdout
	for n := 0; n < 3; n++ {
		lines := strings.SplitAfterN(rest, "\n", 4)
		if len(lines) < 3 {
			t.Fatalf("watch printed %q", r.stdout)
		}
		event := lines[0] + lines[1] + lines[2]
		v, ok := want[event]
		if !ok {
			t.Fatalf("event %d is %q, not one of %q; watch printed %q", n, event, want, r.stdout)
		}
		k, err1 := strconv.Unquote(strings.TrimSuffix(lines[1], "\n"))
		got, err2 := strconv.Unquote(strings.TrimSuffix(lines[2], "\n"))
		if err1 != nil || err2 != nil || k != key || got != v {
			t.Errorf("event %q unquotes to %q = %q (%v, %v)", event, k, got, err1, err2)
		}
		rest = rest[len(event):]
	}
	if rest != "" {
		t.Errorf("watch printed more than 3 events: %q", r.stdout)
	}
}

// TestWatchJSON: watch --json prints each change as one line of JSON, by
// the output's rule, whatever bytes the value holds; each decodes back.
func TestWatchJSON(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name)
	w := openWriter(t, name)
	key := "\xff\xfe"
	want := map[string]string{
		`{"type":"PUT","key_base64":"//4=","value":"line one\nline two"}`: "line one\nline two",
		`{"type":"PUT","key_base64":"//4=","value_base64":"AP8gYmlu"}`:    "\x00\xff bin",
		`{"type":"DELETE","key_base64":"//4="}`:                           "",
	}
	write := func(i int) {
		switch i % 3 {
		case 0:
			w.Set([]byte(key), []byte("line one\nline two"))
		case 1:
			w.Set([]byte(key), []byte("\x00\xff bin"))
		default:
			w.Delete([]byte(key))
		}
	}
	r := watchWhile(t, write, "watch", name, key, "--count", "4", "--json")
	lines := strings.Split(r.stdout, "\n")
	if len(lines) != 5 || lines[4] != "" {
		t.Fatalf("watch --json printed %q, want 4 lines", r.stdout)
	}
	for _, l := range lines[:4] {
		v, ok := want[l]
		if !ok {
			t.Fatalf("line %q is not one of %q", l, want)
		}
		k, got := decodeKeyValue(t, l)
		if string(k) != key || string(got) != v {
			t.Errorf("line %q decodes to %q = %q", l, k, got)
		}
	}
}
