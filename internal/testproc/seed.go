package testproc

import (
	"testing"
	"time"
)

// Seed returns the seed of a random test: flagged if the flag named
// flagName was given, else from the clock. Either way it logs how to run
// the test again with it, so that a failing seed can become a regression
// case.
func Seed(t testing.TB, flagged uint64, flagName string) uint64 {
	t.Helper()
	seed := flagged
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -%s=%d)", seed, flagName, seed)
	return seed
}
