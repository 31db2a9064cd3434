package redisnear

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
)

const (
	// lease is how long the online marker lives without renewal: how long
	// readers may go on trusting the table after its leader died or was
	// stopped, before they read from Redis instead.
	lease = 200 * time.Millisecond
	// renewEvery is how often the leader checks its connection (a PING on
	// it) and renews the marker.
	renewEvery = 50 * time.Millisecond
	// retryEvery is how long a leader whose connection failed waits
	// before it connects again.
	retryEvery = 100 * time.Millisecond
)

// errStepDown ends the leader's load of the election key: the claim ends
// with nothing stored, and a waiting process takes the lead.
var errStepDown = errors.New("redisnear: leader stepped down")

// elect takes part in the election until ctx ends: every process waits on
// the load claim of electionKey (kv.Table.GetOrLoad), and the one holding
// it leads for as long as it lives; when it closes or dies, the claim
// passes to one of the waiters.
func (c *Client) elect(ctx context.Context) {
	defer c.done.Done()
	for ctx.Err() == nil {
		_, err := c.t.GetOrLoad(ctx, nil, electionKey, func(ctx context.Context, _ []byte) ([]byte, time.Duration, error) {
			c.lead(ctx)
			return nil, 0, errStepDown
		})
		if err != nil && !errors.Is(err, errStepDown) && ctx.Err() == nil {
			// The table failed us (closed, corrupt): do not spin.
			sleep(ctx, retryEvery)
		}
	}
}

// lead tracks Redis until ctx ends, connecting again whenever the
// connection is lost.
func (c *Client) lead(ctx context.Context) {
	c.st.leaderChanges.Add(1)
	c.st.leading.Store(true)
	defer c.st.leading.Store(false)
	for {
		// track returns when the connection is lost or refused, or ctx
		// ends; whichever it was, what changed meanwhile is unknown.
		c.track(ctx)
		// Stop vouching first: readers go to Redis from here on.
		c.t.Delete(onlineKey)
		if ctx.Err() != nil {
			return
		}
		c.flush()
		sleep(ctx, retryEvery)
	}
}

// track opens a dedicated connection with CLIENT TRACKING ON in broadcast
// mode, flushes the table, which it cannot vouch for from before, and
// then keeps the online marker alive while the connection lives.
func (c *Client) track(ctx context.Context) error {
	dc, release := c.redis.Dedicate()
	defer release()
	lost := dc.SetOnInvalidations(c.invalidate)
	args := []string{"BCAST"}
	for _, p := range c.prefixes {
		args = append(args, "PREFIX", p)
	}
	if err := dc.Do(ctx, dc.B().Arbitrary("CLIENT", "TRACKING", "ON").Args(args...).Build()).Error(); err != nil {
		return err
	}
	// Every change from here on is reported; anything older is not.
	c.flush()
	tick := time.NewTicker(renewEvery)
	defer tick.Stop()
	renewed := time.Now()
	for {
		if err := dc.Do(ctx, dc.B().Ping().Build()).Error(); err != nil {
			return err
		}
		if time.Since(renewed) > lease {
			// The lease ran out: this process was stopped or starved, and
			// invalidations may still be queued behind the PING's reply.
			// Readers went to Redis meanwhile; start again from empty.
			c.flush()
		}
		if err := c.t.SetTTL(onlineKey, []byte{1}, lease); err != nil {
			return err
		}
		renewed = time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			return err
		case <-tick.C:
		}
	}
}

// invalidate handles one invalidation message: the keys Redis reports
// changed, or nil for all of them (FLUSHALL, FLUSHDB, or the connection
// closing).
func (c *Client) invalidate(keys []rueidis.RedisMessage) {
	if keys == nil {
		c.flush()
		return
	}
	for _, k := range keys {
		if key, err := k.ToString(); err == nil {
			c.t.Invalidate([]byte(key))
			c.st.invalidations.Add(1)
		}
	}
}

// flush empties the table of near copies, and keeps the loads under way
// from storing theirs (kv.Table.InvalidateAll). The election claim and
// the online marker are table entries too, but the claim is no entry and
// the marker is set again by track.
func (c *Client) flush() {
	c.st.flushes.Add(1)
	c.t.InvalidateAll()
}

// sleep waits for d or the end of ctx.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
