package doccheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadme: every Go block of the README is part of an example
// function in the tests, as it is (but for indentation and alignment), so
// that it compiles: a README block changed without its example, or an
// example without its block, fails here.
func TestReadme(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "redisnear")); os.IsNotExist(err) {
		t.Skip("redisnear is not here: this is not a checkout of the repository")
	}
	sources := map[string][]byte{}
	for _, name := range []string{"kv/example_test.go", "redisnear/example_test.go"} {
		src, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		sources[name] = src
	}
	msgs, blocks, err := Unmatched(string(readme), sources)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		t.Errorf("README.md: %s\n(make it part of an Example in kv/example_test.go or redisnear/example_test.go, or change that example to match)", m)
	}
	if blocks < 3 {
		t.Errorf("found %d Go blocks in README.md; it has at least 3", blocks)
	}
}

// TestUnmatched: a block whose indentation and spacing differ matches;
// one with a token changed, or its lines apart, does not.
func TestUnmatched(t *testing.T) {
	src := []byte("package x\n\nfunc Example_a() {\n\tx := 1\n\n\ty := x + 2 // two\n\t_ = y\n}\n\nfunc helper() {\n\tz := 3\n}\n")
	for _, tc := range []struct {
		block string
		match bool
	}{
		{"x := 1\ny := x + 2   // two", true},
		{"  x  := 1\n\n\ty := x + 2 // two\n_ = y", true},
		{"x := 1\ny := x + 3 // two", false},
		{"x := 1\n_ = y", false},
		{"z := 3", false}, // not in an example
	} {
		md := "text\n\n```go\n" + tc.block + "\n```\n\n```sh\nls\n```\n"
		msgs, blocks, err := Unmatched(md, map[string][]byte{"x_test.go": src})
		if err != nil || blocks != 1 {
			t.Fatalf("%q: %d blocks, %v", tc.block, blocks, err)
		}
		if got := len(msgs) == 0; got != tc.match {
			t.Errorf("%q: matched %v, want %v (%s)", tc.block, got, tc.match, strings.Join(msgs, "; "))
		}
	}
}
