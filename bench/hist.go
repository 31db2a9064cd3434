package main

import (
	"math/bits"
	"time"
)

// hist is a latency histogram with about 3% resolution: 16 linear
// sub-buckets in each power of two of nanoseconds.
type hist struct {
	Counts [64 * 16]uint64 `json:"counts"`
	N      uint64          `json:"n"`
}

func bucketOf(ns uint64) int {
	if ns < 16 {
		return int(ns)
	}
	exp := bits.Len64(ns) - 5 // ns >> exp is in [16, 32)
	return exp*16 + int(ns>>exp)
}

func bucketFloor(b int) uint64 {
	if b < 32 {
		return uint64(b)
	}
	exp := b/16 - 1
	return uint64(16+b%16) << exp
}

func (h *hist) add(d time.Duration) {
	b := bucketOf(uint64(max(d, 0)))
	if b >= len(h.Counts) {
		b = len(h.Counts) - 1
	}
	h.Counts[b]++
	h.N++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.N += o.N
}

// quantile returns the latency below which a fraction q of samples fall.
func (h *hist) quantile(q float64) time.Duration {
	if h.N == 0 {
		return 0
	}
	want := uint64(q * float64(h.N))
	var seen uint64
	for b, c := range h.Counts {
		seen += c
		if seen > want {
			return time.Duration(bucketFloor(b))
		}
	}
	return time.Duration(bucketFloor(len(h.Counts) - 1))
}
