package kv

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestErrorTexts checks that errors give the sizes and cases behind them,
// say "shmkv:" once, and still match their sentinels.
func TestErrorTexts(t *testing.T) {
	tb := newTable(t, &Options{Keys: 100, Memory: 1 << 20, MaxKeySize: 8, MaxValueSize: 19})
	mustSet(t, tb, "text", "x")
	mustSet(t, tb, "max", "9223372036854775807")
	_, addText := tb.Add([]byte("text"), 1)
	_, addMax := tb.Add([]byte("max"), 3)
	mustSet(t, tb, "wide", "-999999999999999999") // 19 bytes, the limit
	_, addWide := tb.Add([]byte("wide"), -1)
	_, _, getEmpty := tb.Get(nil, nil)
	for _, c := range []struct {
		err      error
		sentinel error
		text     string
	}{
		{tb.Set([]byte("123456789"), []byte("v")), ErrKeyTooLarge, "shmkv: key empty or too large: 9 bytes, limit 8"},
		{getEmpty, ErrKeyTooLarge, "shmkv: key empty or too large: the key is empty"},
		{tb.Set([]byte("k"), bytes.Repeat([]byte("v"), 20)), ErrValueTooLarge, "shmkv: value too large: 20 bytes, limit 19"},
		{addText, ErrNotNumber, "shmkv: value is not a decimal integer"},
		{addMax, ErrNotNumber, "shmkv: value 9223372036854775807 plus 3 overflows a 64-bit integer"},
		{addWide, ErrValueTooLarge, "shmkv: value too large: 20 bytes, limit 19"},
	} {
		if !errors.Is(c.err, c.sentinel) || c.err == nil || c.err.Error() != c.text {
			t.Errorf("error %v, want %q (matching %v)", c.err, c.text, c.sentinel)
		}
	}

	// An open that fails on the object says "shmkv:" once.
	name := uniqueName(t)
	if err := os.WriteFile("/dev/shm/"+name, bytes.Repeat([]byte{0xff}, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(name, &Options{NoCreate: true})
	if !errors.Is(err, ErrCorrupt) || strings.Count(err.Error(), "shmkv:") != 1 || !strings.HasPrefix(err.Error(), "shmkv: open ") {
		t.Errorf("Open of a garbage object: %v", err)
	}
}
