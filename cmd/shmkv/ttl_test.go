package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTTL(t *testing.T) {
	name := tableName(t)
	mustRun(t, 1, nil, "ttl", name, "k")
	mustRun(t, 0, nil, "set", name, "k", "v", "--ttl", "1h")
	r := mustRun(t, 0, nil, "ttl", name, "k")
	d, err := time.ParseDuration(strings.TrimSpace(r.stdout))
	if err != nil || d <= 59*time.Minute || d > time.Hour {
		t.Fatalf("ttl = %q", r.stdout)
	}
	mustRun(t, 0, nil, "set", name, "forever", "v")
	if r := mustRun(t, 0, nil, "ttl", name, "forever"); r.stdout != "never\n" {
		t.Fatalf("ttl of a key without expiry = %q", r.stdout)
	}
	mustRun(t, 1, nil, "ttl", name, "missing")
	mustRun(t, 2, nil, "set", name, "k", "v", "--ttl", "soon")
	mustRun(t, 2, nil, "set", name, "k", "v", "--ttl", "-5s")
	// A key that expires is gone when it does.
	mustRun(t, 0, nil, "set", name, "brief", "v", "--ttl", "1ms")
	time.Sleep(5 * time.Millisecond)
	mustRun(t, 1, nil, "get", name, "brief")
	mustRun(t, 1, nil, "ttl", name, "brief")
}

func TestCreateEviction(t *testing.T) {
	name := tableName(t)
	r := mustRun(t, 0, nil, "create", name, "--eviction", "lru", "--max-memory", "64KiB", "--max-value", "64")
	if !strings.Contains(r.stdout, "eviction s3fifo") {
		t.Errorf("create said %q", r.stdout)
	}
	// A full s3fifo table keeps taking writes.
	for i := range 500 {
		mustRun(t, 0, nil, "set", name, "key-"+strings.Repeat("x", i%20)+string(rune('a'+i%26)), strings.Repeat("v", 50))
	}
	r = mustRun(t, 0, nil, "stats", name)
	if !strings.Contains(r.stdout, "eviction s3fifo") || strings.Contains(r.stdout, " 0 evictions") {
		t.Errorf("stats after overfilling:\n%s", r.stdout)
	}
	mustRun(t, 2, nil, "create", tableName(t), "--eviction", "fifo")
}

// TestTTLJSON: ttl --json prints the key by the output's rule and the
// milliseconds left, -1 for a key that does not expire, as Redis's PTTL.
func TestTTLJSON(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name)
	w := openWriter(t, name)
	w.Set([]byte("\xff\xfe"), []byte("v"))
	w.SetTTL([]byte("a\nb"), []byte("v"), time.Hour)
	if r := mustRun(t, 0, nil, "ttl", name, "\xff\xfe", "--json"); r.stdout != `{"key_base64":"//4=","ttl_ms":-1}`+"\n" {
		t.Errorf("ttl --json of a key without expiry = %q", r.stdout)
	}
	r := mustRun(t, 0, nil, "ttl", name, "a\nb", "--json")
	var got struct {
		Key   *string `json:"key"`
		TTLMs *int64  `json:"ttl_ms"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Key == nil || *got.Key != "a\nb" ||
		got.TTLMs == nil || *got.TTLMs <= 59*60*1000 || *got.TTLMs > 60*60*1000 {
		t.Fatalf("ttl --json = %q (%v)", r.stdout, err)
	}
	if want := fmt.Sprintf(`{"key":"a\nb","ttl_ms":%d}`+"\n", *got.TTLMs); r.stdout != want {
		t.Errorf("ttl --json = %q, want %q", r.stdout, want)
	}
	if r := mustRun(t, 1, nil, "ttl", name, "missing", "--json"); r.stdout != "" {
		t.Errorf("ttl --json of a missing key printed %q", r.stdout)
	}
}
