package main

import (
	"fmt"
	"strconv"

	"github.com/shmkv/shmkv/kv"
)

// policyFlag is a flag naming an eviction policy: none or s3fifo (lru, its
// first name, is taken too).
type policyFlag kv.Policy

func (p *policyFlag) String() string { return kv.Policy(*p).String() }

func (p *policyFlag) Set(v string) error {
	switch v {
	case "none":
		*p = policyFlag(kv.NoEviction)
	case "s3fifo", "lru":
		*p = policyFlag(kv.EvictS3FIFO)
	default:
		return fmt.Errorf("%q is not none or s3fifo", v)
	}
	return nil
}

func (p *policyFlag) Type() string { return "POLICY" }

// modeFlag is a flag holding permission bits, written in octal.
type modeFlag uint32

func (f *modeFlag) String() string { return fmt.Sprintf("%04o", uint32(*f)) }

func (f *modeFlag) Set(v string) error {
	mode, err := strconv.ParseUint(v, 8, 32)
	if err != nil || mode&^0o777 != 0 || mode == 0 {
		return fmt.Errorf("%q is not permission bits in octal, such as 0600", v)
	}
	*f = modeFlag(mode)
	return nil
}

func (f *modeFlag) Type() string { return "MODE" }
