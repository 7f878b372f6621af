package status

import (
	"math"
	"sync"
	"time"
)

const (
	// windowSlots per-minute slots make up the hour that Window sums:
	// memory stays the same however busy the site is.
	windowSlots = 60
	slotLen     = time.Minute

	// Fetch times go into buckets growing by fetchGrowth from
	// fetchFirst: the median is reported as its bucket's geometric
	// middle, within about 12% of the true value, from 1 ms to about
	// eight minutes; anything longer lands in the last bucket.
	fetchFirst   = time.Millisecond
	fetchGrowth  = 1.25
	fetchBuckets = 60

	// maxErrLen bounds the last origin error kept, in bytes: errors can
	// quote what a broken origin sent.
	maxErrLen = 512
)

// Window sums one site's traffic over the last hour, in per-minute slots,
// for the status page. It is a proxy.Observer: the proxy feeds it from
// the request path. Its methods are safe for concurrent use and cost a
// mutex and a few additions each. A nil *Window ignores everything, so a site that has
// none needs no checks at the call sites.
type Window struct {
	now     func() time.Time
	created time.Time

	mu        sync.Mutex
	slots     [windowSlots]slot
	lastErr   string
	lastErrAt time.Time
}

// slot is one minute's sums.
type slot struct {
	minute       int64 // Unix minute the sums belong to
	lookups      int64
	hits         int64
	stored       int64
	fetches      int64
	fetchErrors  int64
	staleOnError int64
	fetchTimes   [fetchBuckets]uint32
}

// NewWindow returns an empty Window. now is the clock (nil: time.Now).
func NewWindow(now func() time.Time) *Window {
	if now == nil {
		now = time.Now
	}
	return &Window{now: now, created: now()}
}

// Served counts one response. class is how the cache answered it: hit,
// stale, revalidated, miss or bypass (proxy's classes). The first three
// came from the cache; bypass is not counted, so the hit ratio is that of
// what could have been cached. staleOnError marks a stale copy served
// because the origin failed (RFC 5861 §4).
func (w *Window) Served(class string, staleOnError bool) {
	var hit bool
	switch class {
	case "hit", "stale", "revalidated":
		hit = true
	case "miss":
	default:
		return
	}
	w.add(func(s *slot) {
		s.lookups++
		if hit {
			s.hits++
		}
		if staleOnError {
			s.staleOnError++
		}
	})
}

// Stored counts n bytes written to the cache.
func (w *Window) Stored(n int64) {
	if n <= 0 {
		return
	}
	w.add(func(s *slot) { s.stored += n })
}

// Fetched counts one request to the origin that took d. A non-nil err is a
// failure (no response, or a 5xx) and becomes the last error shown.
func (w *Window) Fetched(d time.Duration, err error) {
	if w == nil {
		return
	}
	var msg string
	if err != nil {
		msg = truncate(err.Error(), maxErrLen)
	}
	b := fetchBucket(d)
	w.add(func(s *slot) {
		s.fetches++
		s.fetchTimes[b]++
		if err != nil {
			s.fetchErrors++
		}
	})
	if err != nil {
		w.mu.Lock()
		w.lastErr, w.lastErrAt = msg, w.now()
		w.mu.Unlock()
	}
}

// add applies f to the current minute's slot, emptying it first if it
// still holds an older minute.
func (w *Window) add(f func(*slot)) {
	if w == nil {
		return
	}
	minute := unixMinute(w.now())
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.slots[slotIndex(minute)]
	if s.minute != minute {
		*s = slot{minute: minute}
	}
	f(s)
}

// Traffic is a site's figures over the last hour (or since the process
// started, when that is shorter: Span says which).
type Traffic struct {
	// Span is the time the figures cover: an hour, or less just after
	// start. Zero means no figures are kept for the site.
	Span time.Duration
	// Lookups and Hits are responses the cache was asked for, and those
	// it served.
	Lookups, Hits int64
	// StoredBytes were written to the cache.
	StoredBytes int64
	// Fetches are requests to the origin, FetchErrors those that failed,
	// FetchP50 their median time (0 when there were none).
	Fetches, FetchErrors int64
	FetchP50             time.Duration
	// StaleOnError are stale responses served because the origin failed.
	StaleOnError int64
	// LastError is the origin's last failure and when it happened,
	// however long ago; "" when it has not failed since start.
	LastError   string
	LastErrorAt time.Time
}

// HitRatio is Hits/Lookups, and false when there were no lookups.
func (t Traffic) HitRatio() (float64, bool) {
	if t.Lookups == 0 {
		return 0, false
	}
	return float64(t.Hits) / float64(t.Lookups), true
}

// Traffic sums the last hour: the current minute and the 59 before it.
func (w *Window) Traffic() Traffic {
	if w == nil {
		return Traffic{}
	}
	now := w.now()
	cur := unixMinute(now)
	var t Traffic
	var times [fetchBuckets]uint64
	w.mu.Lock()
	for i := range w.slots {
		s := &w.slots[i]
		if s.minute <= cur-windowSlots || s.minute > cur {
			continue
		}
		t.Lookups += s.lookups
		t.Hits += s.hits
		t.StoredBytes += s.stored
		t.Fetches += s.fetches
		t.FetchErrors += s.fetchErrors
		t.StaleOnError += s.staleOnError
		for b, n := range s.fetchTimes {
			times[b] += uint64(n)
		}
	}
	t.LastError, t.LastErrorAt = w.lastErr, w.lastErrAt
	w.mu.Unlock()

	t.Span = min(now.Sub(w.created), windowSlots*slotLen)
	if t.Span <= 0 {
		t.Span = time.Nanosecond // just created: still a window
	}
	t.FetchP50 = median(times[:], uint64(t.Fetches))
	return t
}

// median returns the middle fetch time of the bucket counts, n in all.
func median(counts []uint64, n uint64) time.Duration {
	if n == 0 {
		return 0
	}
	// The lower median for an even n: the n/2-th smallest, 1-based,
	// rounded up.
	rank := (n + 1) / 2
	var seen uint64
	for b, c := range counts {
		seen += c
		if seen >= rank {
			return bucketMiddle(b)
		}
	}
	return bucketMiddle(len(counts) - 1)
}

// fetchBucket is the bucket of d: bucket 0 holds up to fetchFirst, bucket
// b (fetchFirst·g^(b-1), fetchFirst·g^b].
func fetchBucket(d time.Duration) int {
	if d <= fetchFirst {
		return 0
	}
	b := int(math.Ceil(math.Log(float64(d)/float64(fetchFirst)) / math.Log(fetchGrowth)))
	return min(max(b, 0), fetchBuckets-1)
}

// bucketMiddle is the geometric middle of bucket b's bounds.
func bucketMiddle(b int) time.Duration {
	if b == 0 {
		return fetchFirst
	}
	upper := float64(fetchFirst) * math.Pow(fetchGrowth, float64(b))
	return time.Duration(upper / math.Sqrt(fetchGrowth)).Round(100 * time.Microsecond)
}

func unixMinute(t time.Time) int64 {
	return int64(math.Floor(float64(t.Unix()) / 60))
}

func slotIndex(minute int64) int {
	i := minute % windowSlots
	if i < 0 {
		i += windowSlots
	}
	return int(i)
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
