package proxy

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordingObserver keeps what an Observer is told.
type recordingObserver struct {
	mu      sync.Mutex
	served  []string // class, with "+soe" for stale on error
	fetches []error
	stored  []int64
}

func (o *recordingObserver) Served(class string, staleOnError bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if staleOnError {
		class += "+soe"
	}
	o.served = append(o.served, class)
}

func (o *recordingObserver) Fetched(d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fetches = append(o.fetches, err)
}

func (o *recordingObserver) Stored(n int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stored = append(o.stored, n)
}

// TestObserver: a miss that is stored, a hit, and a stale copy served
// while the origin fails are each told to the Observer, as the status
// page's figures need them.
func TestObserver(t *testing.T) {
	o := newSafetyOrigin(t)
	obs := &recordingObserver{}
	var clock atomic.Int64
	e := newSafetyEdge(t, o, func(opts *Options) {
		opts.Observer = obs
		opts.Now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	})
	o.set("/", page("max-age=60"))

	if w := e.get("/"); w.Code != 200 {
		t.Fatalf("miss: status %d", w.Code)
	}
	if w := e.get("/"); !strings.Contains(cacheStatusOf(w), "; hit") {
		t.Fatalf("second request: Cache-Status %q; want a hit", cacheStatusOf(w))
	}
	clock.Store(int64(time.Hour))
	o.set("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	if w := e.get("/"); !strings.Contains(cacheStatusOf(w), "stale-if-error") {
		t.Fatalf("origin down: Cache-Status %q; want stale-if-error", cacheStatusOf(w))
	}

	obs.mu.Lock()
	defer obs.mu.Unlock()
	if got, want := strings.Join(obs.served, " "), "miss hit stale+soe"; got != want {
		t.Errorf("Served: %s; want %s", got, want)
	}
	if len(obs.fetches) < 2 || obs.fetches[0] != nil {
		t.Fatalf("Fetched errors %v; want nil for the first, then failures", obs.fetches)
	}
	last := obs.fetches[len(obs.fetches)-1]
	if last == nil || !strings.Contains(last.Error(), "502 Bad Gateway") {
		t.Errorf("last Fetched error %v; want the origin's 502", last)
	}
	if len(obs.stored) != 1 || obs.stored[0] <= 0 {
		t.Errorf("Stored %v; want one entry with its bytes", obs.stored)
	}
}
