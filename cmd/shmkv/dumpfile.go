package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
)

// The dump format, written by 'shmkv dump' and read by 'shmkv load'. It is
// binary-safe: keys and values are length-prefixed, never delimited.
//
//	magic     the 11 bytes "shmkv-dump1"
//	records   for each entry: uvarint key length (at least 1), the key,
//	          uvarint value length, the value
//	trailer   a zero byte (a key length no record has), uvarint record
//	          count, then 8 bytes little-endian: xxhash64 of every byte
//	          before the zero byte
//
// A file cut short lacks its trailer, and a changed byte fails the
// checksum, so load can refuse both before it writes anything. For the
// same reason load needs no count at the front: it reads and checks the
// whole dump before it makes a table, and sizes the table from what it
// read, so that version 1 stays the only format (a header count would
// have meant a version 2 and two readers, for nothing load could use).
const dumpMagic = "shmkv-dump1"

// maxDumpField bounds a length read from a dump, so that a hostile file
// cannot ask for a huge allocation; kv's own limits are lower.
const maxDumpField = 1 << 31

var errTruncated = errors.New("the dump file is truncated: it has no trailer")

// dumpWriter writes the format above.
type dumpWriter struct {
	w     *bufio.Writer
	sum   *xxhash.Digest
	count uint64
	buf   [binary.MaxVarintLen64]byte
	werr  error // the first write error, after which nothing is written
}

func newDumpWriter(w io.Writer) *dumpWriter {
	d := &dumpWriter{w: bufio.NewWriterSize(w, 1<<16), sum: xxhash.New()}
	d.write([]byte(dumpMagic))
	return d
}

func (d *dumpWriter) write(b []byte) {
	if d.werr == nil {
		_, d.werr = d.w.Write(b)
	}
	d.sum.Write(b)
}

// err is the first error writing met.
func (d *dumpWriter) err() error { return d.werr }

func (d *dumpWriter) field(b []byte) {
	d.write(d.buf[:binary.PutUvarint(d.buf[:], uint64(len(b)))])
	d.write(b)
}

func (d *dumpWriter) record(key, value []byte) {
	d.field(key)
	d.field(value)
	d.count++
}

// close writes the trailer and flushes.
func (d *dumpWriter) close() error {
	if d.werr != nil {
		return d.werr
	}
	d.w.WriteByte(0)
	d.w.Write(d.buf[:binary.PutUvarint(d.buf[:], d.count)])
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], d.sum.Sum64())
	d.w.Write(sum[:])
	return d.w.Flush()
}

// dumpRecord is one entry read from a dump.
type dumpRecord struct{ key, value []byte }

// readDump reads and checks a whole dump: its magic, every record, the
// count and the checksum. It returns nothing unless all of it is sound.
func readDump(r io.Reader) ([]dumpRecord, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	sum := xxhash.New()
	tee := &summingReader{r: br, sum: sum}
	magic := make([]byte, len(dumpMagic))
	if _, err := io.ReadFull(tee, magic); err != nil || string(magic) != dumpMagic {
		return nil, fmt.Errorf("not a shmkv dump (it does not start with %q)", dumpMagic)
	}
	var recs []dumpRecord
	for {
		klen, err := binary.ReadUvarint(tee)
		if err != nil {
			return nil, truncated(err)
		}
		if klen == 0 {
			break
		}
		key, err := readField(tee, klen)
		if err != nil {
			return nil, err
		}
		vlen, err := binary.ReadUvarint(tee)
		if err != nil {
			return nil, truncated(err)
		}
		value, err := readField(tee, vlen)
		if err != nil {
			return nil, err
		}
		recs = append(recs, dumpRecord{key, value})
	}
	// The zero byte went through the summing reader: take the sum without it.
	want := tee.sumBeforeLast
	count, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, truncated(err)
	}
	var got [8]byte
	if _, err := io.ReadFull(br, got[:]); err != nil {
		return nil, truncated(err)
	}
	if count != uint64(len(recs)) {
		return nil, fmt.Errorf("the dump's trailer counts %d records, it holds %d", count, len(recs))
	}
	if binary.LittleEndian.Uint64(got[:]) != want {
		return nil, errors.New("the dump's checksum does not match its contents")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, errors.New("the dump has bytes after its trailer")
	}
	return recs, nil
}

func readField(r io.Reader, n uint64) ([]byte, error) {
	if n > maxDumpField {
		return nil, fmt.Errorf("the dump holds a field of %d bytes, more than any table accepts", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, truncated(err)
	}
	return b, nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTruncated
	}
	return err
}

// summingReader hashes what it reads, one byte at a time for ReadByte, and
// remembers the sum as it was before the last byte.
type summingReader struct {
	r             *bufio.Reader
	sum           *xxhash.Digest
	sumBeforeLast uint64
}

func (s *summingReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.sum.Write(p[:n])
	return n, err
}

func (s *summingReader) ReadByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err == nil {
		s.sumBeforeLast = s.sum.Sum64()
		s.sum.Write([]byte{b})
	}
	return b, err
}
