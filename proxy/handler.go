package proxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/icpedge/icpedge/rewrite"
)

const (
	defaultConnectTimeout  = 5 * time.Second
	defaultResponseTimeout = 60 * time.Second
	defaultOriginIdle      = 30 * time.Second
	defaultMaxHTMLSize     = 8 << 20

	// assetPrefix is the path space the edge answers itself, never
	// forwarded to the origin.
	assetPrefix = "/.icpedge/"
	// badgePath serves the public-security filing badge.
	badgePath = assetPrefix + "police.png"
)

// New returns a Handler for opts.
func New(opts Options) (*Handler, error) {
	if len(opts.Hosts) == 0 {
		return nil, errors.New("proxy: no hosts to serve")
	}
	if opts.Origin == nil || (opts.Origin.Scheme != "http" && opts.Origin.Scheme != "https") || opts.Origin.Host == "" {
		return nil, errors.New("proxy: origin must be an absolute http or https URL")
	}
	if opts.OriginHost == "" {
		opts.OriginHost = opts.Origin.Hostname()
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = defaultConnectTimeout
	}
	if opts.ResponseTimeout <= 0 {
		opts.ResponseTimeout = defaultResponseTimeout
	}
	if opts.OriginIdleTimeout <= 0 {
		opts.OriginIdleTimeout = defaultOriginIdle
	}
	if opts.BypassCookies == nil {
		opts.BypassCookies = DefaultBypassCookies()
	}
	if opts.MaxHTMLSize <= 0 {
		opts.MaxHTMLSize = defaultMaxHTMLSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.AccessLog == nil {
		opts.AccessLog = opts.Logger
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.Rewrite.RewriteHosts) == 0 {
		opts.Rewrite.RewriteHosts = []string{opts.OriginHost}
	}
	if opts.Rewrite.Notice.Police != "" && opts.Rewrite.Notice.PoliceBadgeURL == "" {
		opts.Rewrite.Notice.PoliceBadgeURL = badgePath
	}
	rw, err := rewrite.New(opts.Rewrite)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if opts.MaxCacheObject <= 0 {
		opts.MaxCacheObject = defaultMaxCacheObject
	}
	if opts.Budget == nil {
		opts.Budget = NewBudget(DefaultBufferMemory)
	}
	if opts.RequestBodyTimeout <= 0 {
		opts.RequestBodyTimeout = defaultRequestBodyTimeout
	}
	if opts.MaxRequestBody <= 0 {
		opts.MaxRequestBody = defaultMaxRequestBody
	}
	h := &Handler{
		opts:         opts,
		rw:           rw,
		hosts:        make(map[string]bool),
		rewriteHosts: make(map[string]bool),
		log:          opts.Logger,
		now:          opts.Now,
		policy:       opts.CachePolicy,
		flights:      make(map[string]*flight),
		unshared:     make(map[string]time.Time),
		bypass:       newCookieMatcher(opts.BypassCookies),
		fingerprint:  fingerprint(opts),
		budget:       opts.Budget,
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	var prefix [5]byte
	_, _ = rand.Read(prefix[:])
	h.reqPrefix = hex.EncodeToString(prefix[:]) + "-"
	h.copyBufs.New = func() any { b := make([]byte, 64<<10); return &b }
	h.enc = newEncoders(runtime.GOMAXPROCS(0))
	for _, host := range opts.Hosts {
		h.hosts[canonicalHost(host)] = true
	}
	if l := opts.Landing; l != nil {
		lc := *l
		lc.Host = canonicalHost(l.Host)
		h.opts.Landing = &lc
		h.hosts[lc.Host] = true
	}
	for _, host := range opts.Rewrite.RewriteHosts {
		h.rewriteHosts[canonicalHost(host)] = true
	}
	h.transport = opts.Transport
	if h.transport == nil {
		h.transport = newTransport(opts)
	}
	return h, nil
}

// newTransport builds the origin transport: a short connect timeout, a
// longer wait for response headers, the origin's certificate verified for
// OriginHost (which is also the SNI), and no environment proxy.
func newTransport(opts Options) *http.Transport {
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   opts.ConnectTimeout,
		ResponseHeaderTimeout: opts.ResponseTimeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig: &tls.Config{
			ServerName: opts.OriginHost,
			RootCAs:    opts.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		// The edge asks for and decodes compressed bodies itself.
		DisableCompression: true,
	}
}

// Close stops background refreshes and waits for them, then releases
// idle origin connections. It does not close Options.Cache.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.bg.Wait()
	if t, ok := h.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// canonicalHost lower-cases a host, drops its port and a trailing dot.
func canonicalHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

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

// edgeOf returns the scheme and host the visitor used to reach us.
func (h *Handler) edgeOf(r *http.Request) rewrite.Edge {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if h.trustedPeer(r) {
		if p := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); p == "https" || p == "http" {
			scheme = p
		}
	}
	return rewrite.Edge{Scheme: scheme, Host: edgeHost(r.Host, scheme)}
}

func (h *Handler) trustedPeer(r *http.Request) bool {
	if len(h.opts.TrustedProxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	return h.trusted(ap.Addr())
}

// trusted reports whether addr is in TrustedProxies.
func (h *Handler) trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range h.opts.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
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
