package status

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// clock is a settable clock for Window and Handler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 2, 9, 30, 15, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestWindowSums(t *testing.T) {
	c := newClock()
	w := NewWindow(c.Now)
	for range 3 {
		w.Served("hit", false)
	}
	w.Served("miss", false)
	w.Stored(1500)
	w.Stored(-7) // ignored: a size is never negative
	w.Served("stale", true)
	w.Fetched(20*time.Millisecond, nil)
	w.Fetched(3*time.Second, errors.New("dial tcp 203.0.113.9:443: i/o timeout"))
	c.Advance(30 * time.Minute)

	got := w.Traffic()
	want := Traffic{
		Span: 30 * time.Minute, Lookups: 5, Hits: 4, StoredBytes: 1500, Fetches: 2, FetchErrors: 1, StaleOnError: 1,
		LastError: "dial tcp 203.0.113.9:443: i/o timeout", LastErrorAt: c.Now().Add(-30 * time.Minute),
	}
	got.FetchP50 = 0 // TestWindowMedian checks it
	if got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
	if r, ok := got.HitRatio(); !ok || r != 0.8 {
		t.Errorf("HitRatio() = %v, %v; want 0.8, true", r, ok)
	}
	if _, ok := (Traffic{}).HitRatio(); ok {
		t.Error("HitRatio() of no lookups reports a ratio")
	}
}

func TestWindowClasses(t *testing.T) {
	w := NewWindow(newClock().Now)
	for _, class := range []string{"hit", "stale", "revalidated", "miss", "bypass", "something new"} {
		w.Served(class, false)
	}
	// A stale copy the origin's failure made the edge serve.
	w.Served("stale", true)
	got := w.Traffic()
	if got.Lookups != 5 || got.Hits != 4 || got.StaleOnError != 1 {
		t.Errorf("got %d lookups, %d hits, %d stale on error; want 5, 4, 1 (bypass and unknown classes not counted)", got.Lookups, got.Hits, got.StaleOnError)
	}
}

func TestWindowForgetsAfterAnHour(t *testing.T) {
	c := newClock()
	w := NewWindow(c.Now)
	w.Served("hit", false)
	w.Stored(100)
	w.Served("stale", true)
	w.Fetched(time.Second, errors.New("origin answered 502"))

	c.Advance(59 * time.Minute) // same minute + 59: the oldest slot of the hour
	if got := w.Traffic(); got.Lookups != 2 || got.StoredBytes != 100 || got.StaleOnError != 1 || got.Fetches != 1 {
		t.Fatalf("after 59 min: got %+v; want the first minute still counted", got)
	}
	c.Advance(time.Minute)
	got := w.Traffic()
	if got.Lookups != 0 || got.StoredBytes != 0 || got.StaleOnError != 0 || got.Fetches != 0 || got.FetchErrors != 0 || got.FetchP50 != 0 {
		t.Errorf("after 60 min: got %+v; want the first minute forgotten", got)
	}
	if got.Span != time.Hour {
		t.Errorf("Span = %v; want 1h", got.Span)
	}
	// The last error is the origin's last, however old.
	if got.LastError != "origin answered 502" {
		t.Errorf("LastError = %q; want it kept past the hour", got.LastError)
	}

	// Reusing the slot of the first minute starts it afresh.
	w.Served("miss", false)
	if got := w.Traffic(); got.Lookups != 1 || got.Hits != 0 {
		t.Errorf("after reuse of the slot: got %d lookups, %d hits; want 1, 0", got.Lookups, got.Hits)
	}
}

func TestWindowSpreadOverTheHour(t *testing.T) {
	c := newClock()
	w := NewWindow(c.Now)
	// Two and a half hours of one lookup a minute: the hour holds 60.
	for range 150 {
		w.Served("hit", false)
		w.Stored(10)
		c.Advance(time.Minute)
	}
	got := w.Traffic()
	// The current minute has had no request yet: 59 earlier minutes.
	if got.Lookups != 59 || got.StoredBytes != 590 {
		t.Errorf("got %d lookups, %d bytes; want 59, 590", got.Lookups, got.StoredBytes)
	}
	// A clock stepped back (NTP) neither panics nor counts slots from the
	// future.
	c.Advance(-3 * time.Hour)
	if got := w.Traffic(); got.Lookups != 0 {
		t.Errorf("after the clock went back 3 h: %d lookups; want 0", got.Lookups)
	}
}

func TestWindowMedian(t *testing.T) {
	for _, tc := range []struct {
		name  string
		times []time.Duration
		want  time.Duration
	}{
		{"one", []time.Duration{240 * time.Millisecond}, 240 * time.Millisecond},
		{"odd", []time.Duration{5 * time.Second, 10 * time.Millisecond, 12 * time.Millisecond, 900 * time.Millisecond, 11 * time.Millisecond}, 12 * time.Millisecond},
		{"even takes the lower", []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 2 * time.Second, 2 * time.Second}, 100 * time.Millisecond},
		{"sub-millisecond", []time.Duration{200 * time.Microsecond}, time.Millisecond},
		{"seconds", []time.Duration{7 * time.Second, 8 * time.Second, 9 * time.Second}, 8 * time.Second},
		{"past the last bucket", []time.Duration{10 * time.Minute}, bucketMiddle(fetchBuckets - 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWindow(newClock().Now)
			for _, d := range tc.times {
				w.Fetched(d, nil)
			}
			got := w.Traffic().FetchP50
			// Buckets are 25% wide: the middle is within 12% of anything
			// in them.
			if lo, hi := float64(tc.want)/1.12, float64(tc.want)*1.12; float64(got) < lo || float64(got) > hi {
				t.Errorf("FetchP50 = %v; want %v ± 12%%", got, tc.want)
			}
		})
	}
}

func TestWindowBucketsCoverTwoMinutes(t *testing.T) {
	if b := fetchBucket(2 * time.Minute); b >= fetchBuckets-1 {
		t.Errorf("2 min lands in bucket %d, the last; want room below it", b)
	}
	for _, d := range []time.Duration{time.Millisecond + 1, 10 * time.Millisecond, 777 * time.Millisecond, 42 * time.Second} {
		m := bucketMiddle(fetchBucket(d))
		if r := float64(m) / float64(d); r < 1/1.12 || r > 1.12 {
			t.Errorf("%v: bucket middle %v is %.2f× away", d, m, r)
		}
	}
}

func TestWindowLastErrorIsBounded(t *testing.T) {
	w := NewWindow(newClock().Now)
	long := strings.Repeat("源站错误", 200) // 2,400 bytes of 3-byte runes
	w.Fetched(time.Second, errors.New(long))
	got := w.Traffic().LastError
	if len(got) > maxErrLen+len("…") {
		t.Errorf("LastError is %d bytes; want at most %d", len(got), maxErrLen+len("…"))
	}
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("LastError = %q; want valid UTF-8 cut with …", got)
	}
}

func TestWindowNil(t *testing.T) {
	var w *Window
	w.Served("hit", false)
	w.Stored(1)
	w.Served("stale", true)
	w.Fetched(time.Second, errors.New("x"))
	if got := w.Traffic(); got != (Traffic{}) {
		t.Errorf("nil Window: got %+v; want zero", got)
	}
}

// TestWindowConcurrent is for the race detector: requests feed the window
// while the page reads it.
func TestWindowConcurrent(t *testing.T) {
	c := newClock()
	w := NewWindow(c.Now)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				w.Served("hit", false)
				w.Fetched(time.Millisecond, nil)
				w.Stored(1)
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			w.Traffic()
		}
	})
	wg.Wait()
	if got := w.Traffic(); got.Lookups != 2000 || got.Fetches != 2000 || got.StoredBytes != 2000 {
		t.Errorf("got %+v; want 2000 of each", got)
	}
}

func BenchmarkWindowLookup(b *testing.B) {
	w := NewWindow(nil)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Served("hit", false)
		}
	})
}
