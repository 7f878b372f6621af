package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icpedge/icpedge/proxy/internal/bufpool"
)

// Errors returned by the Store.
var (
	ErrNotFound = errors.New("cache entry not found")
	ErrClosed   = errors.New("cache store closed")
	ErrTooLarge = errors.New("cache entry too large")
	// ErrChanged is Swap's answer when the entry it would replace has
	// been replaced, deleted or evicted since it was read.
	ErrChanged = errors.New("cache entry changed since it was read")
)

// WholeReadMax is the file size up to which Get reads a file into memory
// in one go and checks every body, even with no memory tier: serving such
// an entry holds its bytes in memory while visitors read it.
const WholeReadMax = 256 << 10

const (
	// blockSize rounds file sizes for accounting, so that many small
	// entries are charged roughly what they take on disk.
	blockSize = 4096
	// touchEvery bounds how often a hit refreshes a file's mtime, which
	// is how recency survives a restart.
	touchEvery = time.Hour
	// verifyAlwaysMax is the file size up to which every disk Get checks
	// the body checksums. Larger files are checked on their first Get
	// after Open and then trusted, since the store never modifies a file
	// in place; re-reading tens of MiB per hit would double the I/O.
	verifyAlwaysMax = 8 << 20
	tempPrefix      = "tmp-"
	// sparePrefix names the spare files (see takeSpare); Open removes
	// them with the other temporary files.
	sparePrefix = tempPrefix + "spare-"
)

// Options configure a Store. Zero values mean the documented default.
type Options struct {
	// Dir holds the cache files; it is created if missing. Required. A
	// Dir must be used by one Store at a time: two processes sharing one
	// would evict each other's files unseen.
	Dir string
	// MaxSize bounds the bytes on disk, counted in 4 KiB blocks per file
	// (temporary files being written are not counted). Default 1 GiB.
	MaxSize int64
	// MaxEntrySize is the largest entry, all bodies together, that Put or
	// Create accept; larger ones fail with ErrTooLarge so that a single
	// download cannot flush the cache. Default MaxSize/8.
	MaxEntrySize int64
	// Memory bounds the bytes of hot entries also kept in memory. Only
	// entries of at most Memory/16 bytes are kept there, and once it is
	// full, only one asked for more often lately than the least recently
	// used entry it would replace. Default 64 MiB; negative turns the
	// memory tier off.
	Memory int64
	// Logger receives damaged files found and removed, and failed
	// deletions. Default: discard.
	Logger *slog.Logger
	// Now is the clock for access times. Default time.Now.
	Now func() time.Time

	// realClock is set when Now is the default: a file just written
	// then has the right modification time without being set.
	realClock bool
}

func (o Options) withDefaults() Options {
	if o.MaxSize <= 0 {
		o.MaxSize = 1 << 30
	}
	if o.MaxEntrySize <= 0 {
		o.MaxEntrySize = o.MaxSize / 8
	}
	if o.Memory == 0 {
		o.Memory = 64 << 20
	}
	if o.Memory < 0 {
		o.Memory = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now, o.realClock = time.Now, true
	}
	return o
}

// Stats are counters of a Store.
type Stats struct {
	Entries         int   // entries on disk
	Bytes           int64 // disk bytes, in 4 KiB blocks
	MemoryEntries   int   // entries also held in memory
	MemoryBytes     int64 // bytes held in memory (estimated)
	IndexBytes      int64 // memory the index of the entries on disk takes (estimated)
	Evictions       int64 // entries evicted from disk for space
	MemoryEvictions int64 // entries dropped from memory for space
	MemoryDeclined  int64 // entries not kept in memory: asked for less often than what they would replace
	Hits            int64 // Get hits, from memory or disk
	MemoryHits      int64 // Get hits served from memory
	Misses          int64 // Get misses, damaged files included
	Corrupt         int64 // damaged files found and removed
	UnlinkWaits     int64 // Puts that waited for the old file of their key to be unlinked
}

// Store is a crash-safe, size-bounded disk cache of Entries with an LRU
// memory tier. It is safe for concurrent use.
//
// Each entry is one file named by a hash of its key, written to a temporary
// file and renamed into place, so a process that dies leaves either the old
// entry, the new one, or none, and never a partial one. Files are not
// synced: they record their key, their exact size and checksums, so a file
// torn by a power failure, like any damaged or misplaced file, is removed
// and reported as a miss.
type Store struct {
	opts       Options
	memPerItem int64
	log        *slog.Logger
	hooks      hooks

	// dirs notes the 256 subdirectories known to exist, by the first
	// byte of the file names they hold.
	dirs [256]atomic.Bool
	// spares are empty temporary files made ahead of need (see
	// takeSpare); refilling is set while a goroutine makes more, and
	// spareWG waits for it.
	spares    chan *os.File
	spareDir  byte // the fan-out directory of the last spare made (refill)
	refilling atomic.Bool
	spareWG   sync.WaitGroup
	shut      atomic.Bool // Close has begun: refill stops

	// seed is the seed of keys' hashes in the index and the sketch.
	seed maphash.Seed

	mu     sync.Mutex
	closed bool
	idx    *index
	// lastGen is the last item.gen given.
	lastGen uint64
	// mem is the sentinel of the memory tier's LRU list: mem.next is
	// the most recently used; inMem holds the entries of the items the
	// tier keeps, by item number.
	mem   memEntry
	inMem map[int32]*memEntry
	// doomed are the keys whose files the entries removed under the
	// lock left behind, for unlockAndUnlink to unlink once the lock is
	// released; unlinking counts them until then, and unlinked is
	// signalled when a batch is done, for a Put of one of those keys
	// to wait for (its new file must not be unlinked instead).
	doomed    []string
	unlinking map[string]int
	unlinked  sync.Cond
	freq      *frequency // accesses lately, for the memory tier; nil without one
	bytes     int64
	memUsed   int64
	stats     Stats
}

// hooks let tests inject file system failures.
type hooks struct {
	createTemp func(dir, prefix string) (*os.File, error)
	writev     func(f *os.File, bufs [][]byte) error // of cache files
	remove     func(path string) error               // of doomed files
}

// memEntry is an entry held in memory.
type memEntry struct {
	item       int32 // its number in the index
	prev, next *memEntry
	size       int64
	meta       metaJSON
	bodies     [numEncodings][]byte
	present    [numEncodings]bool
	// judged is what Policy.Decide last read from meta.Header, for the
	// hits GetShared serves.
	judged atomic.Pointer[judged]
}

// Open opens (creating if needed) the store in opts.Dir. It removes
// temporary files left by a crash and rebuilds the index from the cache
// files' metadata, ordering entries by file modification time (which hits
// refresh at most hourly), then evicts down to MaxSize.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("cache: no directory")
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating cache directory: %w", err)
	}
	s := &Store{
		opts:       opts,
		memPerItem: opts.Memory / 16,
		log:        opts.Logger,
		seed:       maphash.MakeSeed(),
		idx:        newIndex(),
		inMem:      make(map[int32]*memEntry),
		unlinking:  make(map[string]int),
		spares:     make(chan *os.File, spareFiles),
		hooks: hooks{
			createTemp: createTemp,
			writev:     writev,
			remove:     os.Remove,
		},
	}
	s.unlinked.L = &s.mu
	s.mem.next, s.mem.prev = &s.mem, &s.mem
	if opts.Memory > 0 {
		s.freq = newFrequency(int(opts.Memory / sketchEntrySize))
	}
	if err := s.scan(); err != nil {
		return nil, err
	}
	return s, nil
}

// scan rebuilds the index from Dir.
func (s *Store) scan() error {
	top, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("reading cache directory: %w", err)
	}
	type found struct {
		n     int32
		mtime time.Time
	}
	var items []found
	for _, de := range top {
		name := de.Name()
		path := filepath.Join(s.opts.Dir, name)
		if strings.HasPrefix(name, tempPrefix) && de.Type().IsRegular() {
			if err := os.Remove(path); err != nil {
				s.log.Warn("cannot remove cache temp file", "path", path, "err", err)
			}
			continue
		}
		if !de.IsDir() || len(name) != 2 || !isHex(name) {
			continue
		}
		files, err := os.ReadDir(path)
		if err != nil {
			s.log.Warn("cannot read cache directory", "path", path, "err", err)
			continue
		}
		for _, fe := range files {
			fname := fe.Name()
			if strings.HasPrefix(fname, tempPrefix) && fe.Type().IsRegular() {
				// Written by a process that died before renaming it.
				if err := os.Remove(filepath.Join(path, fname)); err != nil {
					s.log.Warn("cannot remove cache temp file", "path", filepath.Join(path, fname), "err", err)
				}
				continue
			}
			if len(fname) != 32 || !isHex(fname) || fname[:2] != name || !fe.Type().IsRegular() {
				continue
			}
			fpath := filepath.Join(path, fname)
			m, fi, err := readMetaFile(fpath)
			if err == nil && fileName(m.key) != fname {
				err = fmt.Errorf("%w: holds another key", errCorrupt)
			}
			if err != nil {
				s.log.Warn("removing damaged cache file", "path", fpath, "err", err)
				s.stats.Corrupt++
				os.Remove(fpath) // best effort: a read-only disk keeps it, and it stays unindexed
				continue
			}
			h := s.hash(m.key)
			if s.idx.lookup(m.key, h) != 0 {
				continue // impossible: names are unique per key
			}
			n, ok := s.idx.insert(m.key, h)
			if !ok {
				return errors.New("cache: too many entries to index")
			}
			it := &s.idx.items[n]
			it.size, it.atime, it.gen = blocks(fi.Size()), fi.ModTime().Unix(), s.newGen()
			items = append(items, found{n, fi.ModTime()})
		}
	}
	slices.SortFunc(items, func(a, b found) int { return a.mtime.Compare(b.mtime) })
	for _, f := range items {
		s.idx.pushFront(f.n)
		s.bytes += s.idx.items[f.n].size
	}
	s.mu.Lock()
	for s.bytes > s.opts.MaxSize && s.idx.oldest() != 0 {
		s.evict(s.idx.oldest())
	}
	if err := s.unlockAndUnlink(); err != nil {
		s.log.Warn("cannot evict cache file", "err", err)
	}
	return nil
}

// readMetaFile reads only the metadata of a cache file.
func readMetaFile(path string) (*fileMeta, fs.FileInfo, error) {
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	m, err := readMeta(f, fi.Size())
	return m, fi, err
}

// readMeta reads and checks the metadata of an open cache file of size
// bytes, with one read of its tail when the metadata is small.
func readMeta(f io.ReaderAt, size int64) (*fileMeta, error) {
	if size < prefixLen+footerLen {
		return nil, fmt.Errorf("%w: too short", errCorrupt)
	}
	prefix := make([]byte, prefixLen)
	if _, err := f.ReadAt(prefix, 0); err != nil {
		return nil, err
	}
	tailLen := min(size-prefixLen, 4096)
	tail := make([]byte, tailLen)
	if _, err := f.ReadAt(tail, size-tailLen); err != nil {
		return nil, err
	}
	footer := tail[tailLen-footerLen:]
	n, err := footerMetaLen(prefix, footer, size)
	if err != nil {
		return nil, err
	}
	var meta []byte
	if n+footerLen <= tailLen {
		meta = tail[tailLen-footerLen-n : tailLen-footerLen]
	} else {
		meta = make([]byte, n)
		if _, err := f.ReadAt(meta, size-footerLen-n); err != nil {
			return nil, err
		}
	}
	return decodeMeta(prefix, meta, footer, size)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

// fileName is the file name of key: 128 bits of its SHA-256, in hex.
func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// path is where key's file lives, fanned out over 256 directories.
func (s *Store) path(key string) string {
	name := fileName(key)
	return filepath.Join(s.opts.Dir, name[:2], name)
}

// subdir returns the directory of the file named name, creating it if
// need be.
func (s *Store) subdir(name string) (string, error) {
	dir := filepath.Join(s.opts.Dir, name[:2])
	known := &s.dirs[hexByte(name)]
	if known.Load() {
		return dir, nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("creating cache directory: %w", err)
	}
	known.Store(true)
	return dir, nil
}

// hexByte is the byte the first two hex digits of a file name spell.
func hexByte(name string) byte {
	var b [1]byte
	_, _ = hex.Decode(b[:], []byte(name[:2]))
	return b[0]
}

func blocks(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

// Get returns the entry stored under key, or ErrNotFound. The caller must
// Close the entry. A damaged file is logged, removed and reported as
// ErrNotFound; other read errors are returned as they are.
func (s *Store) Get(key string) (*Entry, error) { return s.get(key, false, true) }

// GetShared is Get for a caller that only reads the entry's Header: a hit
// from memory then shares the stored header instead of copying it. The
// Header must not be modified; replace it with a copy to change it.
func (s *Store) GetShared(key string) (*Entry, error) { return s.get(key, true, true) }

// Reread is GetShared for an entry the caller has just stored, to serve
// it from the store rather than from its own copy: it is not counted in
// Stats as a lookup.
func (s *Store) Reread(key string) (*Entry, error) { return s.get(key, true, false) }

// get looks key up; counted says whether the lookup goes into Stats.
func (s *Store) get(key string, shared, counted bool) (*Entry, error) {
	var one int64
	if counted {
		one = 1
	}
	now := s.opts.Now()
	h := s.hash(key)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if s.freq != nil && counted {
		s.freq.add(h)
	}
	n := s.idx.lookup(key, h)
	if n == 0 {
		s.stats.Misses += one
		s.mu.Unlock()
		return nil, ErrNotFound
	}
	s.idx.moveToFront(n)
	it := &s.idx.items[n]
	touch := now.Unix()-it.atime >= int64(touchEvery/time.Second)
	if touch {
		it.atime = now.Unix()
	}
	if m := s.inMem[n]; m != nil {
		s.memMoveToFront(m)
		s.stats.Hits += one
		s.stats.MemoryHits += one
		e := m.entry(key)
		e.item, e.gen = n, it.gen
		s.mu.Unlock()
		// The tier's header is never changed in place, so it may be
		// read without the lock.
		if shared {
			e.memo = m
		} else {
			e.Header = e.Header.Clone()
		}
		if touch {
			s.touch(key, now)
		}
		return e, nil
	}
	gen, verified := it.gen, it.verified && it.size > verifyAlwaysMax
	s.mu.Unlock()

	e, m, err := s.load(key, verified)
	if err != nil {
		s.mu.Lock()
		s.stats.Misses += one
		s.mu.Unlock()
		switch {
		case errors.Is(err, errCorrupt):
			s.log.Warn("removing damaged cache file", "key", key, "err", err)
			s.drop(n, gen, true)
			return nil, ErrNotFound
		case errors.Is(err, fs.ErrNotExist):
			s.drop(n, gen, false)
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("reading cache entry: %w", err)
	}
	e.item, e.gen = n, gen
	s.mu.Lock()
	s.stats.Hits += one
	if s.current(n, gen) {
		it := &s.idx.items[n]
		it.verified = true
		if m != nil && s.inMem[n] == nil && s.memAdmits(n, m.size) {
			// The tier keeps a copy of its own, of the bodies' exact
			// size: the file's buffer is from the pool, a class larger,
			// and goes back to it when e is closed. e's header is the
			// caller's.
			m.ownBodies()
			m.meta.Header = m.meta.Header.Clone()
			s.memInsert(n, m)
		}
	}
	s.mu.Unlock()
	if touch {
		s.touch(key, now)
	}
	return e, nil
}

// touch records an access in the file's mtime, for the LRU order after a
// restart. Failures (a read-only disk) only cost that order.
func (s *Store) touch(key string, now time.Time) {
	_ = os.Chtimes(s.path(key), now, now)
}

// drop removes item n from the index after its file proved missing or
// damaged, unless it was replaced meanwhile (its gen is no longer gen).
func (s *Store) drop(n int32, gen uint64, corrupt bool) {
	s.mu.Lock()
	if corrupt {
		s.stats.Corrupt++
	}
	if s.current(n, gen) {
		s.remove(n)
	}
	if err := s.unlockAndUnlink(); err != nil {
		s.log.Warn("cannot remove cache file", "err", err)
	}
}

// load reads key's file. Small files are read whole and every checksum
// checked, giving an in-memory entry (and a memEntry if it fits the memory
// tier). Larger files are served from the open file, after their bodies
// are checked unless verified is set (see verifyAlwaysMax).
func (s *Store) load(key string, verified bool) (*Entry, *memEntry, error) {
	f, err := openFile(s.path(key), os.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	size, err := fileSize(f)
	if err != nil {
		return nil, nil, err
	}
	if size <= max(s.memPerItem, WholeReadMax) {
		buf := bufpool.Get(size)[:size]
		if _, err := f.ReadAt(buf, 0); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: short read", errCorrupt)
			}
			return nil, nil, err
		}
		if size < prefixLen+footerLen {
			return nil, nil, fmt.Errorf("%w: too short", errCorrupt)
		}
		footer := buf[size-footerLen:]
		n, err := footerMetaLen(buf[:prefixLen], footer, size)
		if err != nil {
			return nil, nil, err
		}
		m, err := decodeMeta(buf[:prefixLen], buf[size-footerLen-n:size-footerLen], footer, size)
		if err != nil {
			return nil, nil, err
		}
		if m.key != key {
			return nil, nil, fmt.Errorf("%w: holds another key", errCorrupt)
		}
		me := &memEntry{meta: m.json}
		offs := m.offsets()
		for i := range numEncodings {
			if m.lens[i] < 0 {
				continue
			}
			b := buf[offs[i] : offs[i]+m.lens[i] : offs[i]+m.lens[i]]
			if crc32.Checksum(b, castagnoli) != m.crcs[i] {
				return nil, nil, fmt.Errorf("%w: %s body checksum", errCorrupt, i)
			}
			me.bodies[i], me.present[i] = b, true
		}
		me.size = size + headerSize(m.json.Header) + int64(len(key))
		// The header was parsed for this read alone: e has it, and the
		// tier, if it takes me, clones one of its own (get).
		e := me.entry(key)
		e.whole = buf
		if me.size > s.memPerItem {
			me = nil
		}
		return e, me, nil
	}

	m, err := readMeta(f, size)
	if err != nil {
		return nil, nil, err
	}
	if m.key != key {
		return nil, nil, fmt.Errorf("%w: holds another key", errCorrupt)
	}
	offs := m.offsets()
	e := &Entry{
		Key:          key,
		Status:       m.json.Status,
		Header:       m.json.Header,
		RequestTime:  m.json.RequestTime,
		ResponseTime: m.json.ResponseTime,
		file:         f,
	}
	if e.Header == nil {
		e.Header = make(map[string][]string)
	}
	buf := []byte(nil)
	for i := range numEncodings {
		if m.lens[i] < 0 {
			continue
		}
		if !verified {
			if buf == nil {
				buf = make([]byte, 256<<10)
			}
			h := crc32.New(castagnoli)
			if _, err := io.CopyBuffer(h, io.NewSectionReader(f, offs[i], m.lens[i]), buf); err != nil {
				return nil, nil, err
			}
			if h.Sum32() != m.crcs[i] {
				return nil, nil, fmt.Errorf("%w: %s body checksum", errCorrupt, i)
			}
		}
		e.bodies[i] = bodyRef{present: true, inFile: true, off: offs[i], size: m.lens[i]}
	}
	keep = true
	return e, nil, nil
}

// entry returns an Entry reading from m, with m's header (a caller that
// may change it while m is in the tier clones it) and m's bodies, which
// are never written.
func (m *memEntry) entry(key string) *Entry {
	e := &Entry{
		Key:          key,
		Status:       m.meta.Status,
		Header:       m.meta.Header,
		RequestTime:  m.meta.RequestTime,
		ResponseTime: m.meta.ResponseTime,
	}
	if e.Header == nil {
		e.Header = make(map[string][]string)
	}
	for i := range numEncodings {
		if m.present[i] {
			b := m.bodies[i]
			if b == nil {
				b = []byte{}
			}
			e.bodies[i] = bodyRef{present: true, data: b, size: int64(len(b))}
		}
	}
	return e
}

// Put stores e under e.Key, replacing any previous entry atomically. The
// bodies are read from e (bytes from SetBody, or the file of an entry
// from Get, so a revalidated entry can be stored with a new header); Put
// keeps no reference to e. Older entries are evicted to stay within
// MaxSize. On a full or read-only disk Put fails and the previous entry,
// if any, remains.
func (s *Store) Put(e *Entry) error { return s.put(e, nil) }

// Swap replaces old, an entry Get returned, with e under the same key,
// as Put does, unless the key has been stored again, deleted or evicted
// since old was read: then it stores nothing and returns ErrChanged. It
// is for work done on a stored entry in the background (e.g. its bodies
// recompressed), which must not undo what happened to the key meanwhile.
// Readers of old keep reading old.
func (s *Store) Swap(old, e *Entry) error {
	if old.item == 0 || old.Key != e.Key {
		return errors.New("cache: swap of an entry not read from the store under its key")
	}
	return s.put(e, old)
}

// put is Put, and Swap when old is set.
func (s *Store) put(e *Entry, old *Entry) error {
	if e.Key == "" {
		return errors.New("cache: empty key")
	}
	if e.bodySize() > s.opts.MaxEntrySize {
		return ErrTooLarge
	}
	w, err := s.create(e.Key)
	if err != nil {
		return err
	}
	defer w.Abort()
	memOK := e.bodySize()+headerSize(e.Header)+int64(len(e.Key)) <= s.memPerItem
	var mem [numEncodings][]byte
	for enc := range numEncodings {
		if !e.bodies[enc].present {
			continue
		}
		w.begin(enc)
		if b := e.bodies[enc]; !b.inFile {
			// Written with what follows: the whole file in one writev
			// when every body is in memory.
			if err := w.queue(b.data); err != nil {
				return err
			}
		} else {
			r, ok := e.Body(enc)
			if !ok {
				return errors.New("cache: put of a closed entry")
			}
			if _, err := io.Copy(w, r); err != nil {
				return err
			}
		}
		if memOK && !e.bodies[enc].inFile {
			mem[enc] = e.bodies[enc].data // copied if the tier takes it
		} else {
			memOK = false
		}
	}
	w.swap = old
	if !memOK {
		return w.commit(e, nil)
	}
	return w.commit(e, &mem)
}

// Delete removes key's entry, if any. Entries being read stay readable.
func (s *Store) Delete(key string) error {
	h := s.hash(key)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if n := s.idx.lookup(key, h); n != 0 {
		s.remove(n)
	}
	return s.unlockAndUnlink()
}

// DeleteFunc removes every entry whose key match returns true for, and
// returns how many were removed. match runs with the store locked: it
// must be quick and must not call the Store. A file that cannot be
// removed (read-only disk) is still dropped from the index, and the first
// such error is returned; it would reappear after a restart.
func (s *Store) DeleteFunc(match func(key string) bool) (int, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	var matched []int32
	s.idx.all(func(n int32) {
		if match(string(s.idx.key(n))) {
			matched = append(matched, n)
		}
	})
	for _, n := range matched {
		s.remove(n)
	}
	return len(matched), s.unlockAndUnlink()
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Entries = s.idx.count
	st.Bytes = s.bytes
	st.MemoryBytes = s.memUsed
	st.IndexBytes = s.idx.bytes()
	st.MemoryEntries = len(s.inMem)
	return st
}

// Close releases the store's memory. Entries already returned by Get stay
// readable until they are closed. Later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.idx, s.inMem = newIndex(), nil
	s.mem.next, s.mem.prev = &s.mem, &s.mem
	s.memUsed = 0
	s.shut.Store(true)
	s.mu.Unlock()
	s.spareWG.Wait()
	s.dropSpares()
	return nil
}

// spareFiles is how many empty temporary files a Store keeps ready.
const spareFiles = 8

// takeSpare returns an empty temporary file made ahead of need, or nil,
// and has more made in the background. Creating a file is the dearest
// step of a Put on a busy file system (ext4 looks for an inode among
// those recently freed, at up to a millisecond of system time): made
// ahead, it is off the fill's path.
func (s *Store) takeSpare() *os.File {
	var f *os.File
	select {
	case f = <-s.spares:
	default:
	}
	if len(s.spares) < cap(s.spares) && s.refilling.CompareAndSwap(false, true) {
		// Under the lock, so that Close's Wait comes after this Add or
		// no goroutine starts.
		s.mu.Lock()
		if s.closed {
			s.refilling.Store(false)
		} else {
			s.spareWG.Add(1)
			go s.refill()
		}
		s.mu.Unlock()
	}
	return f
}

// refill makes spare files until there are spareFiles, a creation fails,
// or the Store closes. They are made in the fan-out directories in turn,
// not in Dir: ext4 gives a new file an inode, and then its data blocks,
// near its directory's, and with every spare made in one directory the
// cache's files crowded a few block groups. Each fill then paid for the
// search for free blocks: four times the system time per Put once the
// cache held 20,000 files, against files spread as nginx spreads its.
func (s *Store) refill() {
	defer s.spareWG.Done()
	defer s.refilling.Store(false)
	for len(s.spares) < cap(s.spares) && !s.shut.Load() {
		s.spareDir++
		dir, err := s.subdir(hex.EncodeToString([]byte{s.spareDir}))
		if err != nil {
			return
		}
		f, err := s.hooks.createTemp(dir, sparePrefix)
		if err != nil {
			return // Put finds out for itself, and says so
		}
		select {
		case s.spares <- f:
		default:
			f.Close()
			os.Remove(f.Name())
			return
		}
	}
}

// dropSpares removes the spare files.
func (s *Store) dropSpares() {
	for {
		select {
		case f := <-s.spares:
			f.Close()
			os.Remove(f.Name())
		default:
			return
		}
	}
}

// The methods below run with s.mu held.

// hash is key's hash in the index and the sketch.
func (s *Store) hash(key string) uint64 { return maphash.String(s.seed, key) }

// newGen returns a gen no item has had.
func (s *Store) newGen() uint64 {
	s.lastGen++
	return s.lastGen
}

// current reports whether item n still holds the entry of gen: not
// replaced, deleted or evicted since, and the store still open.
func (s *Store) current(n int32, gen uint64) bool {
	return !s.closed && int(n) < len(s.idx.items) && s.idx.items[n].gen == gen
}

// remove drops item n from the index and dooms its file: the caller
// unlinks it with unlockAndUnlink.
func (s *Store) remove(n int32) {
	key := string(s.idx.key(n))
	it := &s.idx.items[n]
	s.idx.unlink(n)
	s.bytes -= it.size
	s.memForget(n)
	s.idx.remove(n)
	s.doomed = append(s.doomed, key)
	s.unlinking[key]++
}

func (s *Store) evict(n int32) {
	s.stats.Evictions++
	s.remove(n)
}

// unlockAndUnlink releases the lock, then unlinks the doomed files, so
// that no lookup waits for the file system to free them; it returns the
// first failure. A Put of a doomed key waits in the meantime (see
// Store.unlinked), so it is never its new file that goes.
func (s *Store) unlockAndUnlink() error {
	doomed := s.doomed
	s.doomed = nil
	s.mu.Unlock()
	if len(doomed) == 0 {
		return nil
	}
	var first error
	for _, key := range doomed {
		if err := s.hooks.remove(s.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
			first = fmt.Errorf("removing cache file of %q: %w", key, err)
		}
	}
	s.mu.Lock()
	for _, key := range doomed {
		if s.unlinking[key]--; s.unlinking[key] <= 0 {
			delete(s.unlinking, key)
		}
	}
	s.unlinked.Broadcast()
	s.mu.Unlock()
	return first
}

// memAdmits reports whether the memory tier takes an entry of size bytes
// for it: one that fits, while the tier has room, or in place of one of
// its own that was in memory, or when it was asked for more often lately
// than the entry it would push out first. A refusal for the last reason
// counts in MemoryDeclined.
func (s *Store) memAdmits(n int32, size int64) bool {
	if s.memPerItem <= 0 || size > s.memPerItem {
		return false
	}
	if victim := s.mem.prev; s.inMem[n] == nil && s.memUsed+size > s.opts.Memory && victim != &s.mem {
		if s.freq.estimate(s.idx.items[n].hash) <= s.freq.estimate(s.idx.items[victim.item].hash) {
			s.stats.MemoryDeclined++
			return false
		}
	}
	return true
}

// memInsert keeps m in memory for item n; the caller has found that the
// tier admits it (memAdmits).
func (s *Store) memInsert(n int32, m *memEntry) {
	s.memForget(n)
	m.item = n
	s.inMem[n] = m
	m.prev, m.next = &s.mem, s.mem.next
	s.mem.next.prev = m
	s.mem.next = m
	s.memUsed += m.size
	for s.memUsed > s.opts.Memory && s.mem.prev != m {
		s.stats.MemoryEvictions++
		s.memRemove(s.mem.prev)
	}
}

// ownBodies copies m's bodies into one buffer of their exact size.
func (m *memEntry) ownBodies() {
	n := 0
	for _, b := range m.bodies {
		n += len(b)
	}
	buf := make([]byte, 0, n)
	for i, b := range m.bodies {
		if m.present[i] {
			at := len(buf)
			buf = append(buf, b...)
			m.bodies[i] = buf[at:len(buf):len(buf)]
		}
	}
}

// memForget drops item n's entry from the tier, if it holds one.
func (s *Store) memForget(n int32) {
	if m := s.inMem[n]; m != nil {
		s.memRemove(m)
	}
}

// memRemove drops m from the tier.
func (s *Store) memRemove(m *memEntry) {
	m.prev.next, m.next.prev = m.next, m.prev
	m.prev, m.next = nil, nil
	delete(s.inMem, m.item)
	s.memUsed -= m.size
}

func (s *Store) memMoveToFront(m *memEntry) {
	m.prev.next, m.next.prev = m.next, m.prev
	m.prev, m.next = &s.mem, s.mem.next
	s.mem.next.prev = m
	s.mem.next = m
}
