//go:build !amd64 && !arm64

package region

// Elsewhere there are no fences (fence.go): every read verifies the
// entry's checksum, whatever kv's Options.SkipReadChecksums says.

// FencedReads reports that LoadFence and StoreFence order memory: here
// they do not.
const FencedReads = false

// LoadFence does nothing here; see FencedReads.
func LoadFence() {}

// StoreFence does nothing here; see FencedReads.
func StoreFence() {}
