package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/internal/testshm"
	"github.com/shmkv/shmkv/kv"
)

func TestCheck(t *testing.T) {
	name := tableName(t)
	mustRun(t, 1, nil, "check", name)
	mustRun(t, 0, nil, "create", name, "--max-memory", "1MiB", "--max-value", "1KiB")
	for _, k := range []string{"a", "b", "c"} {
		mustRun(t, 0, nil, "set", name, k, strings.Repeat(k, 100))
	}
	if r := mustRun(t, 0, nil, "check", name); !strings.Contains(r.stdout, "clean, 3 entries") {
		t.Fatalf("check = %q", r.stdout)
	}
	// Flip bytes inside a value: its checksum no longer matches.
	b := testshm.Map(t, name)
	i := strings.Index(string(b), strings.Repeat("b", 100))
	if i < 0 {
		t.Fatal("value not found in the region")
	}
	b[i+50] = 'X'
	r := mustRun(t, 1, nil, "check", name)
	if !strings.Contains(r.stdout, `key "b" fails its checksum`) || !strings.Contains(r.stderr, "--repair") {
		t.Fatalf("check of a damaged table: %+v", r)
	}
}

// TestCheckRepair is the case of the issue that asked for repair: one
// zeroed slot word and one flipped value byte. After 'check --repair',
// check exits 0 and every undamaged key reads back exactly.
func TestCheckRepair(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name, "--max-memory", "2MiB", "--keys", "1000", "--memory", "256KiB", "--max-value", "1KiB")
	want := map[string]string{}
	for i := range 100 {
		k, v := fmt.Sprint("key", i), fmt.Sprint("value of key ", i)
		mustRun(t, 0, nil, "set", name, k, v)
		want[k] = v
	}
	b := testshm.Map(t, name)
	i := strings.Index(string(b), "value of key 17")
	if i < 0 {
		t.Fatal("value not found")
	}
	b[i+3] ^= 1
	delete(want, "key17")
	// Shard 0's extent word is at byte 24 of its control block, which
	// starts where the header's word at byte 64 says; its slots start 128
	// bytes into the extent (kv/internal/format/layout.go). Zero the first live one.
	le := binary.LittleEndian
	ext := le.Uint64(b[le.Uint64(b[64:])+24:])
	slots := (ext&(1<<34-1))*4096 + 128
	data := slots + 8<<(ext>>34&31)
	zeroed := false
	for off := slots; off < data && !zeroed; off += 8 {
		if w := le.Uint64(b[off:]); w != 0 && w != ^uint64(0) {
			le.PutUint64(b[off:], 0)
			zeroed = true
		}
	}
	if !zeroed {
		t.Fatal("found no slot word to zero")
	}
	r := mustRun(t, 1, nil, "check", name)
	if !strings.Contains(r.stdout, "not reachable") || !strings.Contains(r.stdout, "fails its checksum") {
		t.Fatalf("check before repair said %q", r.stdout)
	}
	r = mustRun(t, 0, nil, "check", name, "--repair")
	if !strings.Contains(r.stdout, `dropped: entry of key "key17"`) || !strings.Contains(r.stdout, "clean, 99 entries") {
		t.Fatalf("check --repair said %q", r.stdout)
	}
	mustRun(t, 0, nil, "check", name)
	for k, v := range want {
		if r := mustRun(t, 0, nil, "get", name, k); r.stdout != v {
			t.Fatalf("get %s = %q, want %q", k, r.stdout, v)
		}
	}
	mustRun(t, 1, nil, "get", name, "key17")
}

// TestDamagedExtentWord is issue 21's item 5 through the command: shard
// 0's extent word one less. 'keys' and 'dump' give the other shards' keys
// and then fail, naming shard 0 (they gave nothing before); check names
// the word; 'check --repair' finds the extent again and says, truly, that
// it dropped nothing; then every key is there.
func TestDamagedExtentWord(t *testing.T) {
	name := tableName(t)
	tb, err := kv.Open(name, &kv.Options{MaxMemory: 64 << 20, MaxKeySize: 32, MaxValueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4000
	for i := range n {
		if err := tb.Set(fmt.Append(nil, "key", i), fmt.Append(nil, "value of key ", i)); err != nil {
			t.Fatal(err)
		}
	}
	var st kv.Stats
	tb.Stats(&st)
	tb.Close()
	if st.Shards < 2 {
		t.Fatalf("%d shards; the test wants several", st.Shards)
	}
	b := testshm.Map(t, name)
	le := binary.LittleEndian
	word := le.Uint64(b[64:]) + 24 // shard 0's extent word (kv/internal/format/layout.go)
	le.PutUint64(b[word:], le.Uint64(b[word:])-1)

	r := run(t, nil, "keys", name)
	listed := strings.Count(r.stdout, "\n")
	if r.code == 0 || listed == 0 || listed >= n || !strings.Contains(r.stderr, "shards [0]") {
		t.Fatalf("keys of a table with shard 0 damaged: exit %d, %d keys, stderr %q", r.code, listed, r.stderr)
	}
	// A listing that cannot be written says so, not only what it skipped.
	full := errors.New("stdout is full")
	if err := (&Main{Stdout: failingWriter{full}, Stderr: io.Discard}).Run([]string{"keys", name}); !errors.Is(err, full) {
		t.Errorf("keys to a failing stdout: %v, want its write error", err)
	}
	file := filepath.Join(t.TempDir(), "dump")
	if r := run(t, nil, "dump", name, file); r.code == 0 || !strings.Contains(r.stderr, "shards [0]") {
		t.Fatalf("dump of a table with shard 0 damaged: exit %d, stderr %q", r.code, r.stderr)
	}
	copied := tableName(t)
	mustRun(t, 0, nil, "load", copied, file)
	if got := strings.Count(mustRun(t, 0, nil, "keys", copied).stdout, "\n"); got != listed {
		t.Errorf("the dump held %d keys, keys listed %d", got, listed)
	}
	if r := mustRun(t, 1, nil, "check", name); !strings.Contains(r.stdout, "shard 0: extent word") {
		t.Fatalf("check said %q", r.stdout)
	}
	r = mustRun(t, 0, nil, "check", name, "--repair")
	if !strings.Contains(r.stdout, "found the shard's extent") || !strings.Contains(r.stdout, "repaired: 0 dropped") ||
		!strings.Contains(r.stdout, fmt.Sprintf("clean, %d entries", n)) {
		t.Fatalf("check --repair said %q", r.stdout)
	}
	if got := strings.Count(mustRun(t, 0, nil, "keys", name).stdout, "\n"); got != n {
		t.Errorf("after repair keys lists %d, want %d", got, n)
	}
}

// failingWriter fails every write with err.
type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// TestCheckJSON: check --json prints the Report as one stable object;
// exit statuses are those of the text. The repair's report goes beside
// the check after it.
func TestCheckJSON(t *testing.T) {
	name := tableName(t)
	mustRun(t, 1, nil, "check", name, "--json")
	mustRun(t, 0, nil, "create", name, "--max-memory", "1MiB", "--max-value", "1KiB")
	for _, k := range []string{"a", "b", "c"} {
		mustRun(t, 0, nil, "set", name, k, strings.Repeat(k, 100))
	}
	var st kv.Stats
	openWriter(t, name).Stats(&st)
	r := mustRun(t, 0, nil, "check", name, "--json")
	if want := fmt.Sprintf(`{"name":%q,"clean":true,"shards":%d,"entries":3,"problems":[]}`+"\n", name, st.Shards); r.stdout != want {
		t.Fatalf("check --json = %q, want %q", r.stdout, want)
	}
	b := testshm.Map(t, name)
	i := strings.Index(string(b), strings.Repeat("b", 100))
	if i < 0 {
		t.Fatal("value not found in the region")
	}
	b[i+50] = 'X'
	r = mustRun(t, 1, nil, "check", name, "--json")
	var got checkJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("check --json = %q: %v", r.stdout, err)
	}
	if got.Clean || got.Name != name || len(got.Problems) != 1 || got.Repair != nil ||
		got.Problems[0].Shard < 0 || got.Problems[0].Offset < 0 || !strings.Contains(got.Problems[0].What, `key "b" fails its checksum`) {
		t.Fatalf("check --json of a damaged table = %q", r.stdout)
	}
	p := got.Problems[0]
	if want := fmt.Sprintf(`{"shard":%d,"offset":%d,"what":%q}`, p.Shard, p.Offset, p.What); !strings.Contains(r.stdout, `,"problems":[`+want+`]}`) {
		t.Errorf("check --json = %q, want the problem %s", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "--repair") {
		t.Errorf("check --json of a damaged table said %q on stderr", r.stderr)
	}
	r = mustRun(t, 0, nil, "check", name, "--repair", "--json")
	got = checkJSON{}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("check --repair --json = %q: %v", r.stdout, err)
	}
	if !got.Clean || got.Entries != 2 || len(got.Problems) != 0 || got.Repair == nil || got.Repair.Dropped != 1 ||
		got.Repair.Entries != 2 || len(got.Repair.Problems) == 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("check --repair --json = %q", r.stdout)
	}
}

// TestCheckNamesNotText: check names a table whose name is not printable
// text Go-quoted in its text, on one line, and by the output's rule in
// JSON (base64 when not UTF-8).
func TestCheckNamesNotText(t *testing.T) {
	for _, suffix := range []string{"-\x01\n", "-\xff\xfe"} {
		name := oddTableName(t, suffix)
		mustRun(t, 0, nil, "set", name, "k", "v")
		r := mustRun(t, 0, nil, "check", name)
		if !strings.HasPrefix(r.stdout, strconv.Quote(name)+": clean, 1 entries in ") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("check %q = %q", name, r.stdout)
		}
		r = mustRun(t, 0, nil, "check", name, "--json")
		var got map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatal(err)
		}
		back, _ := got["name"].(string)
		if b64, ok := got["name_base64"].(string); ok {
			b, _ := base64.StdEncoding.DecodeString(b64)
			back = string(b)
		}
		if back != name || got["clean"] != true {
			t.Errorf("check %q --json = %q", name, r.stdout)
		}
	}
}
