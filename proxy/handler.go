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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/proxy/internal/bufpool"
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

// Handler is the edge. Create it with New.
type Handler struct {
	opts         Options
	rw           *rewrite.Rewriter
	hosts        map[string]bool // canonical names served
	rewriteHosts map[string]bool // the origin's own names
	transport    http.RoundTripper
	log          *slog.Logger
	now          func() time.Time
	policy       cache.Policy
	fingerprint  string // see fingerprint; stamped on every stored entry
	budget       *Budget
	// targeted are the targeted fields the cache obeys (RFC 9213), which
	// the edge removes before sending a response on.
	targeted []string

	// ctx ends background work (refreshes, detached fills) on Close.
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	enc *encoders // pooled whole-body compressors
	// compressor makes the stored variants; ownCompressor when this
	// Handler made it and closes it.
	compressor    *Compressor
	ownCompressor bool

	reqPrefix string        // random per Handler, for request IDs
	reqSeq    atomic.Uint64 // request IDs' counter

	// copyBufs holds buffers for copying stored bodies read from disk.
	copyBufs sync.Pool

	bypass *cookieMatcher // Options.BypassCookies, defaults applied

	mu      sync.Mutex
	flights map[string]*flight // cache fills in progress, by key
	// unshared holds keys whose last fill could not be shared, until
	// when requests for them go to the origin without waiting for one
	// another (see hitForMiss).
	unshared map[string]time.Time
	closed   bool
}

// New returns a Handler for opts.
func New(opts Options) (*Handler, error) {
	if len(opts.Hosts) == 0 {
		return nil, errors.New("proxy: no hosts to serve")
	}
	if opts.Origin == nil || (opts.Origin.Scheme != "http" && opts.Origin.Scheme != "https") || opts.Origin.Host == "" {
		return nil, errors.New("proxy: origin must be an absolute http or https URL")
	}
	opts = opts.withDefaults()
	ro := opts.Rewrite
	if ro.Buffer == nil {
		// Pages are rewritten into reused buffers: a stored page's goes
		// back when its entry is closed (cache.Entry.LendBody).
		ro.Buffer = func(n int) []byte { return bufpool.Get(int64(n)) }
	}
	rw, err := rewrite.New(ro)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
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
		targeted:     opts.CachePolicy.TargetList(),
	}
	// A forced rule never applies to a visitor with a session cookie,
	// whichever path the request takes to the policy.
	h.policy.SessionCookie = h.bypass.match
	h.ctx, h.cancel = context.WithCancel(context.Background())
	var prefix [5]byte
	_, _ = rand.Read(prefix[:])
	h.reqPrefix = hex.EncodeToString(prefix[:]) + "-"
	h.copyBufs.New = func() any { b := make([]byte, 64<<10); return &b }
	h.enc = newEncoders(runtime.GOMAXPROCS(0))
	h.compressor = opts.Compressor
	if h.compressor == nil {
		h.compressor, h.ownCompressor = NewCompressor(1), true
	}
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

// Close stops background refreshes and waits for them, and the
// Compressor unless it came in Options, then releases idle origin
// connections. It does not close Options.Cache.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.cancel()
	h.bg.Wait()
	if h.ownCompressor {
		h.compressor.Close()
	}
	if t, ok := h.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// canonicalHost lower-cases a host, drops its port and a trailing dot.
func canonicalHost(hostport string) string {
	if bareHost(hostport) {
		return hostport
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// bareHost reports whether hostport is a host name in canonical form
// already: no port, no brackets, no upper case, no trailing dot. Most
// requests' Host is, and it is looked at on every request.
func bareHost(hostport string) bool {
	if hostport == "" || hostport[len(hostport)-1] == '.' {
		return false
	}
	for i := 0; i < len(hostport); i++ {
		if c := hostport[i]; c == ':' || c == '[' || c == ']' || 'A' <= c && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return true
}
