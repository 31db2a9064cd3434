package main

import (
	"fmt"
	"math/rand/v2"
)

// Cell is one measurement: a store under one workload.
type Cell struct {
	Store     string `json:"store"`
	Op        string `json:"op"`         // one of ops
	ValueSize int    `json:"value_size"` // bytes
	Keys      int    `json:"keys"`       // preloaded keys
	Dist      string `json:"dist"`       // "uniform" or "zipf"
	Workers   int    `json:"workers"`    // processes, or goroutines for in-process stores
}

// ops are the workloads: the share of reads that hit, and of writes.
var ops = []string{"get-hit", "get-miss", "set", "mix-90-10", "mix-50-50"}

const keySize = 16

// keyOf appends to dst the 16-byte key of preloaded entry i; missKeyOf
// one that is never stored.
func keyOf(dst []byte, i int) []byte     { return fmt.Appendf(dst, "%016d", i) }
func missKeyOf(dst []byte, i int) []byte { return fmt.Appendf(dst, "m%015d", i) }

// valueOf is a value of n bytes; its content does not matter.
func valueOf(n int) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = byte('a' + i%26)
	}
	return v
}

// opKind is what one operation does.
type opKind uint8

const (
	opGet opKind = iota
	opGetMiss
	opSet
)

// schedule is one worker's operations, chosen before it starts: a ring of
// operation kinds and key numbers, and every key it names, formatted once.
// Choosing and formatting on the clock cost about 110 ns an operation
// (fmt.Appendf, rand.Zipf), more than shmkv's Get, which squeezed every
// ratio toward 1; walking the ring costs a load or two.
type schedule struct {
	ring []uint32 // kind<<opShift | key number
	keys []byte   // key i is keys[i*keySize:][:keySize]
	miss []byte   // likewise, the keys that are never stored (get-miss only)
}

const (
	// scheduleLen operations, cycled: enough that a ring of uniform
	// choices over a million keys touches most of them.
	scheduleLen = 1 << 20
	opShift     = 30
)

func newSchedule(c Cell, seed uint64) *schedule {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var zipf *rand.Zipf
	if c.Dist == "zipf" {
		zipf = rand.NewZipf(rng, 1.1, 1, uint64(c.Keys-1))
	}
	s := &schedule{ring: make([]uint32, scheduleLen), keys: formatKeys(c.Keys, keyOf)}
	if c.Op == "get-miss" {
		s.miss = formatKeys(c.Keys, missKeyOf)
	}
	for n := range s.ring {
		var i int
		if zipf != nil {
			i = int(zipf.Uint64())
		} else {
			i = rng.IntN(c.Keys)
		}
		s.ring[n] = uint32(pickOp(c.Op, rng))<<opShift | uint32(i)
	}
	return s
}

// formatKeys formats keys 0..n-1 back to back.
func formatKeys(n int, format func([]byte, int) []byte) []byte {
	b := make([]byte, 0, n*keySize)
	for i := range n {
		b = format(b, i)
	}
	return b
}

// next returns the n-th operation and its key.
func (s *schedule) next(n int) (opKind, []byte) {
	r := s.ring[n&(scheduleLen-1)]
	kind, i := opKind(r>>opShift), int(r&(1<<opShift-1))
	if kind == opGetMiss {
		return kind, s.miss[i*keySize : (i+1)*keySize]
	}
	return kind, s.keys[i*keySize : (i+1)*keySize]
}

// pickOp chooses the kind of one operation of workload op.
func pickOp(op string, rng *rand.Rand) opKind {
	switch op {
	case "get-hit":
		return opGet
	case "get-miss":
		return opGetMiss
	case "set":
		return opSet
	case "mix-90-10":
		if rng.IntN(10) == 0 {
			return opSet
		}
		return opGet
	default: // mix-50-50
		if rng.IntN(2) == 0 {
			return opSet
		}
		return opGet
	}
}
