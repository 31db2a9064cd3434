//go:build linux

package shm_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/shm"
)

// The child role of TestTwoProcesses: the test binary re-executed with
// SHM_TEST_CHILD naming the object.
func TestMain(m *testing.M) {
	if os.Getenv("SHM_TEST_UNNAMED") != "" {
		if err := childUnnamed(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		select {} // until killed
	}
	if name := os.Getenv("SHM_TEST_CHILD"); name != "" {
		if err := child(name); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child waits for the parent to store 1 in word 0, then stores 2 in word 1
// and exits.
func child(name string) error {
	s, err := shm.Open(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := s.Map(0)
	if err != nil {
		return err
	}
	defer m.Unmap()
	b := m.Bytes()
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadUint64(word(b, 0)) != 1 {
		if time.Now().After(deadline) {
			return fmt.Errorf("never saw the parent's write")
		}
		time.Sleep(time.Millisecond)
	}
	atomic.StoreUint64(word(b, 1), 2)
	return nil
}

func TestTwoProcesses(t *testing.T) {
	name, s := create(t, 4096)
	m := mustMap(t, s, 0)
	b := m.Bytes()

	c := testproc.Start(t, "SHM_TEST_CHILD="+name)
	atomic.StoreUint64(word(b, 0), 1)
	if err := c.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if got := atomic.LoadUint64(word(b, 1)); got != 2 {
		t.Fatalf("parent sees word 1 = %d, want the child's 2", got)
	}
}

// childUnnamed creates and fills an unnamed object and prints its inode
// number.
func childUnnamed() error {
	s, err := shm.CreateUnnamed(0o600)
	if err != nil {
		return err
	}
	if err := s.Allocate(1 << 20); err != nil {
		return err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(s.Fd(), &st); err != nil {
		return err
	}
	fmt.Println(st.Ino)
	return nil
}
