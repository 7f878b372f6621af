package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reqInfo collects what the access log reports about one request, and
// what the steps of serving it tell each other.
type reqInfo struct {
	id           string
	originStatus int
	// body, when set, is the visitor's body being streamed to the origin
	// (see bufferRequestBody), whose limits may be why the origin request
	// failed.
	body *bodyReader
	// unbuffered is set when a fill found the body too large to buffer
	// (bufOver) or the budget spent (bufNoMemory): respond streams the
	// body instead of buffering it again.
	unbuffered bufState
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
	start := h.now()
	info := &reqInfo{id: h.newRequestID()}
	rec := &recorder{ResponseWriter: w}
	defer func() {
		h.accessLog(r, rec, info, start)
	}()
	hdr := rec.Header()
	hdr["X-Request-Id"] = []string{info.id}
	hdr["Cache-Status"] = []string{"icpedge; fwd=bypass"} // until a path says more

	// Never an open proxy: the request's host, and the host of an
	// absolute-form target, must be one of ours (RFC 9110 §15.5.20).
	if r.Method == http.MethodConnect {
		rec.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		h.plainError(rec, http.StatusMethodNotAllowed, "CONNECT is not supported")
		return
	}
	if !h.hosts[canonicalHost(r.Host)] || (r.URL.IsAbs() && !h.hosts[canonicalHost(r.URL.Host)]) {
		h.plainError(rec, http.StatusMisdirectedRequest, "this server does not serve that host")
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/") && r.URL.Path != "" {
		h.plainError(rec, http.StatusBadRequest, "bad request target")
		return
	}
	// Every decision below, and the origin, see the canonical path.
	cr, err := withCanonicalPath(r)
	if err != nil {
		h.log.Debug("request path refused", "id", info.id, "path", r.URL.EscapedPath(), "err", err)
		h.page(rec, r, http.StatusBadRequest, info.id, "请求的地址无效。", "The address of this request is not valid.")
		return
	}
	r = cr
	edge := h.edgeOf(r)
	if strings.HasPrefix(r.URL.Path, assetPrefix) {
		h.serveAsset(rec, r)
		return
	}
	if l := h.opts.Landing; l != nil && canonicalHost(r.Host) == l.Host {
		h.serveLanding(rec, r)
		return
	}
	if rule, ok := MatchPath(h.opts.Block, r.URL.Path); ok {
		h.refuse(rec, r, info, &blockedError{rule: rule, reason: "path " + r.URL.Path})
		return
	}
	br, done, ok := h.bufferRequestBody(rec, r, info)
	if !ok {
		return
	}
	defer done()
	r = br
	if ok, detail := h.cacheable(r); !ok {
		h.setCacheStatus(rec, "fwd="+detail)
		h.forward(rec, r, edge, info)
		return
	}
	h.serveCached(rec, r, edge, info)
}

func (h *Handler) setCacheStatus(w http.ResponseWriter, params string) {
	w.Header().Set("Cache-Status", "icpedge; "+params)
}

func (h *Handler) accessLog(r *http.Request, rec *recorder, info *reqInfo, start time.Time) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
		if r.Context().Err() != nil {
			status = 499 // the client went away before any response
		}
	}
	cs := rec.Header().Get("Cache-Status")
	metricHost := canonicalHost(r.Host)
	if !h.hosts[metricHost] {
		metricHost = "other"
	}
	h.opts.Metrics.observeRequest(metricHost, status, cs)
	if !h.opts.AccessLog.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("id", info.id),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", h.now().Sub(start)),
		slog.Int("origin_status", info.originStatus),
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
