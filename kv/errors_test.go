package kv

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv/internal/format"
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

// TestOptionError: an option Open cannot meet is an *OptionError that names
// the field, with its range or the table's value, matches
// ErrInvalidOptions, and says sizes in binary units with one "shmkv:".
func TestOptionError(t *testing.T) {
	name := uniqueName(t)
	openTable(t, name, &Options{MaxKeySize: 1024})
	for _, c := range []struct {
		name string
		o    *Options
		want OptionError
		text string
	}{
		{uniqueName(t), &Options{MaxMemory: 1}, OptionError{Option: "MaxMemory", Value: 1, Min: minMaxMemory, Max: maxMaxMemory, InRange: true},
			"shmkv: invalid options: Options.MaxMemory 1 B is out of range (64 KiB to 5.3 TiB)"},
		{uniqueName(t), &Options{MaxMemory: 1 << 20, Memory: 2 << 20}, OptionError{Option: "Memory", Value: 2 << 20, Max: 1 << 20, MaxOption: "MaxMemory", InRange: true},
			"shmkv: invalid options: Options.Memory 2 MiB is out of range (0 B to 1 MiB, Options.MaxMemory)"},
		{uniqueName(t), &Options{Keys: -3}, OptionError{Option: "Keys", Value: -3, Max: format.MaxShards * format.MaxSlots / 2, InRange: true},
			"shmkv: invalid options: Options.Keys -3 is out of range (0 to 549755813888)"},
		{uniqueName(t), &Options{MaxValueSize: MaxValueLimit + 1}, OptionError{Option: "MaxValueSize", Value: MaxValueLimit + 1, Max: MaxValueLimit, InRange: true},
			"shmkv: invalid options: Options.MaxValueSize 1.0 GiB is out of range (0 B to 1 GiB)"},
		{name, &Options{MaxKeySize: 64}, OptionError{Option: "MaxKeySize", Value: 64, Existing: true, Table: 1024},
			"shmkv: open /" + name + ": invalid options: Options.MaxKeySize 64 B, the table has 1 KiB"},
		{name, &Options{Eviction: EvictS3FIFO}, OptionError{Option: "Eviction", Value: int64(EvictS3FIFO), Existing: true, Table: int64(NoEviction)},
			"shmkv: open /" + name + ": invalid options: Options.Eviction s3fifo, the table has none"},
		{uniqueName(t), &Options{Exclusive: true, NoCreate: true}, OptionError{Option: "Exclusive", Value: 1, Reason: "Options.Exclusive and Options.NoCreate together"},
			"shmkv: invalid options: Options.Exclusive and Options.NoCreate together"},
	} {
		_, err := Open(c.name, c.o)
		var oe *OptionError
		if !errors.As(err, &oe) || !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Open(%+v) = %v, want an *OptionError matching ErrInvalidOptions", c.o, err)
			continue
		}
		if *oe != c.want {
			t.Errorf("Open(%+v): %+v, want %+v", c.o, *oe, c.want)
		}
		if err.Error() != c.text {
			t.Errorf("Open(%+v): %q, want %q", c.o, err.Error(), c.text)
		}
	}
}
