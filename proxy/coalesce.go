package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
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

// fillOutcome is what one origin fetch for the cache produced.
type fillOutcome struct {
	// entry, when set, is served to the requester, and to the requests
	// that waited on the same fill for which it is fresh.
	entry  *sharedEntry
	status string // Cache-Status parameters for entry
	// stale reports that entry is the stored copy, served because the
	// origin failed (stale-if-error).
	stale bool
	// resp, when set, is a response that can't be shared (not storable,
	// too large): only the requester streams it; the others fetch on
	// their own. cancel ends its detached context.
	resp   *http.Response
	cancel context.CancelFunc
	detail string
	// err is the origin failure, when there is nothing to serve.
	err error
}

// flight is one fill in progress; requests for the same key wait on it.
type flight struct {
	done    chan struct{}
	waiters int // requests waiting, counted under Handler.mu
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

// shareable reports whether a fill's outcome could serve other requests
// as it is: a stored response, fresh for a request that asks nothing
// special (RFC 9111 §4.2). known is false when the fill says nothing
// about that: the origin failed.
func (h *Handler) shareable(r *http.Request, out fillOutcome, now time.Time) (shared, known bool) {
	switch {
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

// serveCached answers a GET or HEAD through the cache.
func (h *Handler) serveCached(w http.ResponseWriter, r *http.Request, edge rewrite.Edge, info *reqInfo) {
	key := cacheKey(edge, r.URL)
	stored := h.lookup(key, r, info)
	var d cache.Decision
	if stored != nil {
		d = h.policy.Decide(r, stored, h.now())
		switch d.Action {
		case cache.Serve:
			defer stored.Close()
			h.serveEntry(w, r, stored, hitStatus(d), d.Age, info)
			return
		case cache.ServeStale:
			defer stored.Close()
			h.serveEntry(w, r, stored, hitStatus(d)+"; detail=stale-while-revalidate", d.Age, info)
			h.refreshAsync(key, r, edge)
			return
		case cache.Miss:
			_ = stored.Close()
			stored = nil
		}
	}
	if r.Header.Get("Range") != "" && stored == nil {
		// A range of something not stored goes to the origin as it is.
		h.setCacheStatus(w, "fwd=miss; detail=range")
		h.forward(w, r, edge, info)
		return
	}

	if h.hitForMiss(key) {
		// Fill on its own, storing what may be stored; a fill that can be
		// shared again lets the next requests wait for one another.
		out := h.fill(key, r, edge, stored, d, info)
		now := h.now()
		if shared, known := h.shareable(r, out, now); known {
			h.mu.Lock()
			h.noteShareableLocked(key, shared, now)
			h.mu.Unlock()
		}
		h.serveFilled(w, r, edge, out, info)
		return
	}
	f, leader := h.startFlight(key)
	if !leader {
		if stored != nil {
			_ = stored.Close()
		}
		h.log.Debug("waiting for the fill in progress", "id", info.id, "key", key)
		h.awaitFlight(w, r, edge, f, info)
		return
	}
	out := h.fill(key, r, edge, stored, d, info)
	h.finishFlight(key, f, r, out)
	h.serveFilled(w, r, edge, out, info)
}

// serveFilled answers the request that made a fill with its outcome.
func (h *Handler) serveFilled(w http.ResponseWriter, r *http.Request, edge rewrite.Edge, out fillOutcome, info *reqInfo) {
	switch {
	case out.entry != nil:
		h.serveEntry(w, r, out.entry.e, out.status, -1, info)
		out.entry.release()
	case out.resp != nil:
		defer out.cancel()
		defer out.resp.Body.Close()
		h.setCacheStatus(w, "fwd=miss; detail="+out.detail)
		if r.Context().Err() == nil {
			h.respond(w, r, out.resp, edge, info)
		}
	default:
		h.setCacheStatus(w, "fwd=miss")
		h.originFailed(w, r, info, out.err)
	}
}

// awaitFlight waits for another request's fill of the same key and serves
// its result when that may answer this request too: a stored response,
// of this request's variant, fresh for it (RFC 9111 §4), or the stored
// copy the fill fell back on when the origin failed, if this request may
// have it too (RFC 5861 §4). Anything else (a response that wasn't
// stored, or that must be validated first: no-cache, max-age=0, a page
// without freshness) belongs to the request that fetched it, and this one
// goes to the origin itself.
func (h *Handler) awaitFlight(w http.ResponseWriter, r *http.Request, edge rewrite.Edge, f *flight, info *reqInfo) {
	// Wait even if the visitor leaves: the fill holds a reference for
	// this request, released below; the fill itself is bounded.
	<-f.done
	if f.entry == nil {
		if r.Context().Err() == nil {
			h.setCacheStatus(w, "fwd=miss; detail=uncollapsible")
			h.forward(w, r, edge, info)
		}
		return
	}
	defer f.entry.release()
	if r.Context().Err() != nil {
		return
	}
	if !sameVariant(f.entry.e, r) {
		// The fill fetched another variant (Vary): fetch this one.
		h.setCacheStatus(w, "fwd=vary-miss")
		h.forward(w, r, edge, info)
		return
	}
	// Judged as of the moment the fill finished: every waiter asked
	// before then, and how soon each is scheduled must not matter.
	d := h.policy.Decide(r, f.entry.e, f.at)
	if d.Action != cache.Serve && !(f.stale && d.ServeOnError) {
		h.setCacheStatus(w, "fwd=miss; detail=uncollapsible")
		h.forward(w, r, edge, info)
		return
	}
	h.serveEntry(w, r, f.entry.e, f.stat+"; collapsed", -1, info)
}

// refreshAsync refreshes key in the background for stale-while-revalidate:
// one refresh per key at a time, owned by the handler's lifetime.
func (h *Handler) refreshAsync(key string, r *http.Request, edge rewrite.Edge) {
	h.mu.Lock()
	if _, busy := h.flights[key]; busy || h.closed {
		h.mu.Unlock()
		return
	}
	f := &flight{done: make(chan struct{})}
	h.flights[key] = f
	h.bg.Add(1)
	h.mu.Unlock()

	req := r.Clone(context.WithoutCancel(r.Context()))
	req.Method = http.MethodGet
	go func() {
		defer h.bg.Done()
		info := &reqInfo{id: h.newRequestID()}
		stored := h.lookup(key, req, info)
		var d cache.Decision
		if stored != nil {
			d = h.policy.Decide(req, stored, h.now())
			d.Action = cache.Revalidate
		}
		out := h.fill(key, req, edge, stored, d, info)
		h.finishFlight(key, f, req, out)
		switch {
		case out.entry != nil:
			out.entry.release()
		case out.resp != nil:
			out.resp.Body.Close()
			out.cancel()
		case out.err != nil:
			h.log.Warn("background refresh failed", "id", info.id, "key", key, "err", out.err)
		}
		h.log.Debug("background refresh", "id", info.id, "key", key, "origin_status", info.originStatus)
	}()
}
