//go:build linux

package shm_test

import (
	"unsafe"
)

// word views 8 bytes of a mapping as a uint64 for atomic access, so that the
// compiler cannot cache it across a polling loop. Mappings are page-aligned,
// so &b[8*i] is 8-byte aligned.
func word(b []byte, i int) *uint64 {
	_ = b[8*i+7]
	return (*uint64)(unsafe.Pointer(&b[8*i]))
}
