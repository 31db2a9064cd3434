package kv

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// entryOf returns the shard of key and its entry's offset in the data area.
func entryOf(t *testing.T, tb *Table, key string) (*view, lookup) {
	t.Helper()
	h := format.HashKey(tb.g.Seed, []byte(key))
	st := tb.shardFor(h)
	s := viewOf(t, st)
	var l lookup
	err := s.find([]byte(key), h, 0, &l)
	if err != nil || !l.found {
		t.Fatalf("find(%q) = %+v, %v", key, l, err)
	}
	return s, l
}

// damageOptions: one shard, so that every damaged key shares it with all
// the others.
var damageOptions = &Options{MaxMemory: 1 << 20, Keys: 400, Memory: 64 << 10, MaxKeySize: 32, MaxValueSize: 256}

func fillDamageTable(t *testing.T, tb *Table) map[string]string {
	want := map[string]string{}
	for i := range 200 {
		k, v := fmt.Sprint("key-", i), fmt.Sprint("value number ", i)
		mustSet(t, tb, k, v)
		want[k] = v
	}
	if len(tb.shards) != 1 {
		t.Fatalf("%d shards; the test wants one", len(tb.shards))
	}
	return want
}

// TestOneBadByte: one flipped value byte and one zeroed slot word. Before,
// the flipped byte made every key of the shard return ErrCorrupt for good,
// and there was no way back but recreating the table. Now only the damaged
// key reports ErrCorrupt (for Get, Add and CompareAndSwap alike, on
// read-write and read-only handles), every other key still reads, Check
// names the damage, and Repair drops the damaged entry, restores the key
// whose slot was zeroed, and leaves Check clean.
func TestOneBadByte(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, damageOptions)
	want := fillDamageTable(t, tb)
	mustSet(t, tb, "n", "41")
	want["n"] = "41"

	s, l := entryOf(t, tb, "key-7")
	tb.r.B[s.data+l.off+format.EntryHeaderSize+int64(l.hdr.klen)+3] ^= 0x20
	sn, ln := entryOf(t, tb, "n")
	tb.r.B[sn.data+ln.off+format.EntryHeaderSize+int64(ln.hdr.klen)] = '7' // "71": still a number
	s, l = entryOf(t, tb, "key-42")
	binary.LittleEndian.PutUint64(tb.r.B[s.slots*8+int64(l.slot)*8:], 0)
	damaged := map[string]bool{"key-7": true, "n": true}
	// A zeroed slot word ends the probe chains through it: key-42, and any
	// key placed past it on the same chain, hide until Repair. Check names
	// them.
	hidden := map[string]bool{}
	rep, err := tb.Check()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		var k string
		if _, err := fmt.Sscanf(p.What, "key %q is not reachable", &k); err == nil {
			hidden[k] = true
		}
	}
	if !hidden["key-42"] {
		t.Fatalf("Check did not find key-42 unreachable: %v", rep.Problems)
	}

	ro := openTable(t, name, &Options{ReadOnly: true})
	for _, h := range []*Table{tb, ro} {
		for k, v := range want {
			start := time.Now()
			got, ok, err := h.Get(nil, []byte(k))
			switch {
			case damaged[k]:
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("readOnly=%v: Get(%q) of a damaged entry = %q, %v, %v; want ErrCorrupt", h.readOnly, k, got, ok, err)
				}
			case hidden[k]:
				// Reads cannot tell a hidden key from an absent one.
			case err != nil || !ok || string(got) != v:
				t.Errorf("readOnly=%v: Get(%q) = %q, %v, %v; want %q", h.readOnly, k, got, ok, err, v)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("readOnly=%v: Get(%q) took %v", h.readOnly, k, d)
			}
		}
	}
	if _, err := tb.Add([]byte("n"), 1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Add on a damaged counter: %v, want ErrCorrupt", err)
	}
	if _, err := tb.CompareAndSwap([]byte("key-7"), []byte("value number 7"), []byte("x")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("CompareAndSwap on a damaged entry: %v, want ErrCorrupt", err)
	}
	seen := map[string]string{}
	err = tb.Range(func(k, v []byte) bool { seen[string(k)] = string(v); return true })
	// Range walks the slots, not the probe chains: it sees hidden keys.
	if !errors.Is(err, ErrCorrupt) || len(seen) != len(want)-3 {
		t.Errorf("Range saw %d keys and returned %v; want %d (all but the two damaged and key-42) and ErrCorrupt", len(seen), err, len(want)-3)
	}
	rep, err = tb.Check()
	if err != nil || len(rep.Problems) < 3 {
		t.Fatalf("Check before Repair: %v, %+v", err, rep)
	}
	for _, p := range rep.Problems {
		t.Logf("before repair: %v", p)
	}

	rep, err = tb.Repair()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 2 {
		t.Errorf("Repair reported %v; want the two damaged entries dropped", rep.Problems)
	}
	for _, p := range rep.Problems {
		t.Logf("repair: %v", p)
	}
	mustCheck(t, tb)
	for k, v := range want {
		got, ok := mustGet(t, tb, k)
		if damaged[k] {
			if ok {
				t.Errorf("%q survived Repair as %q", k, got)
			}
			continue
		}
		if !ok || got != v {
			t.Errorf("after Repair %q = %q, %v; want %q", k, got, ok, v)
		}
	}
	var st Stats
	tb.Stats(&st)
	if st.Damaged != 2 || st.Entries != uint64(len(want)-2) {
		t.Errorf("Stats after Repair: %d damaged, %d entries", st.Damaged, st.Entries)
	}
	if n, err := tb.Add([]byte("n"), 1); err != nil || n != 1 {
		t.Errorf("Add after Repair = %d, %v", n, err)
	}
}

// TestSkipReadChecksums: a handle that skips checksums reads a damaged
// value as it now is, where a verifying handle, on the same table at the
// same time, reads ErrCorrupt; Check finds the damage whoever reads. Where
// the fences are not built, the option is ignored and both verify.
func TestSkipReadChecksums(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, damageOptions)
	want := fillDamageTable(t, tb)
	skipping := openTable(t, name, &Options{NoCreate: true, SkipReadChecksums: true})
	s, l := entryOf(t, tb, "key-7")
	tb.r.B[s.data+l.off+format.EntryHeaderSize+int64(l.hdr.klen)+3] ^= 0x20

	if _, _, err := tb.Get(nil, []byte("key-7")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("verifying Get of the damaged entry: %v, want ErrCorrupt", err)
	}
	got, ok, err := skipping.Get(nil, []byte("key-7"))
	if region.FencedReads {
		if damagedValue := "valUe number 7"; err != nil || !ok || string(got) != damagedValue {
			t.Errorf("skipping Get of the damaged entry = %q, %v, %v; want %q", got, ok, err, damagedValue)
		}
	} else if !errors.Is(err, ErrCorrupt) {
		t.Errorf("skipping Get without fences: %v, want ErrCorrupt", err)
	}
	for k, v := range want {
		if k == "key-7" {
			continue
		}
		if got, ok, err := skipping.Get(nil, []byte(k)); err != nil || !ok || string(got) != v {
			t.Errorf("skipping Get(%q) = %q, %v, %v; want %q", k, got, ok, err, v)
		}
	}
	rep, err := skipping.Check()
	if err != nil || len(rep.Problems) != 1 {
		t.Errorf("Check = %v, %v; want the damaged entry", rep.Problems, err)
	}
}

// TestDamagedHeaderCostsOneEntry: an entry whose lengths word is garbage
// cannot even be measured; the walkers step over it to the next whole
// entry. Its key is lost; no other is, before or after Repair, and writes
// that clean the log past it keep working.
func TestDamagedHeaderCostsOneEntry(t *testing.T) {
	tb := newTable(t, damageOptions)
	want := fillDamageTable(t, tb)
	s, l := entryOf(t, tb, "key-3")
	binary.LittleEndian.PutUint64(tb.r.B[s.data+l.off:], 0xdead_beef_dead_beef)
	delete(want, "key-3")
	for k, v := range want {
		if got, ok, err := tb.Get(nil, []byte(k)); err != nil || !ok || string(got) != v {
			t.Fatalf("Get(%q) = %q, %v, %v; want %q", k, got, ok, err, v)
		}
	}
	if rep, err := tb.Check(); err != nil || len(rep.Problems) == 0 {
		t.Fatalf("Check missed the damage: %v, %v", rep, err)
	}
	// Overwrite everything many times: cleaning passes the damage.
	for round := range 20 {
		for k := range want {
			v := fmt.Sprint(k, " round ", round)
			mustSet(t, tb, k, v)
			want[k] = v
		}
	}
	var st Stats
	tb.Stats(&st)
	if st.Damaged == 0 {
		t.Error("cleaning never met the damaged entry")
	}
	mustCheck(t, tb)
	for k, v := range want {
		if got, ok := mustGet(t, tb, k); !ok || got != v {
			t.Fatalf("%q = %q, %v; want %q", k, got, ok, v)
		}
	}
}

// TestHostileValueLength: an entry header claiming a value longer than the
// shard's whole log, as a hostile peer may write, makes no read leave the
// data area (it once read past the object's end and panicked); the key is
// lost to damage, every other key stays, and Check says so.
func TestHostileValueLength(t *testing.T) {
	tb := newTable(t, &Options{MaxMemory: 1 << 20, Keys: 400, Memory: 64 << 10, MaxKeySize: 32, MaxValueSize: 256 << 20})
	want := map[string]string{}
	for i := range 50 {
		k, v := fmt.Sprint("key-", i), fmt.Sprint("value number ", i)
		mustSet(t, tb, k, v)
		want[k] = v
	}
	s, l := entryOf(t, tb, "key-3")
	w := binary.LittleEndian.Uint64(tb.r.B[s.data+l.off:])
	w = w&^(uint64(1<<format.EntValueBits-1)<<format.EntKeyBits) | uint64(250<<20)<<format.EntKeyBits
	binary.LittleEndian.PutUint64(tb.r.B[s.data+l.off:], w)
	delete(want, "key-3")
	if got, ok, err := tb.Get(nil, []byte("key-3")); ok {
		t.Errorf("Get of the damaged key = %d bytes, %v, %v", len(got), ok, err)
	}
	for k, v := range want {
		if got, ok, err := tb.Get(nil, []byte(k)); err != nil || !ok || string(got) != v {
			t.Fatalf("Get(%q) = %q, %v, %v; want %q", k, got, ok, err, v)
		}
	}
	if rep, err := tb.Check(); err != nil || len(rep.Problems) == 0 {
		t.Fatalf("Check missed the damage: %v, %v", rep, err)
	}
}

// TestHostileLargestCounter: a largest-entry counter no entry could have
// (written by a damaged or hostile peer) neither overflows the reserve nor
// stops writes; the shard keeps taking them and stays whole.
func TestHostileLargestCounter(t *testing.T) {
	tb := newTable(t, damageOptions)
	want := fillDamageTable(t, tb)
	for _, bad := range []uint64{1 << 62, 1<<63 + 5, ^uint64(0)} {
		tb.shards[0].ctlStore(format.CtlLargest, bad)
		for i := range 300 {
			k, v := fmt.Sprint("key-", i%250), fmt.Sprint("value ", i, " after ", bad)
			mustSet(t, tb, k, v)
			want[k] = v
		}
		for k, v := range want {
			if got, ok := mustGet(t, tb, k); !ok || got != v {
				t.Fatalf("largest %#x: %q = %q, %v; want %q", bad, k, got, ok, v)
			}
		}
		mustCheck(t, tb)
	}
}

// TestDamageInTheSmallLog: a garbage header in an evicting table's small log
// (evict.go), and a bad byte in another entry's value there, cost those
// two keys alone: reads of the others are right, the damaged value is an
// error, never a wrong value, and the small log's cleaning, when it
// reaches the garbage, drops it and leaves the shard whole.
func TestDamageInTheSmallLog(t *testing.T) {
	opts := *damageOptions
	opts.Eviction = EvictS3FIFO
	tb := newTable(t, &opts)
	want := fillDamageTable(t, tb)
	var victims []string
	for i := range 200 {
		k := fmt.Sprint("key-", i)
		s, l := entryOf(t, tb, k)
		if l.off >= s.lo {
			continue
		}
		if len(victims) == 0 {
			binary.LittleEndian.PutUint64(tb.r.B[s.data+l.off:], 0xdead_beef_dead_beef)
		} else {
			tb.r.B[s.data+l.hdr.valueAt(l.off)] ^= 0x40
		}
		victims = append(victims, k)
		delete(want, k)
		if len(victims) == 2 {
			break
		}
	}
	if len(victims) < 2 {
		t.Fatalf("%d keys in the small log; the test wants two", len(victims))
	}
	for k, v := range want {
		if got, ok := mustGet(t, tb, k); !ok || got != v {
			t.Fatalf("%q = %q, %v; want %q", k, got, ok, v)
		}
	}
	if got, ok, err := tb.Get(nil, []byte(victims[1])); ok || err == nil {
		t.Errorf("the key with a damaged value reads %q, %v, %v", got, ok, err)
	}
	// New keys push the small log's cleaning past the garbage.
	var st Stats
	for i := 0; st.Damaged == 0; i++ {
		if i > 10_000 {
			t.Fatal("cleaning never met the garbage header")
		}
		mustSet(t, tb, fmt.Sprint("new-", i), "new value")
		tb.Stats(&st)
	}
	if got, ok, _ := tb.Get(nil, []byte(victims[0])); ok {
		t.Errorf("the key whose header was garbage reads %q", got)
	}
	for k, v := range want {
		if got, ok, err := tb.Get(nil, []byte(k)); err == nil && ok && got != nil && string(got) != v {
			t.Fatalf("%q = %q; want %q or evicted", k, got, v)
		}
	}
	tb.Delete([]byte(victims[1]))
	mustCheck(t, tb)
}

var plainSeed = flag.Uint64("kv.plain.seed", 0, "seed for TestPlainEntryIsWhatItemInFinds (0: from the clock)")

// TestPlainEntryIsWhatItemInFinds: cleaning takes a tail entry whose
// header is plain (entryHeader.plain) without itemIn, on the claim that
// itemIn would find that same entry there. Try it on head words of every
// kind, whole and garbage, skip records among them, at room from none to
// more than the entry: wherever plain says so, itemIn agrees.
func TestPlainEntryIsWhatItemInFinds(t *testing.T) {
	t.Parallel()
	tb := newTable(t, damageOptions)
	fillDamageTable(t, tb)
	v := viewOf(t, &tb.shards[0])
	rng := rand.New(rand.NewPCG(testproc.Seed(t, *plainSeed, "kv.plain.seed"), 24))
	// The last words of the main log: the entries tried here wrap, or
	// would, and none of the table's own entries is disturbed where it
	// matters (the test only reads).
	p := uint64(v.size - 64)
	off := v.mainOff(p)
	var plain, skips int
	for i := range 200_000 {
		var w uint64
		switch rng.IntN(4) {
		case 0: // any word
			w = rng.Uint64()
		case 1: // a skip record, or nearly
			w = uint64(rng.IntN(1<<12)) << 32
		default: // a header, its fields near their limits
			klen := uint64(rng.IntN(v.maxKey + 2))
			vlen := uint64(rng.IntN(v.maxValue + 2))
			w = klen | vlen<<format.EntKeyBits | uint64(rng.IntN(8))<<format.EntStateShift
			if rng.IntN(2) == 0 {
				w |= format.EntExpiryBit
			}
			if rng.IntN(8) == 0 {
				w |= uint64(1) << (format.EntKeyBits + format.EntValueBits + uint(rng.IntN(12)))
			}
		}
		tb.r.Store((v.data+off)/8, w)
		tb.r.Store((v.data+v.wrap(off+8))/8, rng.Uint64())
		tb.r.Store((v.data+v.wrap(off+16))/8, rng.Uint64())
		room := uint64(rng.IntN(int(format.EntrySize(v.maxKey, v.maxValue, true)) + 64))
		room = min(room, uint64(v.size))
		if _, ok := v.skipAt(off); ok {
			skips++
		}
		e, ok := v.loadHeader(off)
		if !ok || !e.plain(room) {
			continue
		}
		plain++
		it := v.itemAt(p, p+room, false)
		if it.kind != itemEntry || it.off != off || it.hdr != e || it.size != uint64(e.size()) {
			t.Fatalf("word %d, %#x, room %d: plain header %+v of size %d, but itemIn found %+v", i, w, room, e, e.size(), it)
		}
	}
	if plain < 1000 || skips < 1000 {
		t.Fatalf("%d plain headers and %d skip records in the words tried: the test proved less than it says", plain, skips)
	}
}
