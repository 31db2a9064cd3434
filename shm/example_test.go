//go:build linux

package shm_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/shmkv/shmkv/shm"
)

func Example() {
	name := fmt.Sprintf("/shmkv-example-%d", os.Getpid())
	s, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer shm.Remove(name)
	defer s.Close()

	// Reserve the memory now: a full /dev/shm fails here, not with a SIGBUS.
	if err := s.Allocate(4096); err != nil {
		fmt.Println(err)
		return
	}
	m, err := s.Map(0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Unmap()
	copy(m.Bytes(), "hello")

	// Any other process opening the name sees the same bytes.
	ro, err := shm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ro.Close()
	view, err := ro.Map(0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer view.Unmap()
	fmt.Println(string(view.Bytes()[:5]), view.ReadOnly())
	// Output: hello true
}

func ExampleShm_Map_offset() {
	name := fmt.Sprintf("/shmkv-example-offset-%d", os.Getpid())
	s, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer shm.Remove(name)
	defer s.Close()
	s.Allocate(10)

	_, err = s.Map(10)
	fmt.Println(errors.Is(err, shm.ErrBadOffset))

	m, err := s.Map(3) // need not be page-aligned
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Unmap()
	fmt.Println(len(m.Bytes()))
	// Output:
	// true
	// 7
}
