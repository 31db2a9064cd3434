// Package fuzz holds go test -fuzz targets that drive package kv through its
// public API from outside: random operation sequences checked against a map
// (FuzzOps), arbitrary bytes opened as a table (FuzzOpenHostile), and
// arbitrary bytes written over a live table (FuzzRegionBytes).
//
// CI runs each target for a fixed number of inputs (.ci/run says why not a
// fixed time); run one longer with, e.g.,
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzOps$' -fuzztime 10m
//
// FuzzOpenHostile's inputs grow from a table's image of about 40 KB, and Go
// minimizes every new input for up to a minute by default, during which
// the exec count stands still: -fuzzminimizetime 5s leaves more of a long
// run to fuzzing.
package fuzz
