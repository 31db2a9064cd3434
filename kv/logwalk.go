package kv

import "github.com/shmkv/shmkv/kv/internal/format"

// Walking the log. Rebuild, cleaning, Check and Repair all read a shard's
// log from tail to head, and all must get past damage: a header that a bad
// byte made unreadable, or an entry whose checksum no longer holds. Such
// damage costs the entries it touches and no more. A walker that meets it
// resynchronises: it looks, 8 bytes at a time, for the next position that
// holds a whole entry whose checksum holds, and treats everything before
// that as one damaged stretch.
//
// Repair (repair.go) writes a skip record over each damaged stretch, so
// that the log reads cleanly afterwards: a word whose low 32 bits (the key
// length of an entry) are 0 and whose high 32 bits are the stretch's length
// n, a multiple of 8 and at least 8. No entry has a key length of 0, and
// zeroed memory gives n = 0, which is no skip record either.

// itemKind is what a walker found at a log position.
type itemKind int

const (
	itemEntry  itemKind = iota // an entry whose header is readable and, if asked, whose checksum holds
	itemSkip                   // a skip record written by Repair
	itemDamage                 // a damaged stretch: an unreadable header, or an entry failing its checksum
)

// logItem is one step of a walk.
type logItem struct {
	kind itemKind
	off  int64       // data offset of the item
	hdr  entryHeader // for itemEntry
	size uint64      // log bytes to the next item
}

// maxSkip is the longest stretch one skip record covers.
const maxSkip = 1<<32 - 8

// ring is one of a shard's logs: the main log, or an evicting table's
// small log (evict.go), whose entries never wrap.
type ring struct {
	base, size int64 // its data offsets are [base, base+size)
	wraps      bool
	head, tail int64 // its head and tail fields in the extent header
}

func (v *view) mainRing() ring { return ring{v.lo, v.size, true, format.ExtHead, format.ExtTail} }
func (v *view) smallRing() ring {
	return ring{0, v.lo, false, format.ExtSmallHead, format.ExtSmallTail}
}

func (v *view) ringHead(r ring) uint64 { return v.r.Load(v.hdr + r.head/8) }
func (v *view) ringTail(r ring) uint64 { return v.r.Load(v.hdr + r.tail/8) }

// rings are the shard's logs, the small one first: a key live in both (a
// writer died moving it to the main log, or writing its new version there)
// is newer in the main one (internal/format/layout.go).
func (v *view) rings() []ring {
	if v.lo == 0 {
		return []ring{v.mainRing()}
	}
	return []ring{v.smallRing(), v.mainRing()}
}

// liveItems calls fn, in log order, for each live entry of v's log r
// with its key's hash, until fn fails. A log whose head and tail do not
// bound it is errCorruptIndex.
func (v *view) liveItems(r ring, fn func(it *logItem, h uint64) error) error {
	head, tail := v.ringHead(r), v.ringTail(r)
	if head < tail || head-tail > uint64(r.size) {
		return errCorruptIndex
	}
	for q := tail; q != head; {
		it := v.itemIn(r, q, head, false)
		q += it.size
		if it.kind != itemEntry || it.hdr.state != format.EntryLive {
			continue
		}
		if err := fn(&it, v.hashAt(it.off, &it.hdr)); err != nil {
			return err
		}
	}
	return nil
}

// itemAt reads the item at main log position p, which is below head.
func (v *view) itemAt(p, head uint64, verify bool) logItem {
	return v.itemIn(v.mainRing(), p, head, verify)
}

// itemIn reads the item at position p of ring r, which is below head. With
// verify, an entry whose checksum fails is damage; without, entries are
// taken on their headers (cheap, for cleaning, which verifies only what it
// must). It never returns an item reaching past head, nor, in a ring whose
// entries do not wrap, past the ring's end.
func (v *view) itemIn(r ring, p, head uint64, verify bool) logItem {
	off := r.base + int64(p%uint64(r.size))
	room := r.room(p, head)
	if n, ok := v.skipAt(off); ok && n <= room {
		return logItem{kind: itemSkip, off: off, size: n}
	}
	if e, ok := v.entryAt(off, room, verify); ok {
		return logItem{kind: itemEntry, off: off, hdr: e, size: uint64(e.size())}
	}
	q := p + 8
	for ; q < head; q += 8 {
		if _, ok := v.entryAt(r.base+int64(q%uint64(r.size)), r.room(q, head), true); ok {
			break
		}
	}
	return logItem{kind: itemDamage, off: off, size: q - p}
}

// plain reports whether e, a header loadHeader accepted, is that of a
// plain entry in room bytes: it takes no more than room, and is dead or
// live (not marked). For the item at a position p whose header is plain
// in room(p, head), itemIn without verify returns that entry, with e as
// its header and its size (a skip record's key length is 0, so e's is
// none): a caller holding e can skip itemIn.
func (e *entryHeader) plain(room uint64) bool {
	return uint64(e.size()) <= room && (e.state == format.EntryDead || e.state == format.EntryLive)
}

// room is how many bytes an item at position p of r may take: up to head,
// and in a log whose entries do not wrap, up to its end.
func (r ring) room(p, head uint64) uint64 {
	if r.wraps {
		return head - p
	}
	return min(head-p, uint64(r.size)-p%uint64(r.size))
}

// skipAt reports the length of the skip record at off, if there is one.
func (v *view) skipAt(off int64) (uint64, bool) {
	w := v.word(off)
	n := w >> 32
	return n, uint32(w) == 0 && n >= 8 && n%8 == 0
}

// entryAt loads the entry at off and reports whether it is whole: lengths
// within the table's limits, a known state, no more than room bytes, and,
// with verify, its checksum holding.
func (v *view) entryAt(off int64, room uint64, verify bool) (entryHeader, bool) {
	e, ok := v.loadHeader(off)
	if !ok || uint64(e.size()) > room {
		return e, false
	}
	switch e.state {
	case format.EntryLive, format.EntryDead, format.EntryLive | format.EntryMarked:
	default:
		return e, false
	}
	return e, !verify || v.checksumAt(off, &e) == e.checksum
}

// hashAt hashes the key of the entry e at off, in place.
func (v *view) hashAt(off int64, e *entryHeader) uint64 {
	a, b := v.pieces(e.keyAt(off), e.klen)
	return format.HashPieces(v.seed, a, b)
}

// checksumAt computes the checksum of the entry at off, in place; compare
// format.EntryChecksum.
func (v *view) checksumAt(off int64, e *entryHeader) uint64 {
	a, b := v.pieces(e.valueAt(off), e.vlen)
	return format.EntryChecksum(v.hashAt(off, e), e.head, e.expires, format.SumPieces(a, b))
}

// keysEqualAt compares the keys, of klen bytes each, of the entries ea at
// a and eb at b.
func (v *view) keysEqualAt(a int64, ea *entryHeader, b int64, eb *entryHeader, klen int) bool {
	a, b = ea.keyAt(a), eb.keyAt(b)
	for i := 0; i < klen; i += 8 {
		wa, wb := v.word(v.wrap(a+int64(i))), v.word(v.wrap(b+int64(i)))
		if rest := klen - i; rest < 8 {
			m := uint64(1)<<(8*rest) - 1
			wa, wb = wa&m, wb&m
		}
		if wa != wb {
			return false
		}
	}
	return true
}
