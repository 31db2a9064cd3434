package main

import (
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
