package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

const (
	// markerTransformed marks a stored response whose body the edge
	// rewrote; its validators are weakened when served. Never sent.
	markerTransformed = "Icpedge-Transformed"
	// markerVary marks a Vary index entry: the stored response at a
	// primary key varies on these request fields, and the variants are
	// stored under primary key + variantSep + secondary key.
	markerVary = "Icpedge-Vary"

	// fillTimeout bounds a detached cache fill: fetching and reading one
	// response for the cache, whoever asked for it first.
	fillTimeout = 5 * time.Minute
	// defaultMaxCacheObject is the largest non-HTML body buffered for
	// storing.
	defaultMaxCacheObject = 16 << 20
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

// fill fetches key from the origin for the cache, revalidating stored when
// given, and stores what may be stored. The fetch is detached from the
// requester, so a visitor who leaves doesn't waste the fill for others; it
// has its own timeout and size cap. When the origin fails before the
// whole body is in (no answer, a 5xx, a reset or stall mid-body), the
// stored copy is the outcome if the rules allow serving it stale.
func (h *Handler) fill(key string, r *http.Request, edge rewrite.Edge, stored *cache.Entry, d cache.Decision, info *reqInfo) fillOutcome {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), fillTimeout)
	stopOnClose := context.AfterFunc(h.ctx, cancel)
	done := func() { stopOnClose(); cancel() }

	// The stale copy, if the origin fails and the rules allow it.
	stale := func(status string) fillOutcome {
		done()
		return fillOutcome{entry: share(stored), status: "fwd=stale; " + status + "; detail=stale-if-error", stale: true}
	}
	dropStored := func() {
		if stored != nil {
			_ = stored.Close()
			stored = nil
		}
	}
	// failed answers an origin failure: with the stored copy if allowed,
	// else with the error.
	failed := func(err error) fillOutcome {
		if stored != nil && d.ServeOnError {
			h.log.Warn("origin failed; serving the stored copy", "id", info.id, "key", key, "err", err)
			return stale("fwd-status=" + strconv.Itoa(statusForError(err)))
		}
		dropStored()
		done()
		return fillOutcome{err: err}
	}

	out := h.outgoing(ctx, r, edge)
	out.Method = http.MethodGet // a HEAD is answered from the stored GET
	for _, name := range []string{"If-None-Match", "If-Modified-Since", "If-Range", "Range"} {
		out.Header.Del(name)
	}
	out.Header.Set("Accept-Encoding", originAcceptEncoding) // the whole body, compressed
	if stored != nil {
		for k, v := range cache.RevalidationHeaders(stored.Header) {
			out.Header[k] = v
		}
	}
	reqTime := h.now()
	resp, err := h.roundTrip(out)
	if err != nil {
		return failed(err)
	}
	respTime := h.now()
	info.originStatus = resp.StatusCode

	if resp.StatusCode >= 500 && stored != nil && d.ServeOnError {
		resp.Body.Close()
		h.log.Warn("origin failed; serving the stored copy", "id", info.id, "key", key, "origin_status", resp.StatusCode)
		return stale("fwd-status=" + strconv.Itoa(resp.StatusCode))
	}

	hdr := resp.Header.Clone()
	removeHopHeaders(hdr)
	h.rewriteHeaders(hdr, edge)

	if resp.StatusCode == http.StatusNotModified && stored != nil {
		resp.Body.Close()
		done()
		merged, ok := cache.MergeNotModified(stored.Header, hdr)
		policyReq := &http.Request{Method: http.MethodGet, URL: r.URL, Header: r.Header}
		if ok {
			// A 304 carries no content: one answering a request with
			// cookies only confirms the stored body, which was stored
			// under its own request's rules.
			if storable, why := h.policy.Storable(policyReq, stored.Status, merged); storable || why == cache.ReasonCookie {
				stored.Header = merged
				stored.RequestTime, stored.ResponseTime = reqTime, respTime
				status := "fwd=stale; fwd-status=304"
				if h.put(stored, info) {
					status += "; stored"
				}
				return fillOutcome{entry: share(stored), status: status}
			}
		}
		// The 304 describes another representation, or made it
		// unstorable: fetch it whole.
		_ = stored.Close()
		return h.fill(key, r, edge, nil, cache.Decision{}, info)
	}
	// The stored copy stays open until the body is in: the origin may
	// still fail halfway.
	revalidated := stored != nil || d.Action == cache.Revalidate

	policyReq := &http.Request{Method: http.MethodGet, URL: r.URL, Header: r.Header}
	unshared := func(detail string) fillOutcome {
		dropStored()
		return fillOutcome{resp: resp, cancel: done, detail: detail}
	}
	if ok, reason := h.policy.Storable(policyReq, resp.StatusCode, resp.Header); !ok {
		if reason != cache.ReasonCookie {
			// The origin now says no: a copy stored before goes too. A
			// cookie visitor's answer says nothing about the copy
			// stored for everyone else.
			h.invalidateKey(key)
		}
		return unshared(reason)
	}
	ctype := hdr.Get("Content-Type")
	limit := h.opts.MaxCacheObject
	if h.rewritten(ctype) {
		limit = h.opts.MaxHTMLSize
	}
	coding := strings.TrimSpace(hdr.Get("Content-Encoding"))
	if coding == "" && resp.ContentLength > limit {
		return unshared("too-large")
	}
	body, err := h.decode(resp, coding, info)
	if err != nil {
		return unshared("coding")
	}
	// The body is held in memory drawn from the budget while it is
	// rewritten, compressed and stored, never while a visitor reads it.
	l := h.budget.lease()
	hint := int64(-1)
	if coding == "" {
		hint = resp.ContentLength
	}
	buf, state, err := readBody(body, limit, hint, l)
	if err != nil {
		// Nothing has been sent to anyone yet: a stale copy can still
		// stand in, as for a 5xx.
		l.free()
		resp.Body.Close()
		return failed(fmt.Errorf("reading origin body: %w", err))
	}
	// streamed hands the body to the requester alone, unstored: what was
	// read first, then the rest, decoded.
	streamed := func(why bufState, detail string) fillOutcome {
		resp.Body = &closeBoth{ReadCloser: h.handOff(buf, l, body), also: resp.Body}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		info.unbuffered = why
		return unshared(detail)
	}
	switch state {
	case bufOver:
		return streamed(bufOver, "too-large")
	case bufNoMemory:
		h.log.Warn("buffer memory spent; response streamed unstored", "id", info.id, "key", key, "limit", h.budget.Limit())
		return streamed(bufNoMemory, "buffer-memory")
	}
	if err := h.checkStored(r.URL.Path, resp.StatusCode, hdr, int64(len(buf))); err != nil {
		// Never stored, and a copy stored before the rule goes too.
		l.free()
		resp.Body.Close()
		dropStored()
		done()
		h.invalidateKey(key)
		return fillOutcome{err: err}
	}
	if !l.grow(h.buildCost(hdr, buf, resp.StatusCode)) {
		h.log.Warn("buffer memory spent; response streamed unstored", "id", info.id, "key", key, "limit", h.budget.Limit())
		return streamed(bufNoMemory, "buffer-memory")
	}
	resp.Body.Close()
	dropStored()
	done()

	e := h.buildEntry(key, r, edge, resp.StatusCode, hdr, buf, info)
	e.RequestTime, e.ResponseTime = reqTime, respTime
	status := "fwd=miss"
	if revalidated {
		status = "fwd=stale; fwd-status=" + strconv.Itoa(resp.StatusCode)
	}
	sec, _ := cache.SecondaryKey(hdr, r.Header, "Accept-Encoding")
	if sec != "" {
		index := &cache.Entry{Key: key, Status: e.Status, Header: http.Header{markerVary: varyFields(hdr)},
			RequestTime: reqTime, ResponseTime: respTime}
		index.SetBody(cache.Identity, nil)
		if !h.put(index, info) {
			return fillOutcome{entry: shareLeased(e, l), status: status}
		}
		e.Key = key + variantSep + sec
	}
	if !h.put(e, info) {
		return fillOutcome{entry: shareLeased(e, l), status: status}
	}
	status += "; stored"
	// Served from the store from now on, as any hit is: a large body from
	// its file, so that slow visitors hold no memory, and the buffers go.
	if se, err := h.opts.Cache.Reread(e.Key); err == nil {
		l.free()
		return fillOutcome{entry: share(se), status: status}
	}
	return fillOutcome{entry: shareLeased(e, l), status: status}
}

// buildCost estimates the memory buildEntry needs beyond the body it is
// given: the rewriter's document tree and output for HTML, its output for
// a style sheet, and the compressed variants of what is compressible.
func (h *Handler) buildCost(hdr http.Header, body []byte, status int) int64 {
	n := int64(len(body))
	ctype := hdr.Get("Content-Type")
	if ctype == "" && len(body) > 0 {
		ctype = http.DetectContentType(body)
	}
	var cost int64
	switch {
	case !bodyAllowed(http.MethodGet, status):
	case isHTML(ctype):
		cost = htmlWorkFactor * n
	case isCSS(ctype) && h.rw.EditsCSS():
		cost = cssWorkFactor * n
	}
	if compressible(ctype) && n >= minCompressSize {
		cost += n // the br and gzip variants together take less than the body
	}
	return cost
}

// buildEntry turns an origin response into what the cache stores and
// serves: headers rewritten for the edge, HTML rewritten with the notice,
// and compressible bodies precompressed, so a hit does no parsing and no
// compression.
func (h *Handler) buildEntry(key string, r *http.Request, edge rewrite.Edge, status int, hdr http.Header, body []byte, info *reqInfo) *cache.Entry {
	hdr.Del("Content-Encoding")
	hdr.Del("Content-Length")
	hdr.Del("Content-MD5")
	ctype := hdr.Get("Content-Type")
	if ctype == "" && len(body) > 0 {
		ctype = http.DetectContentType(body)
	}
	if isHTML(ctype) && bodyAllowed(http.MethodGet, status) {
		var changed bool
		if body, changed = h.rewriteHTML(body, ctype, hdr, edge, r.URL.Path, info); changed {
			hdr.Set(markerTransformed, "1")
		}
	} else if isCSS(ctype) && h.rw.EditsCSS() && bodyAllowed(http.MethodGet, status) {
		// Stored as served: URLs on the edge, localized.
		if css := h.rw.CSS(body, edge); !bytes.Equal(css, body) {
			body = css
			hdr.Set(markerTransformed, "1")
		}
	}
	e := &cache.Entry{Key: key, Status: status, Header: hdr}
	e.SetBody(cache.Identity, body)
	if compressible(hdr.Get("Content-Type")) && len(body) >= minCompressSize {
		addVary(hdr, "Accept-Encoding")
		for _, enc := range []cache.Encoding{cache.Brotli, cache.Gzip} {
			e.SetBody(enc, h.enc.compress(enc.String(), body))
		}
	}
	return e
}

// put stores e, reporting success. A failing disk degrades the cache to
// pass-through; requests never fail because of it.
func (h *Handler) put(e *cache.Entry, info *reqInfo) bool {
	e.Header.Set(markerFingerprint, h.fingerprint)
	err := h.opts.Cache.Put(e)
	if err == nil {
		return true
	}
	if errors.Is(err, cache.ErrTooLarge) || errors.Is(err, cache.ErrClosed) {
		return false
	}
	h.log.Error("cache write failed; serving without storing", "id", info.id, "key", e.Key, "err", err)
	return false
}

// varyFields lists the Vary fields that select a variant (not
// Accept-Encoding, which the edge handles itself).
func varyFields(h http.Header) []string {
	var out []string
	for _, line := range h.Values("Vary") {
		for _, name := range strings.Split(line, ",") {
			if name = strings.TrimSpace(name); name != "" && !strings.EqualFold(name, "Accept-Encoding") {
				out = append(out, name)
			}
		}
	}
	return out
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
