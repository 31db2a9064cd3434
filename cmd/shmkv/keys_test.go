package main

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	name := tableName(t)
	mustRun(t, 1, nil, "keys", name)
	mustRun(t, 0, nil, "create", name)
	if r := mustRun(t, 0, nil, "keys", name, "--json"); r.stdout != "[]\n" {
		t.Fatalf("keys --json on an empty table = %q", r.stdout)
	}
	for _, k := range []string{"user:2", "user:1", "job:9"} {
		mustRun(t, 0, nil, "set", name, k, "v")
	}
	if r := mustRun(t, 0, nil, "keys", name); r.stdout != "job:9\nuser:1\nuser:2\n" {
		t.Fatalf("keys = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "keys", name, "--prefix", "user:"); r.stdout != "user:1\nuser:2\n" {
		t.Fatalf("keys --prefix = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "keys", name, "--json", "--prefix", "job"); r.stdout != `[{"key":"job:9"}]`+"\n" {
		t.Fatalf("keys --json = %q", r.stdout)
	}
}

// TestKeysNotText: keys prints a key that is not printable text Go-quoted,
// one a line still, and keys --json gives every key back exactly: a key
// that is not UTF-8 in base64. Before, a newline split a key over two
// lines and --json turned "\xff\xfe" into "\ufffd\ufffd".
func TestKeysNotText(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name)
	w := openWriter(t, name)
	keys := []string{"plain", "\xff\xfe", "a\nb", "tab\t", `"q`, "café", "<&>", "'x'"}
	for _, k := range keys {
		if err := w.Set([]byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	r := mustRun(t, 0, nil, "keys", name)
	if want := `"\"q"` + "\n'x'\n<&>\n" + `"a\nb"` + "\ncafé\nplain\n" + `"tab\t"` + "\n" + `"\xff\xfe"` + "\n"; r.stdout != want {
		t.Errorf("keys = %q, want %q", r.stdout, want)
	}
	var back []string
	for _, l := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if strings.HasPrefix(l, `"`) {
			k, err := strconv.Unquote(l)
			if err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			l = k
		}
		back = append(back, l)
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	if !slices.Equal(back, sorted) {
		t.Errorf("keys read back as %q, want %q", back, sorted)
	}

	r = mustRun(t, 0, nil, "keys", name, "--json")
	want := `[{"key":"\"q"},{"key":"'x'"},{"key":"<&>"},{"key":"a\nb"},{"key":"café"},{"key":"plain"},{"key":"tab\t"},{"key_base64":"//4="}]` + "\n"
	if r.stdout != want {
		t.Errorf("keys --json = %q, want %q", r.stdout, want)
	}
	var objs []json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil {
		t.Fatal(err)
	}
	back = back[:0]
	for _, o := range objs {
		k, _ := decodeKeyValue(t, string(o))
		back = append(back, string(k))
	}
	if !slices.Equal(back, sorted) {
		t.Errorf("keys --json decodes to %q, want %q", back, sorted)
	}
}
