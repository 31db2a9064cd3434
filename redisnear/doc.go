// Package redisnear makes a shmkv table the near cache of a whole host in
// front of Redis: reads at shared-memory speed, one copy per host, each
// key loaded from Redis once per host (kv.Table.GetOrLoad), and kept
// correct by Redis's own invalidation messages.
//
// One process of the host, elected through the table (it holds the load
// claim of an election key, so the registry's liveness proof elects a new
// one within about a tenth of a second of its death), holds a RESP3
// connection with CLIENT TRACKING ON in broadcast mode for the configured
// key prefixes, and invalidates in the table every key Redis reports
// changed. Broadcast mode, not default mode: in default mode Redis tracks
// the keys each connection read, but here the reads of every process are
// served by the table and only the leader's connection hears about
// changes, so it must hear about every key under the prefixes, read or
// not.
//
// What the table may serve is what the leader vouches for. The leader
// keeps an online marker in the table, with a short lease that it renews;
// a read serves from the table only while the marker is there. When the
// leader's connection drops, or the leader dies, the marker goes (at once,
// or when its lease ends) and reads go to Redis until a leader is back;
// a new leader flushes the table, with every load under way, before it
// sets the marker again, since it cannot know what changed meanwhile.
// Open waits, for a bounded time, until a leader vouches, so that the
// first reads of processes starting together on a fresh table are loaded
// once per host like any other (see Open). A
// fill that an invalidation overtook is never stored (kv.Table.Invalidate).
// A key Redis does not have is cached as absent, like a value: broadcast
// mode reports its creation too.
//
// The client is github.com/redis/rueidis: it speaks RESP3, and hands the
// invalidation messages of a dedicated connection to a callback, which is
// all the leader needs; go-redis has no such hook for a connection of its
// own.
//
// This package is a module of its own, so that users of kv alone never
// pull a Redis client.
package redisnear
