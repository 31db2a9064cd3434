// Command bench measures shmkv against the stores its users would pick
// instead, in one run on one machine, and writes the figures as a Markdown
// table, a CSV file and an SVG chart.
//
//	cd bench && go run .          # the quick run
//	cd bench && go run . -full    # every workload; what RESULTS.md holds
//	cd bench && go run . -stampede 8   # 8 processes miss the same keys: count the loads
//	cd bench && go run . -hitratio 5000000   # hit ratios against otter, ristretto, golang-lru
//	cd bench && go run . -charts RESULTS.md -out .   # redraw the two charts from RESULTS.md's figures
//
// The charts (throughput.svg, hitratio.svg) are drawn from the figures
// RESULTS.md records, as rounded there; after a new run is recorded, or the
// drawing changes, -charts draws them again, and TestCommittedChartsSVG
// fails until it has.
//
// shmkv runs twice: as a user gets it, and with Options.SkipReadChecksums.
// Peers: a Go map under sync.RWMutex (the ceiling for a table in RAM) and a
// map split over 64 locks (the ceiling when several workers write),
// fastcache and freecache (in-process caches), bbolt and LMDB (memory-mapped
// stores; LMDB on /dev/shm), and Redis and memcached as real servers on a
// Unix socket, which the harness starts and stops itself. A peer that is not
// installed is reported as skipped, with the command that installs it.
//
// Stores that processes can share (shmkv, LMDB, Redis, memcached) run with
// 1, 2 and 4 worker processes (as many as there are processors), each its
// own client; the in-process peers run as many goroutines instead and are
// marked as not shareable. Each worker chooses its operations and formats
// its keys before the clock starts, and warms up for a fifth of the
// measurement's length before it. Each figure is the median of several
// runs (-count), with their spread (half their range, in percent of the
// median), and every figure of a peer is also given as a ratio to shmkv's
// in the same workload and run. Each peer is used the way its
// documentation says is fastest: LMDB reads reuse one read transaction
// (reset and renewed), freecache copies out through GetFn, Redis runs one
// request at a time and pipelined 64 deep.
//
// bench is a module of its own, so that none of the peers enters the main
// module's dependencies.
package main
