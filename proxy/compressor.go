package proxy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/icpedge/icpedge/proxy/cache"
)

// defaultCompressQueue is how many entries may wait for a Compressor.
// Jobs hold no body while they wait (the worker reads the stored one), so
// the bound is about how much work may pile up behind a burst of misses,
// not memory: what is dropped is queued again by a hit that finds the
// variants missing.
const defaultCompressQueue = 64

// Compressor makes the compressed variants of stored responses in the
// background, so that neither a miss nor a hit waits for a compressor: a
// miss stores its page with the fast gzip its visitor got, if any, and
// queues the entry here; a worker reads the stored identity body, makes
// the br and gzip variants at the stored levels, and swaps the new entry
// in (cache.Store.Swap: not if the key was stored again, purged or
// evicted meanwhile). Until then hits get the fast gzip, or identity.
//
// The workers run on OS threads of the lowest priority (nice 19), so
// that the kernel puts visitors' work first. The queue drops work when it
// is full rather than wait, and an entry is
// queued once at a time. A job starts only when no fill is in flight in
// the Handlers that share the Compressor, and none ended in the last
// 20ms: during a burst of misses the CPUs are the visitors'. One Compressor is meant to be shared by every
// Handler of a process, like a Budget, so that the process as a whole
// runs at most Workers compressions at once. Create it with
// NewCompressor; Close stops it.
type Compressor struct {
	jobs chan compressJob
	stop chan struct{}
	wg   sync.WaitGroup

	// fills counts the fills in flight in the Handlers that share the
	// Compressor; lastFill is when the last one ended (Unix nanoseconds).
	// Jobs wait for a quiet moment (see waitQuiet).
	fills    atomic.Int32
	lastFill atomic.Int64
	held     atomic.Int32 // workers holding a job back for a fill
	// requests counts the requests the Handlers that share the
	// Compressor have begun: a job during which it moved ran while
	// visitors were being served, and its worker rests (see rest).
	requests atomic.Int64
	rests    atomic.Int64 // rests begun after a job

	mu     sync.Mutex
	quiet  *sync.Cond               // signalled when fills drops to 0, and on Close
	queued map[compressKey]struct{} // queued or running
	closed bool

	done    atomic.Int64 // entries swapped in
	dropped atomic.Int64 // jobs not queued: the queue was full
}

// compressKey names one stored entry.
type compressKey struct {
	store *cache.Store
	key   string
}

// compressJob is one entry to compress: the budget its work draws on
// and the log for its failures.
type compressJob struct {
	compressKey
	budget  *Budget
	log     *slog.Logger
	metrics *Metrics
}

// NewCompressor starts workers goroutines (at most GOMAXPROCS; ≤ 0 means
// one per two CPUs, at least one).
func NewCompressor(workers int) *Compressor {
	procs := runtime.GOMAXPROCS(0)
	if workers <= 0 {
		workers = procs / 2
	}
	return newCompressor(max(1, min(workers, procs)), defaultCompressQueue)
}

// newCompressor starts workers goroutines on a queue of the given length.
func newCompressor(workers, queue int) *Compressor {
	c := &Compressor{
		jobs:   make(chan compressJob, queue),
		stop:   make(chan struct{}),
		queued: make(map[compressKey]struct{}),
	}
	c.quiet = sync.NewCond(&c.mu)
	for range workers {
		c.wg.Go(c.work)
	}
	return c
}

// Close stops the workers and waits for the jobs running to end; queued
// jobs are dropped. Close is idempotent.
func (c *Compressor) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.stop)
	c.quiet.Broadcast()
	c.mu.Unlock()
	c.wg.Wait()
}

// quietAfter is how long after the last fill a job may start: misses
// that come one after another (a crawler, one visitor's page and its
// frames) are not interleaved with background work.
const quietAfter = 20 * time.Millisecond

// fillStarted and fillEnded bracket a fill: the Compressor starts no job
// while one is in flight, so that its work doesn't take a CPU from a
// visitor waiting for a miss. A job already running finishes.
func (c *Compressor) fillStarted() { c.fills.Add(1) }

func (c *Compressor) fillEnded() {
	c.lastFill.Store(time.Now().UnixNano())
	if c.fills.Add(-1) == 0 {
		c.mu.Lock()
		c.quiet.Broadcast()
		c.mu.Unlock()
	}
}

// waitQuiet waits until no fill is in flight and none ended in the last
// quietAfter, or the Compressor is closed (false).
func (c *Compressor) waitQuiet() bool {
	for {
		c.mu.Lock()
		for c.fills.Load() > 0 && !c.closed {
			c.held.Add(1)
			c.quiet.Wait()
			c.held.Add(-1)
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return false
		}
		wait := quietAfter - time.Since(time.Unix(0, c.lastFill.Load()))
		if wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-c.stop:
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// enqueue queues j unless it is queued already, reporting false when the
// queue is full or closed. It never waits. With onlyIdle, as for a page
// just stored, j is queued only when no job is queued or running: during
// a burst of misses (a crawler walking the long tail, a purge) most pages
// are fetched once and never again before they expire, and a page's best
// compression costs a hundred times its miss. Then the work waits for the
// page's first hit, which queues it (recompressLater), and the burst
// leaves at most one job behind it.
func (c *Compressor) enqueue(j compressJob, onlyIdle bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if onlyIdle && len(c.queued) > 0 {
		_, ok := c.queued[j.compressKey]
		return ok
	}
	if _, ok := c.queued[j.compressKey]; ok {
		return true
	}
	select {
	case c.jobs <- j:
		c.queued[j.compressKey] = struct{}{}
		return true
	default:
		c.dropped.Add(1)
		return false
	}
}

// idle reports whether no job is queued or running.
func (c *Compressor) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queued) == 0
}

// work runs jobs until Close. Its compressors are kept while jobs follow
// one another and let go when the queue is empty, so an idle edge holds
// none of their tables.
func (c *Compressor) work() {
	// The worker keeps an OS thread of its own at the lowest priority:
	// when visitors' requests want the CPUs, the kernel gives them the
	// CPUs, even while a job (seconds of brotli for a large page) runs.
	// The thread ends with the goroutine.
	runtime.LockOSThread()
	_ = lowerThreadPriority() // best effort: the quiet wait still holds jobs back
	var cw *compressWriters
	for {
		select {
		case <-c.stop:
			return
		case j := <-c.jobs:
			if !c.waitQuiet() {
				return
			}
			if cw == nil {
				cw = newCompressWriters()
			}
			start, seen := time.Now(), c.requests.Load()
			c.run(j, cw)
			c.mu.Lock()
			delete(c.queued, j.compressKey)
			c.mu.Unlock()
			if len(c.jobs) == 0 {
				cw = nil
			}
			if c.requests.Load() != seen {
				// Resting, the writers' tables (megabytes) are not
				// held: a larger live heap means more collections for
				// every request.
				cw = nil
				if !c.rest(time.Since(start)) {
					return
				}
			}
		}
	}
}

// restFactor is how many times a job's duration its worker rests after a
// job that ran while visitors were being served: at most a tenth of a CPU
// then. Nice 19 gives visitors the CPU, but not the rest of what a job
// costs them: a job allocates megabytes, and on a busy edge that means
// more collections, whose work and pauses every request shares, and
// memory handed back to the OS and faulted in again. Measured with
// icpedge-bench --only memory, random hits over 10,000 pages just stored
// (so each first hit queues a job): 4,600 hits/s without the Compressor,
// 1,000-1,400 with it unrested, 3,800 with this rest. The duration is
// wall time, so a job slowed by a busy CPU earns a longer rest. An idle
// edge's worker doesn't rest.
const restFactor = 9

// rest waits restFactor times d, or until Close (false).
func (c *Compressor) rest(d time.Duration) bool {
	c.rests.Add(1)
	t := time.NewTimer(restFactor * d)
	defer t.Stop()
	select {
	case <-c.stop:
		return false
	case <-t.C:
		return true
	}
}

// requestStarted notes a request to one of the Handlers sharing the
// Compressor.
func (c *Compressor) requestStarted() { c.requests.Add(1) }

// run makes the stored variants of one entry and swaps them in. Nothing
// here is an error a visitor sees: an entry that changed, went, or
// doesn't need it is left as it is, and a failing disk is logged.
func (c *Compressor) run(j compressJob, cw *compressWriters) {
	e, err := j.store.Reread(j.key)
	if err != nil {
		return
	}
	defer e.Close()
	size := e.Size(cache.Identity)
	if e.Has(cache.Brotli) || size < minCompressSize || !compressible(e.Header.Get("Content-Type")) {
		return
	}
	// The variants, which together take less than the body, drawn from
	// the budget only while it has room to spare: visitors come first.
	// A body not in memory is read from its file as it is compressed.
	l := j.budget.lease()
	defer l.free()
	if !l.growSpare(size) {
		return // a later hit queues it again
	}
	var src io.Reader
	if b, ok := e.Bytes(cache.Identity); ok {
		src = bytes.NewReader(b)
	} else if r, ok := e.Body(cache.Identity); ok {
		src = r
	} else {
		return
	}
	gz, br, cpu, err := cw.compress(src, size)
	j.metrics.observeCompress(cpu)
	if err != nil {
		j.log.Warn("reading a stored body to compress it failed", "key", j.key, "err", err)
		return
	}
	// The same entry, its identity body read from where it is, with the
	// new variants. ne shares e's file: only e is closed.
	ne := *e
	ne.SetBody(cache.Gzip, gz)
	ne.SetBody(cache.Brotli, br)
	switch err := j.store.Swap(e, &ne); {
	case err == nil:
		c.done.Add(1)
	case errors.Is(err, cache.ErrChanged), errors.Is(err, cache.ErrClosed), errors.Is(err, cache.ErrTooLarge):
	default:
		j.log.Warn("storing compressed variants failed", "key", j.key, "err", err)
	}
}

// compressWriters are one worker's compressors at the stored levels,
// each made when first needed.
type compressWriters struct {
	br, brLarge *brotli.Writer
	gz          *gzip.Writer
}

func newCompressWriters() *compressWriters {
	gz, _ := gzip.NewWriterLevel(io.Discard, storedGzipLevel)
	return &compressWriters{gz: gz}
}

// brotliFor returns the brotli writer for a body of size bytes.
func (cw *compressWriters) brotliFor(size int64) *brotli.Writer {
	if size <= maxBestBrotliSize {
		if cw.br == nil {
			cw.br = brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: storedBrotliLevel, LGWin: brotliWindow})
		}
		return cw.br
	}
	if cw.brLarge == nil {
		cw.brLarge = brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: largeBrotliLevel, LGWin: brotliWindow})
	}
	return cw.brLarge
}

// compress reads size bytes from src and returns them compressed with
// gzip and with brotli, in one pass, and the CPU time that took (the time
// it took where the thread's CPU time can't be read).
func (cw *compressWriters) compress(src io.Reader, size int64) (gz, br []byte, cpu time.Duration, err error) {
	// The goroutine keeps its thread while it works, so that the
	// thread's CPU time is its own.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, startCPU := time.Now(), time.Duration(0)
	cpuOK := false
	if c, ok := threadCPU(); ok {
		startCPU, cpuOK = c, true
	}
	defer func() {
		cpu = time.Since(start)
		if c, ok := threadCPU(); ok && cpuOK {
			cpu = c - startCPU
		}
	}()
	gz, br, err = cw.compressBoth(src, size)
	return gz, br, 0, err
}

// compressBoth is compress without the measuring.
func (cw *compressWriters) compressBoth(src io.Reader, size int64) (gz, br []byte, err error) {
	var gzBuf, brBuf bytes.Buffer
	gzBuf.Grow(int(size/4) + 64)
	brBuf.Grow(int(size/4) + 64)
	bw := cw.brotliFor(size)
	cw.gz.Reset(&gzBuf)
	bw.Reset(&brBuf)
	defer func() {
		cw.gz.Reset(io.Discard)
		bw.Reset(io.Discard)
	}()
	if _, err := io.CopyN(io.MultiWriter(cw.gz, bw), src, size); err != nil {
		return nil, nil, err
	}
	if err := cw.gz.Close(); err != nil {
		return nil, nil, err
	}
	if err := bw.Close(); err != nil {
		return nil, nil, err
	}
	return gzBuf.Bytes(), brBuf.Bytes(), nil
}

// recompressLater queues a stored entry for the Compressor when it is
// compressible and has no br variant yet. It runs on hits, so it returns
// at once for every entry that needs nothing.
func (q *request) recompressLater(e *cache.Entry) { q.queueCompress(e, false) }

// recompressStored is recompressLater for an entry a fill has just
// stored: it is queued only while the Compressor is idle
// (Compressor.enqueue, onlyIdle).
func (q *request) recompressStored(e *cache.Entry) { q.queueCompress(e, true) }

func (q *request) queueCompress(e *cache.Entry, onlyIdle bool) {
	if e.Has(cache.Brotli) || e.Size(cache.Identity) < minCompressSize {
		return
	}
	h := q.h
	if h.opts.Cache == nil || !compressible(e.Header.Get("Content-Type")) {
		return
	}
	h.compressor.enqueue(compressJob{compressKey: compressKey{store: h.opts.Cache, key: e.Key}, budget: h.budget, log: h.log, metrics: h.opts.Metrics}, onlyIdle)
}
