package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
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
	// unbuffered, for resp, is bufOver or bufNoMemory when the fill
	// already read as much of the body as it could: respond streams it
	// rather than buffer it again.
	unbuffered bufState
	// err is the origin failure, when there is nothing to serve.
	err error
}

// fill is one origin fetch for the cache: it fetches key from the origin,
// revalidating the stored copy when there is one, and stores what may be
// stored. run goes through its stages:
//
//	fetch   ask the origin (a failure or 5xx: the stale copy, if allowed;
//	        a 304: the stored copy, updated)
//	decide  may the response be stored, and how much of it is read for that
//	read    decode the body into memory drawn from the budget
//	admit   the content policy on its size, and memory to build it
//	build   rewrite it for the edge and precompress it
//	store   put it in the cache and serve it from there
//
// A response that can't be shared, at any stage, goes to the requester
// alone, unstored (fillOutcome.resp). The exchange then serves the outcome
// (exchange.serveFilled). The fetch is detached from the requester, so a
// visitor who leaves doesn't waste the fill for others; it has its own
// timeout and size cap. When the origin fails before the whole body is in
// (no answer, a 5xx, a reset or stall mid-body), the stored copy is the
// outcome if the rules allow serving it stale. A fill has no
// ResponseWriter: refreshAsync runs one with no visitor waiting at all.
type fill struct {
	// request is whom the fill is for: its URL and header fields decide
	// what may be stored, and under which variant.
	request
	key    string
	stored *cache.Entry   // the copy to revalidate or fall back on; nil for none
	d      cache.Decision // the cache's decision about stored
	// interim, when set, receives the origin's interim responses for the
	// requests waiting on the fill; nil drops them.
	interim *interims

	// Set as the fill goes:
	cancel            func()    // ends the fetch's detached context
	originStatus      int       // the origin's status, for the access log
	reqTime, respTime time.Time // when the origin was asked and answered (RFC 9111 §4.2.3)
	resp              *http.Response
	// hdr is resp's header as the edge stores and serves it: hop-by-hop
	// fields gone, URLs on the edge.
	hdr  http.Header
	body io.Reader // resp's body, decoded
	buf  []byte    // what was read of body
	l    *lease    // the budget buf and building it draw on
}

// run runs the fill's stages and returns what it produced.
func (f *fill) run() fillOutcome {
	resp, err := f.fetch()
	if err != nil {
		return f.failed(err)
	}
	if resp.StatusCode >= 500 && f.stored != nil && f.d.ServeOnError {
		resp.Body.Close()
		f.h.log.Warn("origin failed; serving the stored copy", "id", f.id, "key", f.key, "origin_status", resp.StatusCode)
		return f.stale("fwd-status=" + strconv.Itoa(resp.StatusCode))
	}
	f.resp = resp
	f.hdr = resp.Header.Clone()
	// The edge's own markers mean something in the store; the origin
	// doesn't set them (a 304 carrying one would be merged in).
	for _, k := range []string{markerTransformed, markerVary, markerFingerprint, markerHints} {
		delete(f.hdr, k)
	}
	removeHopHeaders(f.hdr)
	f.h.rewriteHeaders(f.hdr, f.edge)
	if resp.StatusCode == http.StatusNotModified && f.stored != nil {
		return f.notModified()
	}
	// The stored copy stays open until the body is in: the origin may
	// still fail halfway.
	status := "fwd=miss"
	if f.stored != nil || f.d.Action == cache.Revalidate {
		status = "fwd=stale; fwd-status=" + strconv.Itoa(resp.StatusCode)
	}
	limit, why, ok := f.decide()
	if !ok {
		return f.unshared(why)
	}
	if out, done := f.read(limit); done {
		return out
	}
	if out, done := f.admit(); done {
		return out
	}
	resp.Body.Close()
	f.dropStored()
	f.cancel()
	return f.store(f.build(), status)
}

// fetch asks the origin for the whole response, compressed, with the
// stored copy's validators when there is one (a HEAD is answered from the
// stored GET). The request runs on a context of its own: detached from
// the visitor's, bounded by fillTimeout, ended by Close and by f.cancel.
func (f *fill) fetch() (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(f.r.Context()), fillTimeout)
	stopOnClose := context.AfterFunc(f.h.ctx, cancel)
	f.cancel = func() { stopOnClose(); cancel() }
	if f.interim != nil {
		ctx = f.withInterims(ctx, f.interim)
	}

	out := f.outgoing(ctx)
	out.Method = http.MethodGet
	for _, name := range []string{"If-None-Match", "If-Modified-Since", "If-Range", "Range"} {
		out.Header.Del(name)
	}
	out.Header.Set("Accept-Encoding", originAcceptEncoding) // the whole body, compressed
	if f.stored != nil {
		for k, v := range cache.RevalidationHeaders(f.stored.Header) {
			out.Header[k] = v
		}
	}
	f.reqTime = f.h.now()
	resp, err := f.h.roundTrip(out)
	if err != nil {
		return nil, err
	}
	f.respTime = f.h.now()
	f.originStatus = resp.StatusCode
	return resp, nil
}

// failed answers an origin failure: with the stored copy if allowed, else
// with the error.
func (f *fill) failed(err error) fillOutcome {
	if f.stored != nil && f.d.ServeOnError {
		f.h.log.Warn("origin failed; serving the stored copy", "id", f.id, "key", f.key, "err", err)
		return f.stale("fwd-status=" + strconv.Itoa(statusForError(err)))
	}
	f.dropStored()
	f.cancel()
	return fillOutcome{err: err}
}

// stale is the stored copy as the outcome, when the origin failed and the
// rules allow serving it (stale-if-error).
func (f *fill) stale(status string) fillOutcome {
	f.cancel()
	return fillOutcome{entry: share(f.stored), status: "fwd=stale; " + status + "; detail=stale-if-error", stale: true}
}

// dropStored lets the stored copy go: the fill won't fall back on it.
func (f *fill) dropStored() {
	if f.stored != nil {
		_ = f.stored.Close()
		f.stored = nil
	}
}

// notModified answers a 304 to a revalidation: the stored copy with the
// 304's header fields merged in (RFC 9111 §4.3.4), stored again. A 304
// that describes another representation, or makes it unstorable, is
// followed by a fetch of the whole response.
func (f *fill) notModified() fillOutcome {
	f.resp.Body.Close()
	f.cancel()
	stored := f.stored
	// A 304 may update the digests of a body stored as the origin sent
	// it, never add digests to one the edge changed (build dropped them).
	for _, k := range digestFields {
		if _, ok := stored.Header[k]; !ok {
			delete(f.hdr, k)
		}
	}
	merged, ok := cache.MergeNotModified(stored.Header, f.hdr)
	if ok {
		// A 304 carries no content: one answering a request with cookies
		// only confirms the stored body, which was stored under its own
		// request's rules.
		if storable, why := f.h.policy.Storable(f.policyRequest(), stored.Status, merged); storable || why == cache.ReasonCookie {
			stored.Header = merged
			stored.RequestTime, stored.ResponseTime = f.reqTime, f.respTime
			status := "fwd=stale; fwd-status=304"
			if f.put(stored) {
				status += "; stored"
			}
			return fillOutcome{entry: share(stored), status: status}
		}
	}
	_ = stored.Close()
	f.stored, f.d = nil, cache.Decision{}
	return f.run()
}

// policyRequest is the request as the cache rules judge the fill: a GET,
// whatever the requester's method.
func (f *fill) policyRequest() *http.Request {
	return &http.Request{Method: http.MethodGet, URL: f.r.URL, Header: f.r.Header}
}

// coding is the response's Content-Encoding.
func (f *fill) coding() string { return strings.TrimSpace(f.hdr.Get("Content-Encoding")) }

// decide reports whether the response may be stored (RFC 9111 §3 and the
// edge's rules, cache.Policy.Storable) and the most of its decoded body
// read to store it: MaxHTMLSize for what the edge rewrites, MaxCacheObject
// for the rest. why is the Cache-Status detail when it may not.
func (f *fill) decide() (limit int64, why string, ok bool) {
	h, resp := f.h, f.resp
	if ok, reason := h.policy.Storable(f.policyRequest(), resp.StatusCode, resp.Header); !ok {
		if reason != cache.ReasonCookie && reason != cache.ReasonCookiePrivate && f.r.Header.Get("Authorization") == "" {
			// The origin now says no: a copy stored before goes too. A
			// cookie visitor's answer, or a signed-in one's, says nothing
			// about the copy stored for everyone else.
			h.invalidateKey(f.key)
		}
		return 0, reason, false
	}
	limit = h.opts.MaxCacheObject
	if h.rewritten(f.hdr.Get("Content-Type")) {
		limit = h.opts.MaxHTMLSize
	}
	if f.coding() == "" && resp.ContentLength > limit {
		return 0, "too-large", false
	}
	return limit, "", true
}

// unshared hands the response to the requester alone, unstored.
func (f *fill) unshared(detail string) fillOutcome {
	f.dropStored()
	return fillOutcome{resp: f.resp, cancel: f.cancel, detail: detail}
}

// read decodes the body and reads it, up to limit bytes, into f.buf,
// drawn from the budget (f.l): it is held in memory while it is rewritten,
// compressed and stored, never while a visitor reads it. A longer body,
// or one that finds the budget spent, goes to the requester alone; a
// failed read is an origin failure.
func (f *fill) read(limit int64) (out fillOutcome, done bool) {
	h, resp := f.h, f.resp
	coding := f.coding()
	body, err := f.decode(resp, coding)
	if err != nil {
		return f.unshared("coding"), true
	}
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
		return f.failed(fmt.Errorf("reading origin body: %w", err)), true
	}
	f.body, f.buf, f.l = body, buf, l
	switch state {
	case bufOver:
		return f.streamed(bufOver, "too-large"), true
	case bufNoMemory:
		h.log.Warn("buffer memory spent; response streamed unstored", "id", f.id, "key", f.key, "limit", h.budget.Limit())
		return f.streamed(bufNoMemory, "buffer-memory"), true
	}
	return fillOutcome{}, false
}

// streamed hands the body to the requester alone, unstored: what was read
// first, then the rest, decoded.
func (f *fill) streamed(why bufState, detail string) fillOutcome {
	resp := f.resp
	resp.Body = &closeBoth{ReadCloser: f.h.handOff(f.buf, f.l, f.body), also: resp.Body}
	if f.coding() != "" {
		dropDigests(resp.Header) // the body handed on is decoded
	}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	out := f.unshared(detail)
	out.unbuffered = why
	return out
}

// admit applies what can only be judged once the body is in: the content
// policy on its size (a blocked response is never stored, and a copy
// stored before the rule goes too), and the budget for building the entry
// (buildCost); without it, the body goes to the requester alone.
func (f *fill) admit() (out fillOutcome, done bool) {
	h, resp := f.h, f.resp
	if err := h.checkStored(f.r.URL.Path, resp.StatusCode, f.hdr, int64(len(f.buf))); err != nil {
		f.l.free()
		resp.Body.Close()
		f.dropStored()
		f.cancel()
		h.invalidateKey(f.key)
		return fillOutcome{err: err}, true
	}
	if !f.l.grow(h.buildCost(f.hdr, f.buf, resp.StatusCode)) {
		h.log.Warn("buffer memory spent; response streamed unstored", "id", f.id, "key", f.key, "limit", h.budget.Limit())
		return f.streamed(bufNoMemory, "buffer-memory"), true
	}
	return fillOutcome{}, false
}

// buildCost estimates the memory fill.build needs beyond the body it is
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
	case h.rewrittenText(ctype):
		cost = cssWorkFactor * n
	}
	if compressible(ctype) && n >= minCompressSize {
		cost += n // the br and gzip variants together take less than the body
	}
	return cost
}

// build turns the response into what the cache stores and serves:
// headers rewritten for the edge, HTML rewritten with the notice, and
// for a compressible body the fast coding its visitor accepts (the other
// variants are made in the background), so a hit does no parsing and no
// compression.
func (f *fill) build() *cache.Entry {
	h, hdr, body, status := f.h, f.hdr, f.buf, f.resp.StatusCode
	decoded := f.coding() != ""
	hdr.Del("Content-Encoding")
	hdr.Del("Content-Length")
	ctype := hdr.Get("Content-Type")
	if ctype == "" && len(body) > 0 {
		ctype = http.DetectContentType(body)
	}
	if isHTML(ctype) && bodyAllowed(http.MethodGet, status) {
		res, changed := f.rewriteHTML(body, ctype, hdr)
		body = res.Body
		if changed {
			hdr.Set(markerTransformed, "1")
		}
		if status == http.StatusOK {
			// Remembered for the next time the page is fetched again.
			if links := preloadLinks(f.edge, f.r.URL, res.Base, res.Hints); len(links) > 0 {
				hdr[markerHints] = links
			}
		}
	} else if h.rewrittenText(ctype) && bodyAllowed(http.MethodGet, status) {
		// Stored as served: URLs on the edge, localized.
		var changed bool
		if body, changed = h.rewriteText(body, ctype, f.edge); changed {
			hdr.Set(markerTransformed, "1")
		}
	}
	// The origin's bytes are done with once the page is rewritten.
	releaseInput(f.buf, body, f.l)
	f.buf = nil
	if decoded || len(hdr[markerTransformed]) > 0 {
		// The stored body is not the bytes the origin sent; digests of
		// those would be wrong. Unchanged, they are kept (and dropped
		// again from the variants the edge encodes, in entryBody).
		dropDigests(hdr)
	}
	e := &cache.Entry{Key: f.key, Status: status, Header: hdr, RequestTime: f.reqTime, ResponseTime: f.respTime}
	// The bodies are the fill's own, from the buffer pool, and no longer
	// written to: they go back to the pool when the entry is closed,
	// once its visitors have it (the store copies what it keeps).
	e.LendBody(cache.Identity, body)
	if compressible(hdr.Get("Content-Type")) && len(body) >= minCompressSize {
		addVary(hdr, "Accept-Encoding")
		// The visitor waiting gets the fast coding; the stored variants
		// are made once stored, off the request path (Compressor).
		if coding := fastCoding(f.r.Header.Get("Accept-Encoding")); coding != "" {
			enc, _ := cache.ParseEncoding(coding)
			if coded := h.enc.compress(coding, body); !overlaps(coded, body) {
				e.LendBody(enc, coded)
			} else {
				e.SetBody(enc, coded) // lent once already, as the identity body
			}
		}
	}
	return e
}

// store puts e in the cache, under its variant's key when the response
// varies (RFC 9111 §4.1; an index entry at the primary key names the
// fields), and returns it to be served with Cache-Status status. An entry
// larger than a hit would read whole (cache.WholeReadMax), once stored, is
// read back from the store as any hit is (from its file, so that slow
// visitors hold no memory, and the buffers go).
func (f *fill) store(e *cache.Entry, status string) fillOutcome {
	sec, _ := cache.SecondaryKey(f.hdr, f.r.Header, "Accept-Encoding")
	if sec != "" {
		index := &cache.Entry{Key: f.key, Status: e.Status, Header: http.Header{markerVary: varyFields(f.hdr)},
			RequestTime: f.reqTime, ResponseTime: f.respTime}
		index.SetBody(cache.Identity, nil)
		if !f.put(index) {
			return fillOutcome{entry: shareLeased(e, f.l), status: status}
		}
		e.Key = f.key + variantSep + sec
	}
	if !f.put(e) {
		return fillOutcome{entry: shareLeased(e, f.l), status: status}
	}
	status += "; stored"
	f.recompressStored(e)
	if e.BodyBytes() <= cache.WholeReadMax {
		// Served from the fill's own bytes (the store copied what it
		// keeps in memory, if anything): a hit on this entry from disk
		// would read it whole into memory anyway. Like such a hit, it
		// holds none of the budget while visitors read it, and its
		// buffers go back to the pool when the last of them is done.
		f.l.free()
		return fillOutcome{entry: share(e), status: status}
	}
	if se, err := f.h.opts.Cache.Reread(e.Key); err == nil {
		f.l.free()
		_ = e.Close() // its bodies go back to the pool
		return fillOutcome{entry: share(se), status: status}
	}
	return fillOutcome{entry: shareLeased(e, f.l), status: status}
}

// put stores e, reporting success. A failing disk degrades the cache to
// pass-through; requests never fail because of it.
func (q *request) put(e *cache.Entry) bool {
	h := q.h
	e.Header.Set(markerFingerprint, h.fingerprint)
	err := h.opts.Cache.Put(e)
	if err == nil {
		if h.opts.Observer != nil {
			var n int64
			for _, enc := range e.Encodings() {
				if b, ok := e.Body(enc); ok {
					n += b.Size()
				}
			}
			h.opts.Observer.Stored(n)
		}
		return true
	}
	if errors.Is(err, cache.ErrTooLarge) || errors.Is(err, cache.ErrClosed) {
		return false
	}
	h.log.Error("cache write failed; serving without storing", "id", q.id, "key", e.Key, "err", err)
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
// one refresh per key at a time, owned by the handler's lifetime. The
// refresh is a fill of its own, for a copy of the request, with its own
// request ID.
func (q *request) refreshAsync(key string) {
	h := q.h
	h.mu.Lock()
	if _, busy := h.flights[key]; busy || h.closed {
		h.mu.Unlock()
		return
	}
	fl := &flight{done: make(chan struct{})}
	h.flights[key] = fl
	h.bg.Add(1)
	h.mu.Unlock()

	req := q.r.Clone(context.WithoutCancel(q.r.Context()))
	req.Method = http.MethodGet
	edge := q.edge
	go func() {
		defer h.bg.Done()
		bg := request{h: h, r: req, edge: edge, id: h.newRequestID()}
		stored := bg.lookup(key)
		var d cache.Decision
		if stored != nil {
			d = h.policy.Decide(req, stored, h.now())
			d.Action = cache.Revalidate
		}
		// No visitor of its own: interim responses go to the requests
		// that come to wait on it meanwhile.
		f := &fill{request: bg, key: key, stored: stored, d: d, interim: &fl.interim}
		h.compressor.fillStarted()
		out := f.run()
		h.compressor.fillEnded()
		h.finishFlight(key, fl, req, out)
		switch {
		case out.entry != nil:
			out.entry.release()
		case out.resp != nil:
			out.resp.Body.Close()
			out.cancel()
		case out.err != nil:
			h.log.Warn("background refresh failed", "id", bg.id, "key", key, "err", out.err)
		}
		h.log.Debug("background refresh", "id", bg.id, "key", key, "origin_status", f.originStatus)
	}()
}
