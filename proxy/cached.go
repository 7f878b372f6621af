package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
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

var errNothingToPurge = errors.New("nothing to purge: give a URL, a prefix or all")

// sharedEntry is a stored or freshly built response served to several
// requests at once; the last to release it closes it, and frees the
// budget its bodies hold when they are in memory (see fill).
type sharedEntry struct {
	e    *cache.Entry
	l    *lease // nil for an entry from the store
	refs atomic.Int32
}

func share(e *cache.Entry) *sharedEntry { return shareLeased(e, nil) }

func shareLeased(e *cache.Entry, l *lease) *sharedEntry {
	s := &sharedEntry{e: e, l: l}
	s.refs.Store(1)
	return s
}

func (s *sharedEntry) acquire() *sharedEntry { s.refs.Add(1); return s }

func (s *sharedEntry) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.e.Close()
		s.l.free()
	}
}

// cacheable reports whether r may be answered from or stored in the cache.
// Requests that carry conditions a cache doesn't evaluate, credentials or
// an upgrade go to the origin.
func (h *Handler) cacheable(r *http.Request) (ok bool, detail string) {
	switch {
	case h.opts.Cache == nil:
		return false, "bypass"
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		return false, "method"
	case upgradeType(r.Header) != "":
		return false, "request; detail=upgrade"
	case r.Header.Get("Authorization") != "":
		// RFC 9111 §3.5; such responses are stored only when the origin
		// says public, which is rare enough to forward them all.
		return false, "request; detail=authorization"
	case r.ContentLength != 0:
		// RFC 9110 §9.3.1: a body on a GET has no defined meaning, but
		// an origin may act on it. The key can't cover it, so what it
		// produced must not be stored for, or served to, anyone else.
		return false, "bypass; detail=request-body"
	case h.bypass.match(r.Header):
		// A logged-in visitor's page, whatever the origin says about it.
		return false, "bypass; detail=session-cookie"
	case r.Header.Get("If-Match") != "" || r.Header.Get("If-Unmodified-Since") != "":
		return false, "request; detail=precondition" // RFC 9111 §4.3.2
	}
	return true, ""
}

// lookup returns the stored response for r under key (following a Vary
// index to the variant), or nil.
func (h *Handler) lookup(key string, r *http.Request, info *reqInfo) *cache.Entry {
	e := h.get(key, info)
	if e == nil || e.Header.Get(markerVary) == "" {
		return e
	}
	vary := http.Header{"Vary": e.Header.Values(markerVary)}
	_ = e.Close()
	sec, ok := cache.SecondaryKey(vary, r.Header, "Accept-Encoding")
	if !ok {
		return nil
	}
	return h.get(key+variantSep+sec, info)
}

func (h *Handler) get(key string, info *reqInfo) *cache.Entry {
	// Shared: stored headers are only read here; a revalidation replaces
	// the map rather than changing it (cache.MergeNotModified copies).
	e, err := h.opts.Cache.GetShared(key)
	switch {
	case err == nil && e.Header.Get(markerFingerprint) != h.fingerprint:
		// Built under other settings (e.g. before a reload changed the
		// notice): a miss, and never a stale copy to fall back on.
		_ = e.Close()
		return nil
	case err == nil:
		return e
	case errors.Is(err, cache.ErrNotFound), errors.Is(err, cache.ErrClosed):
		return nil
	}
	h.log.Error("cache read failed; fetching from the origin", "id", info.id, "key", key, "err", err)
	return nil
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

// hitStatus is the Cache-Status of a response served from the store.
func hitStatus(d cache.Decision) string {
	return "hit; ttl=" + strconv.Itoa(int((d.Lifetime - d.Age).Seconds()))
}

func (h *Handler) setCacheStatus(w http.ResponseWriter, params string) {
	w.Header().Set("Cache-Status", "icpedge; "+params)
}

// serveEntry answers r from a stored response: 304 for a matching
// condition, 206 for a range of the identity body, else the body in the
// best encoding the visitor accepts. Nothing is parsed or compressed.
//
// age is the entry's current age when the caller has it, or negative.
func (h *Handler) serveEntry(w http.ResponseWriter, r *http.Request, e *cache.Entry, status string, age time.Duration, info *reqInfo) {
	hdr := w.Header()
	for k, v := range e.Header {
		if k != markerTransformed && k != markerFingerprint {
			// Shared, never appended to: the fields set below replace
			// their slices.
			hdr[k] = v
		}
	}
	if len(e.Header[markerTransformed]) > 0 {
		weakenETag(hdr)
	}
	if age < 0 {
		age = cache.Age(e.Header, e.RequestTime, e.ResponseTime, h.now())
	}
	hdr["Age"] = []string{strconv.FormatInt(int64(age/time.Second), 10)}
	hdr["Cache-Status"] = []string{"icpedge; " + status}

	if cache.NotModified(r, e) {
		// RFC 9110 §15.4.5: a 304 carries the validators and caching
		// fields, not the content's.
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Language", "Content-Disposition"} {
			hdr.Del(k)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}

	identity, ok := storedBody(e, cache.Identity)
	if !ok {
		h.log.Error("stored entry has no body", "id", info.id, "key", e.Key)
		h.errorPage(w, r, http.StatusBadGateway, info.id)
		return
	}
	statusCode := e.Status
	body := identity
	if rng, res := cache.RequestRange(r, hdr, identity.size); res != cache.RangeIgnore && statusCode == http.StatusOK {
		delete(hdr, "Content-Encoding")
		if res == cache.RangeUnsatisfiable {
			hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(identity.size, 10))
			hdr.Set("Content-Length", "0")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		hdr.Set("Content-Range", rng.ContentRange(identity.size))
		body = identity.part(rng.Start, rng.Length)
		statusCode = http.StatusPartialContent
	} else if name := negotiateEncoding(r.Header.Get("Accept-Encoding")); name != "" {
		if ce, ok := cache.ParseEncoding(name); ok {
			if b, ok := storedBody(e, ce); ok {
				body = b
				hdr["Content-Encoding"] = []string{name}
			}
		}
	}
	if !bodyAllowed(http.MethodGet, statusCode) {
		w.WriteHeader(statusCode)
		return
	}
	hdr["Content-Length"] = []string{strconv.FormatInt(body.size, 10)}
	w.WriteHeader(statusCode)
	if r.Method == http.MethodHead {
		return
	}
	var err error
	if body.file == nil {
		_, err = w.Write(body.mem) // a memory-tier hit: one write, no copy
	} else {
		buf := h.copyBufs.Get().(*[]byte)
		_, err = io.CopyBuffer(w, body.file, *buf)
		h.copyBufs.Put(buf)
	}
	if err != nil && r.Context().Err() == nil {
		h.log.Debug("client write failed", "id", info.id, "err", err)
	}
}

// body is a stored body to send: in memory (a memory-tier hit, no
// reader needed) or in a file.
type body struct {
	mem  []byte
	file *io.SectionReader
	size int64
}

// storedBody returns e's body in encoding enc.
func storedBody(e *cache.Entry, enc cache.Encoding) (body, bool) {
	if b, ok := e.Bytes(enc); ok {
		return body{mem: b, size: int64(len(b))}, true
	}
	r, ok := e.Body(enc)
	if !ok {
		return body{}, false
	}
	return body{file: r, size: r.Size()}, true
}

// part returns n bytes of b from off.
func (b body) part(off, n int64) body {
	if b.file == nil {
		return body{mem: b.mem[off : off+n], size: n}
	}
	return body{file: io.NewSectionReader(b.file, off, n), size: n}
}

// compressible reports whether a media type gains from compression.
func compressible(ctype string) bool {
	mt := strings.ToLower(strings.TrimSpace(strings.Split(ctype, ";")[0]))
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/javascript", "application/json", "application/xml", "application/x-javascript",
		"image/svg+xml", "application/wasm", "application/manifest+json", "font/ttf", "font/otf",
		"application/vnd.ms-fontobject", "image/x-icon", "image/vnd.microsoft.icon":
		return true
	}
	return false
}

// invalidateKey drops every stored variant of one primary key.
func (h *Handler) invalidateKey(key string) {
	if h.opts.Cache == nil {
		return
	}
	_, _ = h.opts.Cache.DeleteFunc(func(k string) bool {
		return k == key || strings.HasPrefix(k, key+variantSep)
	})
}

// invalidate applies RFC 9111 §4.4 after an unsafe request: the target
// URI, and Location and Content-Location on the same host, are dropped
// for every scheme and port.
func (h *Handler) invalidate(r *http.Request, edge rewrite.Edge, status int, hdr http.Header) {
	if h.opts.Cache == nil {
		return
	}
	target := *r.URL
	target.Scheme, target.Host = edge.Scheme, edge.Host
	for _, u := range cache.Invalidations(r.Method, &target, status, hdr) {
		match, err := Purge{URL: u.String()}.matcher()
		if err != nil {
			continue
		}
		n, err := h.opts.Cache.DeleteFunc(match)
		if err != nil {
			h.log.Error("cache invalidation failed", "url", u.String(), "err", err)
		} else if n > 0 {
			h.log.Debug("cache invalidated", "url", u.String(), "entries", n)
		}
	}
}

// Purge removes entries from the cache and returns how many.
func (h *Handler) Purge(p Purge) (int, error) {
	if h.opts.Cache == nil {
		return 0, nil
	}
	match, err := p.matcher()
	if err != nil {
		return 0, err
	}
	return h.opts.Cache.DeleteFunc(match)
}
