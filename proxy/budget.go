package proxy

import "sync/atomic"

// DefaultBufferMemory is the budget for buffered bodies when Options.Budget
// is nil.
const DefaultBufferMemory = 64 << 20

// Budget bounds the memory that buffered bodies hold at once: pages and
// style sheets read whole to be rewritten, bodies read whole to be stored,
// what the rewriter and the compressors make of them, and request bodies
// held until the origin is asked. One Budget is meant to be shared by
// every Handler of a process, so that the process as a whole has a
// ceiling, whatever the number of clients it serves.
//
// Nothing waits for memory: when the budget is spent, a response streams
// instead of being buffered (HTML with the notice injected while
// streaming, other bodies unstored), and a request body goes to disk.
// A Budget is safe for concurrent use.
type Budget struct {
	limit atomic.Int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes; limit ≤ 0 means
// DefaultBufferMemory.
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		limit = DefaultBufferMemory
	}
	b := &Budget{}
	b.limit.Store(limit)
	return b
}

// Limit returns the limit in bytes.
func (b *Budget) Limit() int64 { return b.limit.Load() }

// InUse returns the bytes currently held.
func (b *Budget) InUse() int64 { return b.used.Load() }

// tryAcquire takes n bytes if they fit under the limit.
func (b *Budget) tryAcquire(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.limit.Load() {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

func (b *Budget) release(n int64) { b.used.Add(-n) }

// lease is what one body holds of a Budget. It is not safe for concurrent
// use; a nil *lease holds nothing and grants nothing.
type lease struct {
	b    *Budget
	held int64
}

func (b *Budget) lease() *lease { return &lease{b: b} }

// grow takes n more bytes, reporting whether the budget had them.
func (l *lease) grow(n int64) bool {
	if l == nil || n < 0 {
		return false
	}
	if !l.b.tryAcquire(n) {
		return false
	}
	l.held += n
	return true
}

// growSpare takes n more bytes only if at least half the budget stays
// free: for work done in the background, which must not leave visitors
// without memory.
func (l *lease) growSpare(n int64) bool {
	if l == nil || n < 0 {
		return false
	}
	b := l.b
	for {
		used := b.used.Load()
		if used+n > b.limit.Load()/2 {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			l.held += n
			return true
		}
	}
}

// charge takes n more bytes whether or not they fit: it accounts for
// memory that is already allocated, so that new buffers wait for it.
func (l *lease) charge(n int64) {
	if l == nil || n <= 0 {
		return
	}
	l.b.used.Add(n)
	l.held += n
}

// shrink gives back n bytes (at most what is held).
func (l *lease) shrink(n int64) {
	if l == nil {
		return
	}
	n = min(n, l.held)
	l.held -= n
	l.b.release(n)
}

// free gives back everything held. The lease may be used again.
func (l *lease) free() {
	if l != nil {
		l.shrink(l.held)
	}
}
