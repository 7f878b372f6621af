package proxy

import (
	"net/http"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
)

const (
	// hitForMissTTL is how long requests for a key whose last fill could
	// not be shared go to the origin without waiting for one another, as
	// with Varnish's hit-for-miss objects. A fill that can be shared ends
	// it sooner.
	hitForMissTTL = 30 * time.Second
	// maxHitForMiss bounds the keys remembered as not shareable.
	maxHitForMiss = 4096
)

// flight is one fill in progress; requests for the same key wait on it.
type flight struct {
	done    chan struct{}
	waiters int // requests waiting, counted under Handler.mu
	// interim holds the origin's interim responses to the fill, for the
	// requests waiting on it.
	interim interims
	// Set before done is closed:
	entry *sharedEntry // one reference per waiter
	stat  string
	stale bool
	at    time.Time // when the fill finished; waiters judge freshness then
}

// startFlight registers a fill of key, or returns the one in progress
// (joined as a waiter) with leader false.
func (h *Handler) startFlight(key string) (f *flight, leader bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, ok := h.flights[key]; ok {
		f.waiters++
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	h.flights[key] = f
	return f, true
}

// finishFlight publishes a fill's outcome to its waiters and notes
// whether it could be shared.
func (h *Handler) finishFlight(key string, f *flight, r *http.Request, out fillOutcome) {
	now := h.now()
	shared, known := h.shareable(r, out, now)
	h.mu.Lock()
	delete(h.flights, key)
	if known {
		h.noteShareableLocked(key, shared, now)
	}
	f.at = now
	if out.entry != nil {
		f.entry, f.stat, f.stale = out.entry, out.status, out.stale
		for range f.waiters {
			out.entry.acquire()
		}
	}
	h.mu.Unlock()
	close(f.done)
}

// noteShareable notes whether a fill made outside any flight (a request
// under hit-for-miss) could be shared.
func (h *Handler) noteShareable(key string, r *http.Request, out fillOutcome) {
	now := h.now()
	if shared, known := h.shareable(r, out, now); known {
		h.mu.Lock()
		h.noteShareableLocked(key, shared, now)
		h.mu.Unlock()
	}
}

// shareable reports whether a fill's outcome could serve other requests
// as it is: a stored response, fresh for a request that asks nothing
// special (RFC 9111 §4.2). known is false when the fill says nothing
// about that: the origin failed.
func (h *Handler) shareable(r *http.Request, out fillOutcome, now time.Time) (shared, known bool) {
	switch {
	case out.resp != nil && r.Header.Get("Authorization") != "":
		// A signed-in visitor's own answer says nothing about whether
		// the URL's answers can be shared.
		return false, false
	case out.resp != nil:
		return false, true
	case out.entry == nil || out.stale:
		return false, false
	}
	plain := &http.Request{Method: http.MethodGet, URL: r.URL, Header: http.Header{}}
	return h.policy.Decide(plain, out.entry.e, now).Action == cache.Serve, true
}

// noteShareableLocked records whether the last fill of key could be
// shared. h.mu is held.
func (h *Handler) noteShareableLocked(key string, shared bool, now time.Time) {
	if shared {
		delete(h.unshared, key)
		return
	}
	if _, ok := h.unshared[key]; !ok && len(h.unshared) >= maxHitForMiss {
		for k, until := range h.unshared {
			if !now.Before(until) {
				delete(h.unshared, k)
			}
		}
		if len(h.unshared) >= maxHitForMiss {
			for k := range h.unshared { // any one: the map is bounded, not ordered
				delete(h.unshared, k)
				break
			}
		}
	}
	h.unshared[key] = now.Add(hitForMissTTL)
}

// hitForMiss reports whether key's last fill could not be shared, recently
// enough that waiting for another request's fill would most likely end in
// a trip to the origin anyway.
func (h *Handler) hitForMiss(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, ok := h.unshared[key]
	if ok && !h.now().Before(until) {
		delete(h.unshared, key)
		return false
	}
	return ok
}
