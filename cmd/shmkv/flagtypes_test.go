package main

import (
	"testing"

	"github.com/shmkv/shmkv/kv"
)

// TestPolicyFlag: --eviction takes the policy's name and its first name,
// and refuses anything else without changing the flag.
func TestPolicyFlag(t *testing.T) {
	for _, c := range []struct {
		in   string
		want kv.Policy
	}{{"none", kv.NoEviction}, {"s3fifo", kv.EvictS3FIFO}, {"lru", kv.EvictS3FIFO}} {
		p := policyFlag(kv.NoEviction)
		if err := p.Set(c.in); err != nil || kv.Policy(p) != c.want {
			t.Errorf("Set(%q) = %v, policy %v; want %v", c.in, err, kv.Policy(p), c.want)
		}
	}
	p := policyFlag(kv.EvictS3FIFO)
	if err := p.Set("LRU"); err == nil || kv.Policy(p) != kv.EvictS3FIFO {
		t.Errorf("Set(%q) = %v, policy %v; want an error and no change", "LRU", err, kv.Policy(p))
	}
	if s := p.String(); s != "s3fifo" {
		t.Errorf("String() = %q, want s3fifo", s)
	}
}
