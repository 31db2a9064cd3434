package redisnear

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/shmkv/shmkv/kv"
)

// Options configure Open.
type Options struct {
	// Redis says how to reach Redis (InitAddress, password, ...). Its
	// client-side cache is turned off: the table is the cache.
	Redis rueidis.ClientOption
	// Table names the host's shmkv table of near copies, opened, or
	// created, with TableOptions (nil: kv's defaults).
	Table        string
	TableOptions *kv.Options
	// Prefixes are the key prefixes whose keys are cached and tracked
	// (CLIENT TRACKING BCAST PREFIX ...); other keys are read from Redis
	// every time. None: every key.
	Prefixes []string
	// MaxTTL is the longest a near copy lives, and the life of one whose
	// key has no expiry in Redis. Default one minute.
	MaxTTL time.Duration
	// OnlineWait bounds how long Open waits for a leader to vouch for the
	// table (see Open). Default one second; negative: Open does not wait.
	OnlineWait time.Duration
}

// Client reads keys through the host's near cache. Its methods are safe
// for concurrent use.
type Client struct {
	t        *kv.Table
	redis    rueidis.Client
	prefixes []string
	maxTTL   time.Duration

	stop context.CancelFunc
	done sync.WaitGroup
	st   counters
}

// Keys of the table that are not Redis keys: a Redis key cannot start
// with them only if it starts with a NUL, which the prefixes exclude.
var (
	// onlineKey is present while a leader vouches for the table.
	onlineKey = []byte("\x00redisnear:online")
	// electionKey is the key whose load claim the leader holds.
	electionKey = []byte("\x00redisnear:leader")
)

// Errors.
var (
	// ErrNotFound reports a key that Redis does not have.
	ErrNotFound = errors.New("redisnear: key not found")
	// ErrClosed reports use of a Client after Close.
	ErrClosed = errors.New("redisnear: client closed")
)

// Open connects to Redis, opens the table, and takes part in the election
// of the host's leader. It returns once a leader vouches for the table, or
// after Options.OnlineWait if none does by then.
//
// The wait is what keeps a cold start to one read of Redis per key and
// host: only reads served through the table are single-flight across the
// host, and a table is not served until a leader vouches for it, so every
// read made before that goes to Redis on its own. On a fresh table the
// leader needs a few milliseconds (it is elected, turns tracking on,
// flushes); N processes that opened it and read at once would otherwise
// send N reads to Redis. A leader that cannot vouch (Redis refuses
// CLIENT TRACKING, say) costs each Open the whole wait, after which reads
// go to Redis, one each, until one does; so do reads in the gap of a
// failover, which lasts until the next leader vouches.
func Open(o Options) (*Client, error) {
	if o.MaxTTL <= 0 {
		o.MaxTTL = time.Minute
	}
	if o.OnlineWait == 0 {
		o.OnlineWait = time.Second
	}
	for _, p := range o.Prefixes {
		if p == "" || p[0] == 0 {
			return nil, fmt.Errorf("redisnear: prefix %q: empty, or starts with a NUL", p)
		}
	}
	ro := o.Redis
	ro.DisableCache = true
	r, err := rueidis.NewClient(ro)
	if err != nil {
		return nil, fmt.Errorf("redisnear: connect: %w", err)
	}
	t, err := kv.Open(o.Table, o.TableOptions)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("redisnear: open table %s: %w", o.Table, err)
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Client{t: t, redis: r, prefixes: o.Prefixes, maxTTL: o.MaxTTL, stop: stop}
	c.done.Add(1)
	go c.elect(ctx)
	if o.OnlineWait > 0 {
		c.waitOnline(o.OnlineWait)
	}
	return c, nil
}

// waitOnline waits until a leader vouches for the table, at most d. The
// marker is a table entry, so its arrival wakes kv.Table.Watch through
// the key's futex: no polling.
func (c *Client) waitOnline(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var marker [8]byte
	_, version, err := c.t.GetVersion(marker[:0], onlineKey)
	for err == nil && version == 0 {
		_, version, err = c.t.Watch(ctx, marker[:0], onlineKey, version)
	}
}

// Close stops the client: if it leads, another process of the host takes
// over.
func (c *Client) Close() error {
	c.stop()
	c.done.Wait()
	c.redis.Close()
	return c.t.Close()
}

// cached reports whether key is under the prefixes.
func (c *Client) cached(key string) bool {
	if len(c.prefixes) == 0 {
		return key != "" && key[0] != 0
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Online reports whether a leader vouches for the table now, so that Get
// serves from it; while it does not, Get reads Redis.
func (c *Client) Online() bool {
	var marker [8]byte // the marker's value is one byte: no allocation
	_, online, err := c.t.Get(marker[:0], onlineKey)
	return err == nil && online
}

// Near copies in the table start with a tag byte: tagValue and the value,
// or tagAbsent alone for a key Redis does not have. Absence is cached like
// a value: Redis reports the key's creation as it reports any change, in
// broadcast mode, whether anyone read the key or not.
const (
	tagAbsent = 0
	tagValue  = 1
)

// Get returns the value of key, appended to dst: from the table if a
// leader vouches for it and it holds the key; otherwise from Redis, once
// per host (the other readers of the host wait for that read), stored in
// the table for the key's time to live in Redis, at most MaxTTL. A key
// Redis does not have is ErrNotFound, and that is cached too.
func (c *Client) Get(ctx context.Context, dst []byte, key string) ([]byte, error) {
	if !c.cached(key) {
		return c.getRedis(ctx, dst, key)
	}
	if !c.Online() {
		c.st.bypasses.Add(1)
		return c.getRedis(ctx, dst, key)
	}
	n := len(dst)
	filled := false
	v, err := c.t.GetOrLoad(ctx, dst, []byte(key), func(ctx context.Context, _ []byte) ([]byte, time.Duration, error) {
		filled = true
		return c.fill(ctx, key)
	})
	switch {
	case filled:
		c.st.misses.Add(1)
	case err == nil:
		c.st.hits.Add(1)
	}
	if err != nil {
		return v[:n], err
	}
	if len(v) == n || v[n] != tagValue {
		return v[:n], ErrNotFound
	}
	copy(v[n:], v[n+1:])
	return v[:len(v)-1], nil
}

// fill reads key and its time to live from Redis for GetOrLoad.
func (c *Client) fill(ctx context.Context, key string) ([]byte, time.Duration, error) {
	c.st.fills.Add(1)
	res := c.redis.DoMulti(ctx,
		c.redis.B().Get().Key(key).Build(),
		c.redis.B().Pttl().Key(key).Build())
	v, err := res[0].AsBytes()
	if rueidis.IsRedisNil(err) {
		return []byte{tagAbsent}, c.maxTTL, nil
	}
	if err != nil {
		return nil, 0, err
	}
	ttl := c.maxTTL
	if ms, err := res[1].AsInt64(); err == nil && ms > 0 {
		ttl = min(ttl, time.Duration(ms)*time.Millisecond)
	}
	return append([]byte{tagValue}, v...), ttl, nil
}

func (c *Client) getRedis(ctx context.Context, dst []byte, key string) ([]byte, error) {
	v, err := c.redis.Do(ctx, c.redis.B().Get().Key(key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return dst, ErrNotFound
	}
	if err != nil {
		return dst, err
	}
	return append(dst, v...), nil
}

// Set stores key=value in Redis, with ttl (0: none), and drops the host's
// near copy, so that this host's next read gets the new value even before
// Redis's invalidation arrives.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	cmd := c.redis.B().Set().Key(key).Value(rueidis.BinaryString(value))
	var err error
	if ttl > 0 {
		err = c.redis.Do(ctx, cmd.Px(ttl).Build()).Error()
	} else {
		err = c.redis.Do(ctx, cmd.Build()).Error()
	}
	if err != nil {
		return err
	}
	return c.dropNear(key)
}

// Delete deletes key in Redis and drops the host's near copy.
func (c *Client) Delete(ctx context.Context, key string) error {
	if err := c.redis.Do(ctx, c.redis.B().Del().Key(key).Build()).Error(); err != nil {
		return err
	}
	return c.dropNear(key)
}

func (c *Client) dropNear(key string) error {
	if !c.cached(key) {
		return nil
	}
	_, err := c.t.Invalidate([]byte(key))
	return err
}

// Stats are one process's counts.
type Stats struct {
	Hits          uint64 // reads served from the table
	Misses        uint64 // reads the table missed and this process filled from Redis
	Fills         uint64 // reads of Redis to fill the table
	Bypasses      uint64 // reads sent to Redis because no leader vouched for the table
	Invalidations uint64 // keys invalidated while this process led
	Flushes       uint64 // times this process emptied the table: on taking the lead, a lost connection, FLUSHALL
	LeaderChanges uint64 // times this process became the leader
	Leading       bool   // whether it leads now
}

type counters struct {
	hits, misses, fills, bypasses, invalidations, flushes, leaderChanges atomic.Uint64
	leading                                                              atomic.Bool
}

// Stats fills st without allocating.
func (c *Client) Stats(st *Stats) {
	*st = Stats{
		Hits: c.st.hits.Load(), Misses: c.st.misses.Load(), Fills: c.st.fills.Load(),
		Bypasses: c.st.bypasses.Load(), Invalidations: c.st.invalidations.Load(),
		Flushes: c.st.flushes.Load(), LeaderChanges: c.st.leaderChanges.Load(), Leading: c.st.leading.Load(),
	}
}
