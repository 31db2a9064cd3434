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

// keyOf writes the 16-byte key of preloaded entry i; missKeyOf one that is
// never stored.
func keyOf(dst []byte, i int) []byte     { return fmt.Appendf(dst[:0], "%016d", i) }
func missKeyOf(dst []byte, i int) []byte { return fmt.Appendf(dst[:0], "m%015d", i) }

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

// picker chooses operations and keys for one worker.
type picker struct {
	rng  *rand.Rand
	zipf *rand.Zipf
	keys int
	op   string
}

func newPicker(c Cell, seed uint64) *picker {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	p := &picker{rng: rng, keys: c.Keys, op: c.Op}
	if c.Dist == "zipf" {
		p.zipf = rand.NewZipf(rng, 1.1, 1, uint64(c.Keys-1))
	}
	return p
}

func (p *picker) next() (opKind, int) {
	var i int
	if p.zipf != nil {
		i = int(p.zipf.Uint64())
	} else {
		i = p.rng.IntN(p.keys)
	}
	switch p.op {
	case "get-hit":
		return opGet, i
	case "get-miss":
		return opGetMiss, i
	case "set":
		return opSet, i
	case "mix-90-10":
		if p.rng.IntN(10) == 0 {
			return opSet, i
		}
		return opGet, i
	default: // mix-50-50
		if p.rng.IntN(2) == 0 {
			return opSet, i
		}
		return opGet, i
	}
}
