package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/redis/go-redis/v9"
)

// server is a peer the harness runs as a real server on a Unix socket.
type server struct {
	cmd  *exec.Cmd
	dir  string
	sock string
}

func (s *server) start(bin string, args func(sock string) []string) error {
	dir, err := os.MkdirTemp("", "shmkv-bench-srv-")
	if err != nil {
		return err
	}
	s.dir, s.sock = dir, filepath.Join(dir, "sock")
	s.cmd = exec.Command(bin, args(s.sock)...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	for range 500 {
		if c, err := net.Dial("unix", s.sock); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop()
	return fmt.Errorf("%s did not listen on %s", bin, s.sock)
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	os.RemoveAll(s.dir)
}

func installHint(bin, pkg string) string {
	if _, err := exec.LookPath(bin); err == nil {
		return ""
	}
	return "not installed: apt-get install " + pkg
}

// redisStore: a real redis-server, one request at a time or pipelined.
type redisStore struct {
	server
	pipeline int
}

func (s *redisStore) name() string {
	if s.pipeline > 1 {
		return "Redis pipelined " + strconv.Itoa(s.pipeline)
	}
	return "Redis"
}
func (s *redisStore) shareable() bool   { return true }
func (s *redisStore) available() string { return installHint("redis-server", "redis-server") }

func (s *redisStore) setup(keys, valueSize int) (string, error) {
	err := s.start("redis-server", func(sock string) []string {
		return []string{"--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no"}
	})
	if err != nil {
		return "", err
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.sock})
	defer c.Close()
	v := valueOf(valueSize)
	ctx := context.Background()
	for start := 0; start < keys; start += 1000 {
		p := c.Pipeline()
		for i := start; i < min(start+1000, keys); i++ {
			p.Set(ctx, string(keyOf(nil, i)), v, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return "", err
		}
	}
	return s.sock, nil
}

func (s *redisStore) connect(target string) (client, error) {
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: target, PoolSize: 1})
	return &redisClient{c: c, pipeline: s.pipeline}, c.Ping(context.Background()).Err()
}

func (s *redisStore) bytesPerEntry(keys int) float64 {
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.sock})
	defer c.Close()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n / float64(keys)
		}
	}
	return 0
}
func (s *redisStore) teardown() { s.stop() }

type redisClient struct {
	c        *redis.Client
	pipeline int
}

func (c *redisClient) batchSize() int { return c.pipeline }
func (c *redisClient) close()         { c.c.Close() }
func (c *redisClient) do(batch []request) error {
	ctx := context.Background()
	if c.pipeline == 1 {
		for _, r := range batch {
			var err error
			if r.kind == opSet {
				err = c.c.Set(ctx, string(r.key), r.value, 0).Err()
			} else if err = c.c.Get(ctx, string(r.key)).Err(); err == redis.Nil {
				err = nil
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	p := c.c.Pipeline()
	for _, r := range batch {
		if r.kind == opSet {
			p.Set(ctx, string(r.key), r.value, 0)
		} else {
			p.Get(ctx, string(r.key))
		}
	}
	_, err := p.Exec(ctx)
	if err == redis.Nil {
		err = nil
	}
	return err
}

// memcachedStore: a real memcached.
type memcachedStore struct{ server }

func (s *memcachedStore) name() string      { return "memcached" }
func (s *memcachedStore) shareable() bool   { return true }
func (s *memcachedStore) available() string { return installHint("memcached", "memcached") }

func (s *memcachedStore) setup(keys, valueSize int) (string, error) {
	mb := max(keys*(keySize+valueSize+100)*2>>20, 64)
	err := s.start("memcached", func(sock string) []string {
		return []string{"-s", sock, "-m", strconv.Itoa(mb), "-U", "0", "-t", "2", "-u", "root"}
	})
	if err != nil {
		return "", err
	}
	c := memcache.New(s.sock)
	v := valueOf(valueSize)
	for i := range keys {
		if err := c.Set(&memcache.Item{Key: string(keyOf(nil, i)), Value: v}); err != nil {
			return "", err
		}
	}
	return s.sock, nil
}

func (s *memcachedStore) connect(target string) (client, error) {
	c := memcache.New(target)
	c.MaxIdleConns = 1
	return &memcachedClient{c: c}, c.Ping()
}

func (s *memcachedStore) bytesPerEntry(keys int) float64 {
	conn, err := net.Dial("unix", s.sock)
	if err != nil {
		return 0
	}
	defer conn.Close()
	fmt.Fprintf(conn, "stats\r\n")
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[1] == "bytes" {
			n, _ := strconv.ParseFloat(f[2], 64)
			return n / float64(keys)
		}
		if sc.Text() == "END" {
			break
		}
	}
	return 0
}
func (s *memcachedStore) teardown() { s.stop() }

type memcachedClient struct{ c *memcache.Client }

func (c *memcachedClient) batchSize() int { return 1 }
func (c *memcachedClient) close()         { c.c.Close() }
func (c *memcachedClient) do(batch []request) error {
	for _, r := range batch {
		var err error
		if r.kind == opSet {
			err = c.c.Set(&memcache.Item{Key: string(r.key), Value: r.value})
		} else if _, err = c.c.Get(string(r.key)); errors.Is(err, memcache.ErrCacheMiss) {
			err = nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}
