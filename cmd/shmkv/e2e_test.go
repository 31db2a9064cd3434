package main

import (
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestEndToEnd builds the shmkv binary and has separate shmkv processes
// write and read the same table.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildShmkv(t)
	name := tableName(t)
	shmkv := func(args ...string) (string, int) {
		out, err := exec.Command(bin, args...).Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if _, code := shmkv("set", name, "greeting", "hello"); code != 0 {
		t.Fatalf("set: exit %d", code)
	}
	if out, code := shmkv("get", name, "greeting"); out != "hello" || code != 0 {
		t.Fatalf("get in another process = %q, exit %d", out, code)
	}
	if _, code := shmkv("get", name, "nope"); code != 1 {
		t.Fatalf("get of a missing key: exit %d", code)
	}
	// Two processes at a time, each incrementing 25 times.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if _, code := shmkv("incr", name, "n"); code != 0 {
					t.Errorf("incr: exit %d", code)
				}
			}
		}()
	}
	wg.Wait()
	if out, _ := shmkv("get", name, "n"); out != "50" {
		t.Fatalf("after 50 increments from two processes: %q", out)
	}
	if out, code := shmkv("check", name); code != 0 || !strings.Contains(out, "clean") {
		t.Fatalf("check: %q, exit %d", out, code)
	}
}
