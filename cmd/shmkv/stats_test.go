package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/metrics"
)

func TestStats(t *testing.T) {
	name := tableName(t)
	mustRun(t, 1, nil, "stats", name)
	mustRun(t, 0, nil, "set", name, "k", "v")
	mustRun(t, 0, nil, "get", name, "k")
	mustRun(t, 1, nil, "get", name, "nope")
	r := mustRun(t, 0, nil, "stats", name)
	for _, want := range []string{"entries     1 (room for", "2 (1 hits, 1 misses, hit rate 50.0%)", "1 sets", "lock waits", "shards of at most"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stats lacks %q:\n%s", want, r.stdout)
		}
	}
	var st map[string]any
	r = mustRun(t, 0, nil, "stats", name, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	// The JSON field names are a stable interface: pin them.
	fields := []string{"name", "entries", "bytes_used", "bytes_free", "total_bytes", "gets", "hits", "misses",
		"hit_rate", "sets", "deletes", "lock_waits", "read_retries", "recoveries", "damaged", "rebuilds", "shards", "max_shards", "splits",
		"index_slots", "max_bytes", "grows", "key_capacity", "max_key_size", "max_value_size", "evictions", "promotions", "expirations", "eviction"}
	for _, f := range fields {
		if _, ok := st[f]; !ok {
			t.Errorf("stats --json lacks %q", f)
		}
	}
	if len(st) != len(fields) {
		t.Errorf("stats --json has %d fields, want %d", len(st), len(fields))
	}
	if st["entries"] != 1.0 || st["hit_rate"] != 0.5 {
		t.Errorf("stats --json = %v", st)
	}
}

// TestStatsPrometheus: --prometheus writes package metrics' exposition of
// the table (which promshmkv's tests check with Prometheus's own parser).
func TestStatsPrometheus(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "k", "v")
	mustRun(t, 0, nil, "get", name, "k")
	r := mustRun(t, 0, nil, "stats", name, "--prometheus")
	tb, err := kv.Open(name, &kv.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	var st kv.Stats
	tb.Stats(&st)
	var want strings.Builder
	metrics.WriteText(&want, metrics.Samples(nil, name, &st))
	if r.stdout != want.String() {
		t.Errorf("stats --prometheus wrote\n%s\nwant\n%s", r.stdout, want.String())
	}
	for _, line := range []string{
		`shmkv_reads_total{result="hit",table="` + name + `"} 1`,
		`shmkv_entries{table="` + name + `"} 1`,
		"# TYPE shmkv_sets_total counter",
	} {
		if !strings.Contains(r.stdout, line+"\n") {
			t.Errorf("no line %q in\n%s", line, r.stdout)
		}
	}
	mustRun(t, 2, nil, "stats", name, "--prometheus", "--json")
}

// TestStatsPrometheusOddNames: a table name that is not UTF-8 text, or
// holds a control character or a quote, still gives an exposition that a
// strict reader of the text format accepts, its label the name as 'shmkv
// ls' shows it (Go-quoted when it is not printable), which unquotes to the
// name. Before, the label carried the name's bytes as they were: not UTF-8.
func TestStatsPrometheusOddNames(t *testing.T) {
	for _, suffix := range []string{"-\xff\xfe", "-\x01\n\t", `-"\`} {
		name := oddTableName(t, suffix)
		mustRun(t, 0, nil, "set", name, "k", "v")
		r := mustRun(t, 0, nil, "stats", name, "--prometheus")
		samples, err := parseExposition(r.stdout)
		if err != nil {
			t.Fatalf("%q: %v in\n%s", name, err, r.stdout)
		}
		want := name
		if suffix != `-"\` {
			want = strconv.Quote(name)
		}
		got := samples[`shmkv_entries`]
		if len(got) != 1 || got[0].labels["table"] != want || got[0].value != 1 {
			t.Errorf("%q: shmkv_entries %+v, want table=%s and 1", name, got, want)
		}
		if label := got[0].labels["table"]; strings.HasPrefix(label, `"`) {
			if back, err := strconv.Unquote(label); err != nil || back != name {
				t.Errorf("%q: label %q unquotes to %q, %v", name, label, back, err)
			}
		}
	}
}

// sample is one parsed line of the exposition.
type sample struct {
	labels map[string]string
	value  float64
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition reads the Prometheus text format (version 0.0.4) as
// strictly as Prometheus's own parser: HELP and TYPE comments for a family
// before its samples, names by the format's rules, label values UTF-8 with
// only \\, \" and \n escaped, values floats, every line ended by '\n'. It
// returns the samples by metric name.
func parseExposition(text string) (map[string][]sample, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("the text does not end with a newline")
	}
	out := map[string][]sample{}
	typed := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		bad := func(why string) error { return fmt.Errorf("line %d %q: %s", i+1, line, why) }
		if !utf8.ValidString(line) {
			return nil, bad("not UTF-8")
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok {
			f := strings.SplitN(rest, " ", 3)
			if len(f) < 3 || (f[0] != "HELP" && f[0] != "TYPE") || !metricName.MatchString(f[1]) {
				return nil, bad("not a HELP or TYPE line")
			}
			if f[0] == "TYPE" {
				if f[2] != "counter" && f[2] != "gauge" {
					return nil, bad("unknown type")
				}
				typed[f[1]] = true
			}
			continue
		}
		brace := strings.IndexByte(line, '{')
		if brace < 0 || !metricName.MatchString(line[:brace]) || !typed[line[:brace]] {
			return nil, bad("no known metric name before '{'")
		}
		s := sample{labels: map[string]string{}}
		rest := line[brace+1:]
		for {
			eq := strings.Index(rest, `="`)
			if eq < 0 || !labelName.MatchString(rest[:eq]) {
				return nil, bad("no label name")
			}
			name := rest[:eq]
			rest = rest[eq+2:]
			var v strings.Builder
			for {
				if rest == "" {
					return nil, bad("label value not closed")
				}
				c := rest[0]
				rest = rest[1:]
				if c == '"' {
					break
				}
				if c == '\n' {
					return nil, bad("raw newline in a label value")
				}
				if c == '\\' {
					if rest == "" {
						return nil, bad("escape at the end")
					}
					switch rest[0] {
					case '\\':
						v.WriteByte('\\')
					case '"':
						v.WriteByte('"')
					case 'n':
						v.WriteByte('\n')
					default:
						return nil, bad("unknown escape")
					}
					rest = rest[1:]
					continue
				}
				v.WriteByte(c)
			}
			if _, dup := s.labels[name]; dup {
				return nil, bad("label twice")
			}
			s.labels[name] = v.String()
			if r, ok := strings.CutPrefix(rest, ","); ok {
				rest = r
				continue
			}
			r, ok := strings.CutPrefix(rest, "} ")
			if !ok {
				return nil, bad("labels not closed by '} '")
			}
			rest = r
			break
		}
		val, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			return nil, bad("value: " + err.Error())
		}
		s.value = val
		out[line[:brace]] = append(out[line[:brace]], s)
	}
	return out, nil
}

// TestStatsWatchLines: into a pipe, --watch writes a header and then one
// line a refresh, with the rates of what happened in between.
func TestStatsWatchLines(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "k", "v")
	w := openWriter(t, name)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			w.Set([]byte("k"), []byte(strconv.Itoa(i)))
			time.Sleep(time.Millisecond)
		}
	}()
	r := mustRun(t, 0, nil, "stats", name, "--watch", "--interval", "100ms", "--count", "3")
	close(stop)
	<-done
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "time ") || strings.Contains(r.stdout, "\x1b") {
		t.Fatalf("stats --watch into a pipe wrote %q", r.stdout)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		sets, err := strconv.ParseFloat(f[5], 64)
		if len(f) != 13 || err != nil || sets <= 0 {
			t.Errorf("line %q: want 13 fields and sets/s above 0 while a writer runs", l)
		}
	}
	mustRun(t, 2, nil, "stats", name, "--watch", "--interval", "0s")
}

// TestStatsWatchOnTerminal runs 'shmkv stats --watch' in tmux and reads the
// screen as a person would: one block, redrawn in place with new figures,
// gone at Ctrl-C with exit status 0.
func TestStatsWatchOnTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (CI installs it)")
	}
	bin := buildShmkv(t)
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "k", "v")
	w := openWriter(t, name)
	session := "shmkv-watch-" + strconv.Itoa(os.Getpid())
	exitFile := filepath.Join(t.TempDir(), "exit")
	script := fmt.Sprintf("%s stats %s --watch --interval 200ms; echo $? > %s", bin, name, exitFile)
	run := func(args ...string) string {
		out, err := exec.Command(tmux, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("-L", session, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", script)
	t.Cleanup(func() { exec.Command(tmux, "-L", session, "kill-server").Run() })
	screen := func() string { return run("-L", session, "capture-pane", "-p", "-t", session) }
	setsPerSecond := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "sets/s") {
				return strings.Fields(l)[1]
			}
		}
		return ""
	}

	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := screen()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %s:\n%s", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	idle := waitFor("the first refresh", func(s string) bool { return setsPerSecond(s) == "0" })
	for i := range 300 {
		w.Set([]byte("k"), []byte(strconv.Itoa(i)))
	}
	busy := waitFor("the writes", func(s string) bool { s2 := setsPerSecond(s); return s2 != "" && s2 != "0" })
	for _, s := range []string{idle, busy} {
		if n := strings.Count(s, "shmkv "+name+", every"); n != 1 {
			t.Fatalf("the title shows %d times: the block is not redrawn in place:\n%s", n, s)
		}
	}
	t.Logf("screen while writing:\n%s", strings.TrimRight(busy, "\n"))
	run("-L", session, "send-keys", "-t", session, "C-c")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(exitFile)
		if err == nil && strings.TrimSpace(string(b)) != "" {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Fatalf("exit status after Ctrl-C: %s", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stats --watch did not stop at Ctrl-C")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStatsWatchFlagsNeedWatch(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "k", "v")
	for _, args := range [][]string{{"--interval", "2s"}, {"--count", "3"}, {"--json", "--count", "1"}} {
		r := mustRun(t, 2, nil, append([]string{"stats", name}, args...)...)
		if !strings.Contains(r.stderr, "go with --watch") {
			t.Errorf("stats %v: stderr %q", args, r.stderr)
		}
	}
	mustRun(t, 0, nil, "stats", name, "--watch", "--interval", "10ms", "--count", "1")
}

// TestStatsOddNames: stats --json gives a name that is not UTF-8 in
// name_base64, which decodes to it, and the text output Go-quotes a name
// that is not printable text, so that it keeps to its line.
func TestStatsOddNames(t *testing.T) {
	name := oddTableName(t, "-\xff\n")
	mustRun(t, 0, nil, "set", name, "k", "v")
	r := mustRun(t, 0, nil, "stats", name, "--json")
	var got struct {
		Name       *string `json:"name"`
		NameBase64 string  `json:"name_base64"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if back, err := base64.StdEncoding.DecodeString(got.NameBase64); got.Name != nil || err != nil || string(back) != name {
		t.Errorf("stats --json: name %v, name_base64 %q (%q, %v), want only name_base64 of %q", got.Name, got.NameBase64, back, err, name)
	}
	r = mustRun(t, 0, nil, "stats", name)
	if first, _, _ := strings.Cut(r.stdout, "\n"); first != "table       "+strconv.Quote(name) {
		t.Errorf("stats: first line %q, want the name quoted", first)
	}
}
