package proxy

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

// Options configure a Handler. Zero values mean the documented default.
type Options struct {
	// Hosts are the host names served (lower-case, no port). Requests for
	// any other host get 421 and never reach the origin. Required.
	Hosts []string
	// Origin is the client's origin (scheme, host, optional port and path
	// prefix). Required.
	Origin *url.URL
	// OriginHost is the Host header and TLS SNI sent to the origin.
	// Default: Origin.Hostname().
	OriginHost string
	// Rewrite holds the notice and the origin's own host names.
	Rewrite rewrite.Options
	// TrustedProxies are peers whose X-Forwarded-For is extended rather
	// than replaced. Default: none.
	TrustedProxies []netip.Prefix
	// ConnectTimeout bounds dialling and the TLS handshake with the origin.
	// Default 5s.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for the origin's response headers.
	// Default 60s.
	ResponseTimeout time.Duration
	// OriginIdleTimeout is the longest the origin may keep the edge
	// waiting for the next piece of a response body. Past it the
	// transfer fails as a timeout: a cache fill falls back to a stale
	// copy, a response being streamed is cut off. WebSocket tunnels are
	// exempt. Default 30s.
	OriginIdleTimeout time.Duration
	// MaxHTMLSize is the largest HTML body buffered for rewriting, in bytes.
	// Default 8 MiB.
	MaxHTMLSize int64
	// PassOversize passes HTML over MaxHTMLSize through unchanged (with a
	// warning) instead of injecting the notice while streaming.
	PassOversize bool
	// RootCAs verifies the origin's certificate. Nil means the system roots.
	RootCAs *x509.CertPool
	// Transport reaches the origin. Default: a transport built from the
	// timeouts above that verifies the origin's certificate for OriginHost
	// against RootCAs.
	Transport http.RoundTripper
	// Cache stores responses. Nil turns caching off: every request goes
	// to the origin. The Handler does not close it.
	Cache *cache.Store
	// CachePolicy is the caching policy on top of RFC 9111: forced TTLs
	// and the stale-if-error and stale-while-revalidate windows.
	CachePolicy cache.Policy
	// BypassCookies are glob patterns ("*" any run, "?" one character,
	// case-sensitive) of cookie names that mark a visitor's own
	// session: a request carrying one is never answered from the cache
	// and its response never stored. Nil means DefaultBypassCookies; an
	// empty, non-nil slice bypasses for no cookie.
	BypassCookies []string
	// BypassPaths are globs on the request path (canonical), in the
	// language of BlockRule.Path, whose requests are neither answered
	// from the cache nor stored. Default none.
	BypassPaths []string
	// BypassQueries are query parameters, "name" (any value) or
	// "name=value", compared after percent-decoding, whose requests are
	// neither answered from the cache nor stored. Default none.
	BypassQueries []string
	// MaxCacheObject is the largest non-HTML body, in bytes, buffered to
	// be stored; larger responses stream through unstored. Default 16 MiB.
	MaxCacheObject int64
	// Budget bounds the memory of buffered bodies; see Budget. Share one
	// among every Handler of a process. Nil: a Budget of
	// DefaultBufferMemory for this Handler alone.
	Budget *Budget
	// Compressor makes the compressed variants of stored responses in
	// the background; see Compressor. Share one among every Handler of a
	// process. Nil: a Compressor for this Handler alone, closed by Close.
	Compressor *Compressor
	// SpoolDir is where bodies that are not kept in memory are written
	// while they wait: request bodies over 64 KiB, and what was buffered
	// of a response that turned out too large to buffer whole. The files
	// are unlinked as soon as they are made. Default: os.TempDir().
	SpoolDir string
	// RequestBodyTimeout is the longest a visitor's request body may go
	// without sending anything; past it the request is answered 408.
	// Default 30s.
	RequestBodyTimeout time.Duration
	// MaxRequestBody is the largest request body, in bytes; a larger one
	// is answered 413. Default 64 MiB.
	MaxRequestBody int64
	// EarlyHintsMaxAge is the oldest a stored page may be (its age, RFC
	// 9111 §4.2.3) for the style sheets, scripts and preloads it loads
	// from the edge's own host to be sent as 103 Early Hints while it is
	// fetched again. Default 24h; negative sends none.
	EarlyHintsMaxAge time.Duration
	// Block is the content policy: a successful origin response matching
	// any rule is answered 451 and never stored; rules on the path alone
	// are applied before the origin is asked. Nil blocks nothing. See
	// DefaultBlockRules.
	Block []BlockRule
	// Landing, when set, serves its host a built-in landing page instead
	// of the origin's site (an apex in landing mode). Its host is served
	// whether or not Hosts lists it. Nil: no landing page.
	Landing *Landing
	// Metrics counts requests and origin fetches. Nil records nothing.
	// The Handler does not register or unregister anything.
	Metrics *Metrics
	// Observer, when set, is told of every response, origin request and
	// cache store, for figures kept outside Prometheus (the admin status
	// page's last hour). Nil: none.
	Observer Observer
	// AccessLog receives the one line per request. Default: Logger.
	AccessLog *slog.Logger
	// Logger receives the access log and errors. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// withDefaults returns o with the documented default in every field left
// at zero.
func (o Options) withDefaults() Options {
	if o.OriginHost == "" {
		o.OriginHost = o.Origin.Hostname()
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = defaultResponseTimeout
	}
	if o.OriginIdleTimeout <= 0 {
		o.OriginIdleTimeout = defaultOriginIdle
	}
	if o.BypassCookies == nil {
		o.BypassCookies = DefaultBypassCookies()
	}
	if o.MaxHTMLSize <= 0 {
		o.MaxHTMLSize = defaultMaxHTMLSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AccessLog == nil {
		o.AccessLog = o.Logger
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Rewrite.RewriteHosts) == 0 {
		o.Rewrite.RewriteHosts = []string{o.OriginHost}
	}
	if o.Rewrite.Notice.Police != "" && o.Rewrite.Notice.PoliceBadgeURL == "" {
		o.Rewrite.Notice.PoliceBadgeURL = badgePath
	}
	if o.MaxCacheObject <= 0 {
		o.MaxCacheObject = defaultMaxCacheObject
	}
	if o.Budget == nil {
		o.Budget = NewBudget(DefaultBufferMemory)
	}
	if o.RequestBodyTimeout <= 0 {
		o.RequestBodyTimeout = defaultRequestBodyTimeout
	}
	if o.MaxRequestBody <= 0 {
		o.MaxRequestBody = defaultMaxRequestBody
	}
	if o.EarlyHintsMaxAge == 0 {
		o.EarlyHintsMaxAge = defaultEarlyHintsMaxAge
	}
	return o
}
