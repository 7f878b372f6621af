package cache

import (
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
)

// Writer streams one body into the store without buffering it; create it
// with Store.Create. It is not safe for concurrent use. Nothing is visible
// to Get until Commit; a Writer that is neither committed nor aborted
// leaves a temporary file that the next Open removes, so defer Abort.
type Writer struct {
	s     *Store
	key   string
	final string // where the file goes
	tmp   string
	f     *os.File
	err   error // sticky
	done  bool

	// swap, when set, is the entry this one may replace: commit
	// installs nothing if the key changed since it was read (Swap).
	swap *Entry

	// queued is what is yet to be written, in order: the file's prefix,
	// and the bodies Put queued. The next write sends it with its own
	// bytes, in one writev.
	queued [][]byte
	vec    [numEncodings + 2][]byte // queued's first array

	cur   Encoding
	crc   hash.Hash32
	total int64
	lens  [numEncodings]int64
	crcs  [numEncodings]uint32
}

// Create starts a streamed entry for key whose body, in encoding enc, is
// written with Write. Commit then stores it with the metadata of an Entry.
// Writes fail with ErrTooLarge past Options.MaxEntrySize; abort then.
func (s *Store) Create(key string, enc Encoding) (*Writer, error) {
	if key == "" {
		return nil, errors.New("cache: empty key")
	}
	if enc >= numEncodings {
		return nil, fmt.Errorf("cache: unknown encoding %d", enc)
	}
	w, err := s.create(key)
	if err != nil {
		return nil, err
	}
	w.begin(enc)
	return w, nil
}

func (s *Store) create(key string) (*Writer, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	name := fileName(key)
	dir, err := s.subdir(name)
	if err != nil {
		return nil, err
	}
	f := s.takeSpare()
	if f == nil {
		// None ready: one in the file's own directory, so that fills
		// spread over 256 directories rather than contend for one.
		f, err = s.hooks.createTemp(dir, tempPrefix)
		if errors.Is(err, fs.ErrNotExist) {
			// The directory went since it was made: make it again.
			s.dirs[hexByte(name)].Store(false)
			if dir, err = s.subdir(name); err != nil {
				return nil, err
			}
			f, err = s.hooks.createTemp(dir, tempPrefix)
		}
		if err != nil {
			return nil, fmt.Errorf("creating cache file: %w", err)
		}
	}
	w := &Writer{s: s, key: key, final: filepath.Join(dir, name), tmp: f.Name(), f: f, cur: numEncodings}
	for i := range w.lens {
		w.lens[i] = -1
	}
	w.queued = append(w.vec[:0], filePrefix()) // written with the first bytes
	return w, nil
}

// writeOut writes what is queued, then last.
func (w *Writer) writeOut(last []byte) error {
	bufs := append(w.queued, last)
	w.queued = w.queued[:0]
	return w.s.hooks.writev(w.f, bufs)
}

// begin ends the current body and starts one in enc. Bodies must come in
// Encoding order, each at most once (Put guarantees it).
func (w *Writer) begin(enc Encoding) {
	w.end()
	w.cur = enc
	w.crc = crc32.New(castagnoli)
	w.lens[enc] = 0
}

func (w *Writer) end() {
	if w.cur < numEncodings {
		w.crcs[w.cur] = w.crc.Sum32()
	}
	w.cur = numEncodings
}

// Write appends p to the body.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done || w.cur >= numEncodings {
		return 0, errors.New("cache: write to finished writer")
	}
	if w.total+int64(len(p)) > w.s.opts.MaxEntrySize {
		w.err = ErrTooLarge
		return 0, w.err
	}
	if err := w.writeOut(p); err != nil {
		w.err = fmt.Errorf("writing cache file: %w", err)
		return 0, w.err
	}
	w.add(p)
	return len(p), nil
}

// queue adds p to the current body, to be written with the next write or
// the trailer: the caller keeps p unchanged until then.
func (w *Writer) queue(p []byte) error {
	if w.total+int64(len(p)) > w.s.opts.MaxEntrySize {
		w.err = ErrTooLarge
		return w.err
	}
	w.queued = append(w.queued, p)
	w.add(p)
	return nil
}

// add counts p, written or queued, in the current body.
func (w *Writer) add(p []byte) {
	w.crc.Write(p)
	w.total += int64(len(p))
	w.lens[w.cur] += int64(len(p))
}

// Commit stores the streamed body under the Writer's key with e's
// Status, Header, RequestTime and ResponseTime, replacing any previous
// entry atomically; e's Key and bodies are ignored. The Writer is
// finished whatever the outcome.
func (w *Writer) Commit(e *Entry) error {
	return w.commit(e, nil)
}

// commit writes the trailer and installs the file. mem, when not nil,
// holds the bodies, which the memory tier copies if it takes the entry.
func (w *Writer) commit(e *Entry, mem *[numEncodings][]byte) error {
	if w.done {
		return errors.New("cache: writer already finished")
	}
	defer w.Abort()
	if w.err != nil {
		return w.err
	}
	w.end()
	m := metaJSON{Status: e.Status, Header: e.Header, RequestTime: e.RequestTime, ResponseTime: e.ResponseTime}
	trailer, err := encodeTrailer(w.key, w.lens, w.crcs, m)
	if err != nil {
		return err
	}
	if err := w.writeOut(trailer); err != nil {
		return fmt.Errorf("writing cache file: %w", err)
	}
	s := w.s
	now := s.opts.Now()
	if !s.opts.realClock {
		_ = os.Chtimes(w.tmp, now, now) // recency for the next Open; best effort
	}
	// No fsync, of the file or its directory: the cache is disposable,
	// and every file carries its key, its exact size and checksums. A
	// process that dies leaves whole files in the page cache; a power
	// failure may leave a renamed file torn or empty, which Open or Get
	// finds and drops as a miss, as nginx's cache does. A sync per fill
	// cost misses more than anything else the store does.
	size := int64(prefixLen) + w.total + int64(len(trailer))
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("closing cache file: %w", err)
	}
	w.f = nil

	final := w.final
	h := s.hash(w.key)
	s.mu.Lock()
	// The file of an entry of this key that was just removed is yet to
	// be unlinked: it must go before this one takes its name.
	if s.unlinking[w.key] > 0 {
		s.stats.UnlinkWaits++
	}
	for s.unlinking[w.key] > 0 && !s.closed {
		s.unlinked.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if old := w.swap; old != nil && !s.current(old.item, old.gen) {
		s.mu.Unlock()
		return ErrChanged
	}
	if err := rename(w.tmp, final); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("installing cache file: %w", err)
	}
	w.done = true
	n := s.idx.lookup(w.key, h)
	if n == 0 {
		var ok bool
		if n, ok = s.idx.insert(w.key, h); !ok {
			os.Remove(final) // unindexed, it would never be evicted
			s.mu.Unlock()
			return errors.New("cache: too many entries to index")
		}
	} else {
		s.bytes -= s.idx.items[n].size
	}
	s.idx.moveToFront(n)
	it := &s.idx.items[n]
	it.gen = s.newGen()
	it.size = blocks(size)
	it.atime = now.Unix()
	it.verified = true // written and checksummed by this process
	s.bytes += it.size
	// Kept in memory when the tier admits it, as a copy of its own; the
	// entry it replaces, if any, goes from memory either way.
	if memSize := size + headerSize(e.Header) + int64(len(w.key)); mem != nil && s.memAdmits(n, memSize) {
		me := &memEntry{meta: m, bodies: *mem, size: memSize}
		me.meta.Header = e.Header.Clone()
		for i := range numEncodings {
			me.present[i] = w.lens[i] >= 0
		}
		me.ownBodies()
		s.memInsert(n, me)
	} else {
		s.memForget(n)
	}
	for s.bytes > s.opts.MaxSize && s.idx.oldest() != n && s.idx.oldest() != 0 {
		s.evict(s.idx.oldest())
	}
	if err := s.unlockAndUnlink(); err != nil {
		s.log.Warn("cannot evict cache file", "err", err)
	}
	return nil
}

// Abort discards the Writer's file. It is a no-op after Commit.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing cache temp file: %w", err)
	}
	return nil
}

// advance drops the first n bytes of bufs, as a write of n of them does.
func advance(bufs [][]byte, n int) [][]byte {
	for n > 0 && len(bufs) > 0 {
		if n < len(bufs[0]) {
			bufs[0] = bufs[0][n:]
			return bufs
		}
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	return bufs
}
