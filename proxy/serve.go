package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/icpedge/icpedge/proxy/cache"
)

// cacheable reports whether r may be answered from or stored in the cache.
// Requests that carry conditions a cache doesn't evaluate, a session or
// an upgrade go to the origin. A request with Authorization goes through
// the cache: what may answer it, and what of its answer may be stored, is
// cache.Policy's to say (RFC 9111 §3.5).
func (h *Handler) cacheable(r *http.Request) (ok bool, detail string) {
	switch {
	case h.opts.Cache == nil:
		return false, "bypass"
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		return false, "method"
	case upgradeType(r.Header) != "":
		return false, "request; detail=upgrade"
	case r.ContentLength != 0:
		// RFC 9110 §9.3.1: a body on a GET has no defined meaning, but
		// an origin may act on it. The key can't cover it, so what it
		// produced must not be stored for, or served to, anyone else.
		return false, "bypass; detail=request-body"
	case h.bypass.match(r.Header):
		// A logged-in visitor's page, whatever the origin says about it.
		return false, "bypass; detail=session-cookie"
	case h.bypassPath(r.URL.Path):
		return false, "bypass; detail=path"
	case h.bypassQuery(r.URL.RawQuery):
		return false, "bypass; detail=query"
	case field(r.Header, "If-Match") != "" || field(r.Header, "If-Unmodified-Since") != "":
		return false, "request; detail=precondition" // RFC 9111 §4.3.2
	}
	return true, ""
}

// serveCached answers a GET or HEAD through the cache: a fresh stored
// response is a hit (serveEntry); a stale one with stale-while-revalidate
// is served while refreshAsync fetches anew; otherwise one fill fetches
// the URL (revalidating what is stored) and the requests that come
// meanwhile wait for it (awaitFlight).
func (x *exchange) serveCached() {
	h, r := x.h, x.r
	key := cacheKey(x.edge, r.URL)
	stored := x.lookup(key)
	var d cache.Decision
	var hints []string // what the stored page loads, for 103 Early Hints
	if stored != nil {
		d = h.policy.Decide(r, stored, h.now())
		switch d.Action {
		case cache.Serve:
			defer stored.Close()
			x.serveEntry(stored, hitStatus(d), d.Age)
			x.recompressLater(stored)
			return
		case cache.ServeStale:
			defer stored.Close()
			x.serveEntry(stored, hitStatus(d)+"; detail=stale-while-revalidate", d.Age)
			x.recompressLater(stored)
			x.refreshAsync(key)
			return
		}
		hints = x.earlyHints(stored, d.Age)
		if d.Action == cache.Miss {
			_ = stored.Close()
			stored = nil
		}
	}
	if onlyIfCached(r) {
		// Nothing stored may answer without the origin, and the visitor
		// asked not to go there.
		if stored != nil {
			_ = stored.Close()
		}
		x.notCached()
		return
	}
	if field(r.Header, "Range") != "" && stored == nil {
		// A range of something not stored: from the parts kept of it,
		// or from the origin, keeping the part it sends (RFC 9111 §3.3).
		if x.servePart(key) {
			return
		}
		x.setCacheStatus("fwd=miss; detail=range")
		x.forward()
		return
	}

	// The visitor waits for the origin now: what the page will load from
	// the edge can be fetched meanwhile.
	x.sendEarlyHints(hints)

	// After a fill that could not be shared, requests fill on their own
	// (hit-for-miss), storing what may be stored; a fill that can be
	// shared again lets the next requests wait for one another.
	var f *flight
	interim := &interims{}
	if !h.hitForMiss(key) {
		var leader bool
		if f, leader = h.startFlight(key); !leader {
			if stored != nil {
				_ = stored.Close()
			}
			h.log.Debug("waiting for the fill in progress", "id", x.id, "key", key)
			x.awaitFlight(f)
			return
		}
		interim = &f.interim
	}
	stop := x.relayInterims(interim)
	out := x.fill(key, stored, d, interim)
	if f != nil {
		h.finishFlight(key, f, r, out)
	} else {
		h.noteShareable(key, r, out)
	}
	stop()
	x.serveFilled(out)
}

// onlyIfCached reports whether r asks for a stored response or nothing
// (RFC 9111 §5.2.1.7).
func onlyIfCached(r *http.Request) bool {
	return len(r.Header["Cache-Control"]) > 0 && cache.ParseCacheControl(r.Header).OnlyIfCached
}

// notCached answers a request with only-if-cached that nothing stored
// may answer: 504, as RFC 9111 §5.2.1.7 says, without asking the origin.
func (x *exchange) notCached() {
	x.setCacheStatus("detail=only-if-cached")
	x.page(http.StatusGatewayTimeout, "缓存中没有此页面。", "This page is not in the cache, and the request asked for a cached copy only (only-if-cached).")
}

// fill runs a fill of key for this request, revalidating stored (with
// the cache's decision d about it) when it is not nil, and publishing
// the origin's interim responses to interim.
func (x *exchange) fill(key string, stored *cache.Entry, d cache.Decision, interim *interims) fillOutcome {
	f := &fill{request: x.request, key: key, stored: stored, d: d, interim: interim}
	x.h.compressor.fillStarted()
	out := f.run()
	x.h.compressor.fillEnded()
	x.originStatus = f.originStatus
	return out
}

// serveFilled answers the request that made a fill with its outcome.
func (x *exchange) serveFilled(out fillOutcome) {
	switch {
	case out.entry != nil:
		x.serveEntry(out.entry.e, out.status, -1)
		out.entry.release()
	case out.resp != nil:
		defer out.cancel()
		defer out.resp.Body.Close()
		x.setCacheStatus("fwd=miss; detail=" + out.detail)
		x.unbuffered = out.unbuffered
		if x.r.Context().Err() == nil {
			x.respond(out.resp)
		}
	default:
		x.setCacheStatus("fwd=miss")
		x.originFailed(out.err)
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
func (x *exchange) awaitFlight(f *flight) {
	r := x.r
	// Wait even if the visitor leaves: the fill holds a reference for
	// this request, released below; the fill itself is bounded. The
	// origin's interim responses to the fill are passed on meanwhile.
	n := 0
	relay := func() <-chan struct{} {
		list, wake := f.interim.since(n)
		if x.speaksInterim() {
			for _, ir := range list {
				x.writeInterim(ir)
			}
		}
		n += len(list)
		return wake
	}
	for waiting := true; waiting; {
		select {
		case <-relay():
		case <-f.done:
			relay() // any that came just before the final response
			waiting = false
		}
	}
	if f.entry == nil {
		if r.Context().Err() == nil {
			x.setCacheStatus("fwd=miss; detail=uncollapsible")
			x.forward()
		}
		return
	}
	defer f.entry.release()
	if r.Context().Err() != nil {
		return
	}
	if !sameVariant(f.entry.e, r) {
		// The fill fetched another variant (Vary): fetch this one.
		x.setCacheStatus("fwd=vary-miss")
		x.forward()
		return
	}
	// Judged as of the moment the fill finished: every waiter asked
	// before then, and how soon each is scheduled must not matter.
	d := x.h.policy.Decide(r, f.entry.e, f.at)
	if d.Action != cache.Serve && !(f.stale && d.ServeOnError) {
		x.setCacheStatus("fwd=miss; detail=uncollapsible")
		x.forward()
		return
	}
	x.serveEntry(f.entry.e, f.stat+"; collapsed", -1)
}

// lookup returns the stored response for the request under key
// (following a Vary index to the variant), or nil.
func (q *request) lookup(key string) *cache.Entry {
	e := q.get(key)
	if e == nil || field(e.Header, markerVary) == "" {
		return e
	}
	vary := http.Header{"Vary": e.Header.Values(markerVary)}
	_ = e.Close()
	sec, ok := cache.SecondaryKey(vary, q.r.Header, "Accept-Encoding")
	if !ok {
		return nil
	}
	return q.get(key + variantSep + sec)
}

func (q *request) get(key string) *cache.Entry {
	h := q.h
	// Shared: stored headers are only read here; a revalidation replaces
	// the map rather than changing it (cache.MergeNotModified copies).
	e, err := h.opts.Cache.GetShared(key)
	switch {
	case err == nil && field(e.Header, markerFingerprint) != h.fingerprint:
		// Built under other settings (e.g. before a reload changed the
		// notice): a miss, and never a stale copy to fall back on.
		_ = e.Close()
		return nil
	case err == nil:
		return e
	case errors.Is(err, cache.ErrNotFound), errors.Is(err, cache.ErrClosed):
		return nil
	}
	h.log.Error("cache read failed; fetching from the origin", "id", q.id, "key", key, "err", err)
	return nil
}

// sameVariant reports whether e, fetched for another request, may answer r
// under e's Vary (RFC 9111 §4.1).
func sameVariant(e *cache.Entry, r *http.Request) bool {
	sec, ok := cache.SecondaryKey(e.Header, r.Header, "Accept-Encoding")
	if !ok {
		return false
	}
	_, stored, _ := strings.Cut(e.Key, variantSep)
	return sec == stored
}

// hitStatus is the Cache-Status of a response served from the store.
func hitStatus(d cache.Decision) string {
	return "hit; ttl=" + strconv.Itoa(int((d.Lifetime - d.Age).Seconds()))
}
