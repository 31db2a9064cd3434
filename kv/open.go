package kv

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/host"
	"github.com/shmkv/shmkv/kv/internal/region"
	"github.com/shmkv/shmkv/shm"
)

// Opening a table: creating it whole, or joining one that exists.

// Open opens the table name, creating it if it does not exist (see
// Options.NoCreate and Options.Exclusive). A nil opts means the defaults.
// The name follows shm's rules: an optional leading '/', then 1 to 255 bytes
// with no '/' and no NUL. A table is not created under a name of a lock
// object's form (IsLockObject): that fails with shm.ErrInvalidName.
//
// Creation is atomic: a table is built whole under no name and then linked
// into place, never replacing one, so a name either does not exist or names
// a whole table, whenever its creator dies.
func Open(name string, opts *Options) (t *Table, err error) {
	defer guardFault(debug.SetPanicOnFault(true), &err)
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	base, err := shm.CleanName(name)
	if err != nil {
		return nil, wrapOp(fmt.Sprintf("open %q", name), err)
	}
	if IsLockObject(base) {
		// Such a table would pass for an orphan lock object (ls --all,
		// Remove), and could be another table's lock object; opening
		// one as a table would wait for a header it never gets.
		return nil, wrapOp("open /"+base, fmt.Errorf("%w: the form of a lock object's name (%s followed by hex digits), which is no table", shm.ErrInvalidName, lockObjectPrefix))
	}
	if o.ReadOnly || o.NoCreate {
		return openExisting(name, &o, opts)
	}
	// A default ceiling fits the address-space limit; one that was asked
	// for is kept, and a mapping it makes too large fails.
	fit := opts == nil || opts.MaxMemory == 0
	if o.Exclusive {
		return create(name, &o, fit)
	}
	// Open or create. Each step can lose a race with another process
	// creating or removing the name; a few rounds settle it.
	for range 8 {
		t, err = openExisting(name, &o, opts)
		if !errors.Is(err, fs.ErrNotExist) {
			return t, err
		}
		t, err = create(name, &o, fit)
		if !errors.Is(err, fs.ErrExist) {
			return t, err
		}
	}
	return nil, err
}

// Remove removes the table name and its lock object. Processes that have
// it open keep using it until they close it. If the table is gone already
// (unlinked by hand) but its lock object is left, Remove removes that and
// returns nil. A lock object can also be named itself (IsLockObject,
// OrphanLockObjects): Remove removes it if its table is gone, and refuses
// with ErrLockObjectInUse if its table exists or a creator of its table
// is at work.
func Remove(name string) error {
	base, err := shm.CleanName(name)
	if err != nil {
		return shm.Remove(name)
	}
	if IsLockObject(base) {
		return removeOrphan(base)
	}
	err = shm.Remove(base)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	removed, lerr := removeLockObjectOf(base)
	if err != nil && removed {
		return nil
	}
	if err == nil {
		err = lerr
	}
	return err
}

// create builds a new table under no name and links it into place. It
// fails with an error matching fs.ErrExist if the name exists by then. A
// create that fails removes the lock object it opened unless another
// creator is using it; one killed at any point leaves at most the name's
// (empty, reusable) lock object behind. fit says that o.MaxMemory is the
// default, to be lowered to fit the address-space limit.
func create(name string, o *Options, fit bool) (t *Table, err error) {
	base, _ := shm.CleanName(name)
	if fit {
		if err := fitAddressSpace(o); err != nil {
			return nil, wrapOp("create /"+base, err)
		}
	}
	g, first, err := plan(o)
	if err != nil {
		return nil, err
	}
	g.Seed = rand.Uint64()
	g.Created = time.Now().UnixNano()
	lock, err := createLockObject(base, o)
	if err != nil {
		return nil, wrapOp("create /"+base, err)
	}
	var need int64 // the memory the table takes at creation, once known
	defer func() {
		if err != nil {
			dropLockObject(lock, base)
			lock.Close()
			err = createError(base, g, need, err)
		}
	}()
	failpoint.Step()
	sh, err := shm.CreateUnnamed(o.Mode)
	if err != nil {
		return nil, err
	}
	failpoint.Step()
	// The object is sparse: its size is every span, its memory only what is
	// allocated. Allocate the header, registry and control blocks and each
	// shard's first extent, all but the log beyond its first chunk
	// (logmemory.go), now: on a full /dev/shm this fails with ENOSPC
	// instead of a SIGBUS at the first touch of a sparse page.
	v := (&shard{evict: g.Eviction == uint32(EvictS3FIFO)}).at(first)
	index, logBytes := firstLogBytes(v)
	ghost, ghostBytes := v.ghostRange()
	need = g.ExtentsOffset + int64(g.InitialShards)*(index+logBytes+ghostBytes)
	// A table that needs more than /dev/shm has free is refused before any
	// of it is allocated: fallocate takes what there is before it fails,
	// and where /dev/shm is as large as the machine's memory the kernel's
	// out-of-memory killer ends some process before fallocate can fail.
	if free := host.ShmFree(); free >= 0 && need > free {
		sh.Close()
		return nil, syscall.ENOSPC
	}
	err = sh.SetSize(g.TotalSize)
	if err == nil {
		err = sh.AllocateRange(0, g.ExtentsOffset)
	}
	for i := 0; i < g.InitialShards && err == nil; i++ {
		start, _ := g.SpanOf(i)
		err = sh.AllocateRange(start, index+logBytes)
		if err == nil && ghostBytes > 0 {
			err = sh.AllocateRange(start+ghost, ghostBytes)
		}
	}
	if err != nil {
		sh.Close()
		return nil, err
	}
	failpoint.Step()
	info, err := lock.Stat()
	if err != nil {
		sh.Close()
		return nil, err
	}
	g.LockInode = info.Ino
	// attach gets a descriptor of the lock object of its own, for the
	// table to keep: lock, with the creator's read lock, closes when the
	// create ends.
	tlock, err := shm.Open(lockObjectName(base), os.O_RDWR, 0)
	if err == nil {
		if ti, serr := tlock.Stat(); serr != nil || ti.Ino != info.Ino {
			tlock.Close()
			err = fmt.Errorf("%w: lock object %s replaced while the table was built", ErrCorrupt, lock.Name())
		}
	}
	if err != nil {
		sh.Close()
		return nil, err
	}
	t, err = attach(sh, tlock, name, g, o, first)
	if err != nil {
		return nil, err
	}
	for i := range g.InitialShards {
		t.r.Store((t.shards[i].spanStart+format.ExtAllocated)/8, uint64(logBytes))
	}
	g.Encode(t.r.B[:format.HeaderSize])
	// The header's plain stores happen before this atomic store, and an
	// opener's atomic load that sees the magic sees them too.
	t.r.Store(format.OffMagic/8, format.Magic)
	failpoint.Step()
	if err := sh.Link(name); err != nil {
		t.Close()
		return nil, err
	}
	failpoint.Step()
	t.name = sh.Name()
	lock.Close()
	return t, nil
}

// createError names what a failed create was making, and for the two
// ways a machine runs out of room for a table says which limit it met: a
// full /dev/shm (ENOSPC from fallocate) or the address-space limit
// (ENOMEM from mmap, under ulimit -v: ErrAddressSpace). The object has no
// name yet, so the system call's own error names none.
func createError(base string, g format.Geometry, need int64, err error) error {
	op := ""
	if pe, ok := err.(*os.PathError); ok {
		op = pe.Op
		if pe.Path == "" {
			cp := *pe
			cp.Path = "(the new, still unnamed object)"
			err = &cp
		}
	}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		if free := host.ShmFree(); free >= 0 {
			err = fmt.Errorf("%w; the table needs %s of memory at creation, and %s has %s free (see df %s)", err, sizeText(need), shm.Dir, sizeText(free), shm.Dir)
		}
	case errors.Is(err, syscall.ENOMEM) && op == "mmap":
		if limit := host.AddressSpaceLimit(); limit != 0 {
			err = &addressSpaceError{need: g.TotalSize, maxMemory: g.MaxMemory, limit: limit, used: addressSpaceUsed(), err: err}
		}
	}
	return wrapOp("create /"+base, err)
}

// openExisting opens the existing table name. A table removed, or removed
// and created again, between this opener's finding it and opening its
// lock object has lost that lock object, or has another; that is no
// damage, and the opener starts again with what the name holds now.
func openExisting(name string, o *Options, explicit *Options) (t *Table, err error) {
	for range 8 {
		t, err = openExistingOnce(name, o, explicit)
		if !errors.Is(err, errMoved) {
			return t, err
		}
	}
	return nil, err
}

// errMoved says that the name no longer holds the table being opened. It
// matches fs.ErrNotExist, so that Open, to open or create, creates the
// table if the name is still free after a few rounds.
var errMoved = fmt.Errorf("%w: removed or replaced while being opened", fs.ErrNotExist)

func openExistingOnce(name string, o *Options, explicit *Options) (*Table, error) {
	flag := os.O_RDWR
	if o.ReadOnly {
		flag = os.O_RDONLY
	}
	sh, err := shm.Open(name, flag, 0)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Table, error) {
		sh.Close()
		return nil, wrapOp("open "+sh.Name(), err)
	}
	info, err := sh.Stat()
	if err != nil {
		return fail(err)
	}
	// Both the header's read and attach map the whole object: under an
	// address-space limit too small for it, say so, and what to do.
	var maxMemory int64
	asError := func(err error) (error, bool) {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Op == "mmap" && errors.Is(err, syscall.ENOMEM) {
			if limit := host.AddressSpaceLimit(); limit != 0 {
				return &addressSpaceError{need: info.Size, maxMemory: maxMemory, limit: limit, used: addressSpaceUsed(), opening: true, err: err}, true
			}
		}
		return err, false
	}
	g, err := readHeader(sh, info, o)
	if err == nil {
		err = checkAgainst(explicit, &g)
	}
	if err != nil {
		err, _ = asError(err)
		return fail(err)
	}
	maxMemory = g.MaxMemory
	lock, err := openLockObject(name, o, info.UID)
	if err == nil && lock != nil {
		if li, serr := lock.Stat(); serr != nil || li.Ino != g.LockInode {
			lock.Close()
			err = fmt.Errorf("%w: lock object %s is not the one the table was created with", ErrCorrupt, lock.Name())
		}
	}
	if err != nil {
		// Damage, unless the table was removed meanwhile (Remove takes
		// the table's name first, then its lock object's).
		base, _ := shm.CleanName(name)
		if ino, ierr := host.InodeAt(shm.Dir + "/" + base); ierr != nil || ino != info.Ino {
			err = errMoved
		}
		return fail(err)
	}
	t, err := attach(sh, lock, name, g, o, format.Extent{})
	if err, ok := asError(err); ok {
		return nil, wrapOp("open "+sh.Name(), err)
	}
	return t, err
}

// readHeader checks the object's owner, waits a bounded time for a creator
// to publish the header, and decodes it.
//
// The owner rule, shared by the library and the command: an object owned by
// another user is refused unless AllowShared says the caller expects one,
// since anyone can create a name in /dev/shm and a planted object could feed
// this process whatever its owner likes. The mode is not judged: an object
// owned by this user got its mode from this user, and a table created with
// group or other write access (Mode 0660, say) was made to be shared that
// way. A planted lock object is refused the same way, at creation
// (lockobject.go).
func readHeader(sh *shm.Shm, info shm.Info, o *Options) (format.Geometry, error) {
	if !o.AllowShared && int(info.UID) != os.Geteuid() {
		return format.Geometry{}, fmt.Errorf("%w: owner uid %d, mode %v", ErrUnsafeObject, info.UID, info.Perm)
	}
	deadline := time.Now().Add(o.InitTimeout)
	for {
		size, err := sh.Size()
		if err != nil {
			return format.Geometry{}, err
		}
		if size >= format.HeaderSize {
			var h [format.HeaderSize]byte
			m, err := readHeaderBytes(sh, h[:])
			if err != nil {
				return format.Geometry{}, err
			}
			if m == format.Magic {
				return format.DecodeHeader(h[:], size)
			}
			if m != 0 {
				if m&magicPrefixMask == format.Magic&magicPrefixMask {
					return format.Geometry{}, fmt.Errorf("%w: magic version %#x", ErrVersion, m>>48)
				}
				return format.Geometry{}, fmt.Errorf("%w: not a shmkv table (magic %#016x)", ErrCorrupt, m)
			}
		}
		if time.Now().After(deadline) {
			return format.Geometry{}, fmt.Errorf("%w: no header after %v (size %d); remove it if its creator died", ErrNotInitialized, o.InitTimeout, size)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readHeaderBytes copies the header out of a temporary mapping, the magic
// with an atomic load first so that the rest is what its publisher wrote.
func readHeaderBytes(sh *shm.Shm, h []byte) (uint64, error) {
	m, err := sh.Map(0)
	if err != nil {
		return 0, err
	}
	defer m.Unmap()
	r := region.New(m.Bytes()[:format.HeaderSize])
	mg := r.Load(format.OffMagic / 8)
	copy(h, m.Bytes()[:format.HeaderSize])
	return mg, nil
}

// attach maps the table and joins it: a registry slot for a read-write
// handle, and recovery of whatever an earlier holder of that slot left
// locked. lock is the table's lock object, or nil for a read-only handle
// that may not open it. A creator passes each shard's first extent, placed
// at the start of its span; an opener passes none. On failure it closes
// sh and lock.
func attach(sh, lock *shm.Shm, name string, g format.Geometry, o *Options, first format.Extent) (*Table, error) {
	closeBoth := func() {
		sh.Close()
		if lock != nil {
			lock.Close()
		}
	}
	m, err := sh.Map(0)
	if err != nil {
		closeBoth()
		return nil, err
	}
	base, _ := shm.CleanName(name)
	t := &Table{
		name:        "/" + base,
		sh:          sh,
		lockObj:     lock,
		mapping:     m,
		r:           region.New(m.Bytes()),
		g:           g,
		readOnly:    o.ReadOnly,
		lockTimeout: o.LockTimeout,
		getMode:     readModeFor(o.ReadOnly, !o.SkipReadChecksums || !region.FencedReads),
		refresh:     o.RefreshAhead,
		splitAbove:  cmp.Or(o.splitAbove, splitAbove),
		now:         o.Now,
		shardShift:  uint(64 - bits.TrailingZeros(uint(g.Shards))),
		reads:       make([]readStripe, readStripes),
		denials:     make([]growDenial, g.Shards),
		views:       make([]atomic.Pointer[view], g.Shards),
		stalls:      make([]stall, g.Shards),
		routes:      make([]atomic.Uint32, g.Shards),
	}
	for class := range t.routes {
		t.routes[class].Store(uint32(class & (g.InitialShards - 1)))
	}
	t.shards = make([]shard, g.Shards)
	for i := range t.shards {
		t.shards[i] = newShard(t, &t.g, i)
		if first.Size != 0 && i < g.InitialShards {
			e := first
			e.Off = t.shards[i].spanStart
			// The description by plain atomic stores, no steps of a
			// kill sweep, which would count one per word for every
			// shard: the object has no name yet, and a creator killed
			// here leaves nothing (create).
			depth := bits.TrailingZeros(uint(g.InitialShards))
			t.shards[i].writeDescription(e, 1, depth, func(i int64, v uint64) { t.r.StoreUncounted(i, v) })
			t.shards[i].ctlStore(format.CtlExtent, e.Word())
		}
	}
	if o.Populate {
		if err := t.populate(); err != nil {
			m.Unmap()
			closeBoth()
			return nil, err
		}
	}
	if !t.readOnly {
		if err := t.claimSlot(); err != nil {
			m.Unmap()
			closeBoth()
			return nil, err
		}
		t.recoverOwnSlot()
		t.startFlusher()
	}
	return t, nil
}

// populate maps into this process every page the table uses now: the
// header, registry and control blocks, and each shard's current extent.
// The rest of the object is holes, which must stay holes.
func (t *Table) populate() error {
	if err := t.mapping.PopulateRange(0, t.g.ExtentsOffset); err != nil {
		return err
	}
	for i := range t.shards {
		// Only what has memory: populating a hole would give it some.
		if v, ok := t.shards[i].peek(); ok { // not kept: the shard may not be in use
			if err := t.mapping.PopulateRange(v.ext.Off, v.data+v.lo+v.allocated()-v.ext.Off); err != nil {
				return err
			}
		}
	}
	return nil
}

// recoverOwnSlot recovers every shard left locked by an earlier, now dead,
// holder of this handle's registry slot.
func (t *Table) recoverOwnSlot() {
	for i := range t.shards {
		s := &t.shards[i]
		w := atomic.LoadUint32(s.lockWord)
		if w == 0 || int(w>>2&(format.MaxProcs-1)) != t.slot || w&^lockStateMask == t.owner {
			continue
		}
		if atomic.CompareAndSwapUint32(s.lockWord, w, t.owner|lockSleep) {
			t.recoverShard(s)
			t.unlock(s)
		}
	}
}
