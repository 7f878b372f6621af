package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/icpedge/icpedge/rewrite"
)

// request is what the steps of serving a visitor's request need to know
// of it whether or not anyone is still waiting for the answer: the
// request itself (its path in canonical form and its body buffered, once
// ServeHTTP has checked them), the edge it arrived on and its ID in the
// logs. An exchange carries one together with the visitor's
// ResponseWriter; a fill carries one to fetch, rewrite and store a
// response in the background, with no ResponseWriter at all.
type request struct {
	h    *Handler
	r    *http.Request
	edge rewrite.Edge // the scheme and host the visitor used
	id   string
}

// exchange is one visitor request in flight, from ServeHTTP to the access
// log: the request, the ResponseWriter it is answered on, and what the
// steps of answering it tell each other and the log. The request path is
// its methods:
//
//	ServeHTTP → serveCached (GET, HEAD through the cache) or forward (the rest)
//	serveCached → serveEntry (a hit) | fill → serveFilled | awaitFlight
//	forward → respond → respondHTML, respondText, streamThrough → stream, writeBody
//
// An exchange belongs to the goroutine serving the request. Work done for
// others as well, or for no one waiting (a fill other requests wait for,
// a background refresh), is a fill, which carries the request but not the
// ResponseWriter.
type exchange struct {
	request
	// w is the visitor's ResponseWriter, noting the status and bytes sent
	// for the access log: rec, in the same allocation as the exchange.
	w     *recorder
	rec   recorder
	start time.Time
	// values holds the one-value slices of the response fields the
	// edge sets on every response (setField), so they cost no
	// allocation of their own.
	values  [6]string
	nvalues int
	// originStatus is the status of the origin's response, 0 when the
	// origin was not asked (a hit, a refusal) or did not answer.
	originStatus int
	// reqBody, when set, is the visitor's body being streamed to the
	// origin (see bufferRequestBody), whose limits may be why the origin
	// request failed.
	reqBody *bodyReader
	// unbuffered is set when a fill found the body too large to buffer
	// (bufOver) or the budget spent (bufNoMemory): respond streams the
	// body instead of buffering it again.
	unbuffered bufState
	// identitySize and codedSize, when the edge sent a body it
	// compressed or a stored compressed variant, are the body's size
	// without compression and as sent, for the compression metrics.
	identitySize, codedSize int64
}

// newRequestID returns an ID unique to this process run: a random prefix
// drawn once per Handler and a counter, so the hot path does no
// cryptographic work.
func (h *Handler) newRequestID() string {
	n := h.reqSeq.Add(1)
	b := make([]byte, 0, 16)
	b = append(b, h.reqPrefix...)
	b = strconv.AppendUint(b, n, 36)
	return string(b)
}

// ServeHTTP serves one visitor request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.compressor.requestStarted()
	x := &exchange{
		request: request{h: h, r: r, id: h.newRequestID()},
		rec:     recorder{ResponseWriter: w},
		start:   h.now(),
	}
	x.w = &x.rec
	defer x.accessLog()
	hdr := x.w.Header()
	x.setField("X-Request-Id", x.id)
	x.setField("Cache-Status", "icpedge; fwd=bypass") // until a path says more

	// Never an open proxy: the request's host, and the host of an
	// absolute-form target, must be one of ours (RFC 9110 §15.5.20).
	if r.Method == http.MethodConnect {
		hdr.Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		x.plainError(http.StatusMethodNotAllowed, "CONNECT is not supported")
		return
	}
	if !h.hosts[canonicalHost(r.Host)] || (r.URL.IsAbs() && !h.hosts[canonicalHost(r.URL.Host)]) {
		x.plainError(http.StatusMisdirectedRequest, "this server does not serve that host")
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/") && r.URL.Path != "" {
		x.plainError(http.StatusBadRequest, "bad request target")
		return
	}
	// Every decision below, and the origin, see the canonical path.
	cr, err := withCanonicalPath(r)
	if err != nil {
		h.log.Debug("request path refused", "id", x.id, "path", r.URL.EscapedPath(), "err", err)
		x.page(http.StatusBadRequest, "请求的地址无效。", "The address of this request is not valid.")
		return
	}
	x.r = cr
	x.edge = h.edgeOf(x.r)
	if strings.HasPrefix(x.r.URL.Path, assetPrefix) {
		x.serveAsset()
		return
	}
	if l := h.opts.Landing; l != nil && canonicalHost(x.r.Host) == l.Host {
		x.serveLanding()
		return
	}
	if rule, ok := MatchPath(h.opts.Block, x.r.URL.Path); ok {
		x.refuse(&blockedError{rule: rule, reason: "path " + x.r.URL.Path})
		return
	}
	br, done, ok := x.bufferRequestBody()
	if !ok {
		return
	}
	defer done()
	x.r = br
	if ok, detail := h.cacheable(x.r); !ok {
		if onlyIfCached(x.r) {
			x.notCached()
			return
		}
		x.setCacheStatus("fwd=" + detail)
		x.forward()
		return
	}
	x.serveCached()
}

// setField sets the response field key, in canonical form, to the one
// value v, in a slice from x.values while they last. Like every field
// value, it is replaced, never appended to in place.
func (x *exchange) setField(key, v string) {
	if x.nvalues == len(x.values) {
		x.w.Header()[key] = []string{v}
		return
	}
	i := x.nvalues
	x.nvalues++
	x.values[i] = v
	x.w.Header()[key] = x.values[i : i+1 : i+1]
}

// setCacheStatus sets the response's Cache-Status parameters (RFC 9211).
func (x *exchange) setCacheStatus(params string) {
	x.w.Header().Set("Cache-Status", "icpedge; "+params)
}

// accessLog counts the request in the metrics and writes its access-log
// line.
func (x *exchange) accessLog() {
	h, r := x.h, x.r
	status := x.w.status
	if status == 0 {
		status = http.StatusOK
		if r.Context().Err() != nil {
			status = 499 // the client went away before any response
		}
	}
	cs := field(x.w.Header(), "Cache-Status")
	metricHost := canonicalHost(r.Host)
	if !h.hosts[metricHost] {
		metricHost = "other"
	}
	class, swr := cacheClass(cs), strings.Contains(cs, "stale-while-revalidate")
	h.opts.Metrics.observeRequest(metricHost, status, class, swr)
	if metricHost != "other" && h.opts.Observer != nil {
		h.opts.Observer.Served(class, class == "stale" && !swr)
	}
	var identity int64
	if x.identitySize > 0 && x.w.bytes == x.codedSize {
		identity = x.identitySize // only a body sent whole
	}
	h.opts.Metrics.observeSent(field(x.w.Header(), "Content-Encoding"), x.w.bytes, identity)
	if !h.opts.AccessLog.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("id", x.id),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", x.w.bytes),
		slog.Duration("duration", h.now().Sub(x.start)),
		slog.Int("origin_status", x.originStatus),
		slog.String("remote", r.RemoteAddr),
	}
	if cs != "" {
		attrs = append(attrs, slog.String("cache", strings.TrimPrefix(cs, "icpedge; ")))
	}
	h.opts.AccessLog.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

// recorder notes the status and body bytes written, for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(p)
	rec.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
