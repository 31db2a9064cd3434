package kv

import (
	"os"
	"sort"

	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/host"
	"github.com/shmkv/shmkv/shm"
)

// IsTable reports whether the shared-memory object name begins with
// shmkv's magic number, of any version: that is, whether it is a table
// (perhaps corrupt, perhaps newer than this package) rather than something
// else in /dev/shm.
func IsTable(name string) (bool, error) {
	sh, err := shm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		return false, err
	}
	defer sh.Close()
	size, err := sh.Size()
	if err != nil || size < 8 {
		return false, err
	}
	// Read, not mapped: mapping a table takes its whole size in address
	// space, which a process under ulimit -v may not have, and List would
	// then leave the table out as if it were none.
	mg, err := host.ReadWord(int(sh.Fd()), format.OffMagic)
	if err != nil {
		return false, err
	}
	return mg&magicPrefixMask == format.Magic&magicPrefixMask, nil
}

// magicPrefixMask keeps the "SHMKV\x00" part of the magic, without its
// version.
const magicPrefixMask = 0xffff_ffff_ffff

// List returns the names of the tables in /dev/shm, sorted, each without a
// leading '/'. Objects it cannot read are left out.
func List() ([]string, error) {
	ents, err := os.ReadDir(shm.Dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if ok, _ := IsTable(e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
