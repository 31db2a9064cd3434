//go:build !amd64 && !arm64

package kv

// Elsewhere there are no fences (fence.go): every read verifies the
// entry's checksum, whatever Options.SkipReadChecksums says.
const fencedReads = false

func loadFence()  {}
func storeFence() {}
