package config

import (
	"net/netip"
	"net/url"
	"time"
)

// Config is one client instance, as loaded from its YAML file. Every field is
// filled: defaults are applied by Load, so callers never see a zero that
// means "the default". Where a zero remains (an empty Listen.HTTP, a nil
// EAB), it means "off" or "none", as documented on the field. Paths are
// absolute after Load; after Parse they are relative if its name was.
type Config struct {
	// File is the path given to Load, or the name given to Parse.
	File string

	// Hosts are the host names this instance serves (key hosts): DNS
	// names, lower-case, without port, scheme or wildcard, and not IP
	// addresses. Internationalised names are held in their xn-- form, as
	// they arrive in the Host header. At least one, no duplicates. Load
	// appends Apex.Host when an apex is configured.
	Hosts []string
	// Origin is the client's origin (key origin): an absolute http or https
	// URL with a lower-case host, an optional port and an optional path
	// prefix without a trailing slash. Never user info, query or fragment.
	Origin *url.URL
	// OriginHost is the Host header and TLS SNI sent to the origin
	// (key origin_host): a host name or IP address, without port.
	// Default: Origin.Hostname().
	OriginHost string
	// OriginCA is an optional PEM file of roots that verify the origin's
	// certificate instead of the system roots, for private origins
	// (key origin_ca). Relative to the config file's directory.
	OriginCA string
	// RewriteHosts are the origin's own host names or IP addresses, which
	// the edge replaces with itself in HTML and headers
	// (key rewrite_hosts). Default: [OriginHost]. Empty (not nil) when the
	// file says [], meaning rewrite nothing.
	RewriteHosts []string
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// (key trusted_proxies). A single address becomes a /32 or /128.
	// Default: none, so a client-sent X-Forwarded-For is replaced.
	TrustedProxies []netip.Prefix

	Listen Listen
	// StateDir holds certificates, the cache and the admin token
	// (key state_dir). Default /var/lib/icpedge/<file name without .yaml
	// or .yml>.
	StateDir string

	Notice   Notice
	Timeouts Timeouts
	HTML     HTML
	Limits   Limits
	Localize Localize // key localize; see localize.go
	Log      Log
	Cache    Cache
	Admin    Admin
	TLS      TLS
	Apex     Apex   // key apex; see compliance.go
	Policy   Policy // key policy
	Check    Check  // key check
	// Cluster is nil for a single node (no key cluster); see cluster.go.
	Cluster *Cluster

	// lines holds the line of each key given in the file (see Line).
	lines map[string]int
}

// Line returns the line of the file on which key (a dotted path such as
// "origin_ca" or "tls.cert_file") was given, so that a problem found
// later, when a named file is opened, can point at it; 1 when the key was
// not given (its default applies) or c was not made by Load or Parse.
func (c *Config) Line(key string) int {
	if l := c.lines[key]; l > 0 {
		return l
	}
	return 1
}

// Listen holds the listener addresses, host:port or :port with a numeric
// port (0 picks a free port, for tests). An empty address turns that
// listener off; at least one is on.
type Listen struct {
	HTTP  string // key listen.http, e.g. ":80"
	HTTPS string // key listen.https, e.g. ":443"; requires tls.mode acme or manual
}

// Notice is the ICP notice injected into every HTML page.
type Notice struct {
	ICP      string // key notice.icp, e.g. 京ICP备12345678号-1 or 京ICP证123456号
	Company  string // key notice.company, optional
	Police   string // key notice.police, optional, e.g. 京公网安备11010502012345号
	Selector string // key notice.selector, optional CSS selector
}

// Timeouts bound the edge's conversations with the origin and visitors.
type Timeouts struct {
	// Connect bounds dialling the origin, TLS handshake included
	// (key timeouts.connect). Default 5s.
	Connect time.Duration
	// Response bounds the wait for the origin's response headers
	// (key timeouts.response). Default 60s.
	Response time.Duration
	// OriginIdle is the longest the origin may pause while sending a
	// response body (key timeouts.origin_idle). Default 30s.
	OriginIdle time.Duration
	// Shutdown is the grace period for in-flight requests on SIGTERM
	// (key timeouts.shutdown). Default 30s.
	Shutdown time.Duration
	// RequestBody is the longest a visitor's request body may go without
	// sending anything; past it the request is answered 408
	// (key timeouts.request_body). Default 30s.
	RequestBody time.Duration
}

// Limits bound what visitors can make the edge hold.
type Limits struct {
	// BufferMemory bounds the memory of bodies buffered at once (pages
	// being rewritten, bodies being stored, request bodies), for the
	// whole process (key limits.buffer_memory). Past it responses stream
	// instead. More than zero. Default 64 MiB. With serve --config-dir
	// the process's --buffer-memory applies instead.
	BufferMemory int64
	// RequestBody is the largest request body accepted; a larger one is
	// answered 413 (key limits.request_body). More than zero.
	// Default 64 MiB.
	RequestBody int64
}

// HTML controls rewriting of HTML pages.
type HTML struct {
	// MaxSize is the largest HTML body buffered for a full rewrite, in bytes
	// (key html.max_size). Default 8 MiB.
	MaxSize int64
	// Oversize says what happens to HTML over MaxSize (key html.oversize):
	// "stream" injects the notice before the last </body> while streaming,
	// "pass" passes the page through unchanged with a warning.
	// Default "stream".
	Oversize string
}

// Log configures logging.
type Log struct {
	Format string // key log.format: "text" (default) or "json"
	Level  string // key log.level: debug, info (default), warn, error
	// AccessFile is an optional file for the access log, besides stderr
	// (key log.access_file). Reopened on SIGHUP.
	AccessFile string
}

// Cache configures the shared HTTP cache.
type Cache struct {
	// Enabled turns the cache on (key cache.enabled). Default true.
	Enabled bool
	// Dir holds the cache files (key cache.dir). Default <state_dir>/cache.
	Dir string
	// MaxSize bounds the bytes on disk (key cache.max_size), more than
	// zero. Default 1 GiB.
	MaxSize int64
	// Memory bounds the bytes of hot entries kept in memory
	// (key cache.memory). Default 16 MiB; 0 keeps none in memory.
	Memory int64
	// StaleIfError is how long past freshness a stored response may be
	// served when the origin fails (key cache.stale_if_error). Default 7d.
	StaleIfError time.Duration
	// StaleWhileRevalidate is how long past freshness a stored response is
	// served while one background refresh runs
	// (key cache.stale_while_revalidate). Default 0: only when the origin
	// says so.
	StaleWhileRevalidate time.Duration
	// BypassCookies are glob patterns of cookie names ("*" any run, "?"
	// one character, case-sensitive) that mark a logged-in visitor: a
	// request carrying one is neither answered from the cache nor stored
	// (key cache.bypass_cookies). Default DefaultBypassCookies(); empty
	// (not nil) when the file says [], meaning none.
	BypassCookies []string
	// BypassPaths are globs on the request path, in the language of
	// policy.block[].path, whose requests are neither answered from the
	// cache nor stored (key cache.bypass_paths). Default none.
	BypassPaths []string
	// BypassQueries are query parameters, "name" (any value) or
	// "name=value", whose requests are neither answered from the cache
	// nor stored (key cache.bypass_queries). Default none.
	BypassQueries []string
	// Preset names a bundle of the settings above and a rule for a kind
	// of origin (key cache.preset): "wordpress", or "" for none. The
	// proxy expands it, adding to what the file sets.
	Preset string
	// PresetTTL is the freshness the preset forces on anonymous HTML pages
	// (key cache.preset_ttl). Default 5m with a preset; 0 without.
	PresetTTL time.Duration
	// Rules force a TTL by path prefix (key cache.rules).
	Rules []CacheRule
	// Targeted names a targeted cache field (RFC 9213) the edge obeys
	// before CDN-Cache-Control, in canonical form (key cache.targeted).
	// Default none: CDN-Cache-Control alone.
	Targeted string
	// EarlyHintsMaxAge is the oldest a stored page may be for its
	// sub-resources to be sent as 103 Early Hints while it is fetched
	// again (key cache.early_hints_max_age). Default 1d; 0 sends none.
	EarlyHintsMaxAge time.Duration
}

// DefaultBypassCookies returns the default of cache.bypass_cookies: the
// session cookies of common site software, and none of the analytics or
// consent cookies that ride on nearly every request. A fresh slice on
// each call.
func DefaultBypassCookies() []string {
	return []string{
		"wordpress_logged_in_*", "wordpress_sec_*", "wp-postpass_*", "comment_author_*",
		"woocommerce_*", "wp_woocommerce_session_*", "edd_items_in_cart",
		"SESS*", "SSESS*",
		"PHPSESSID", "JSESSIONID", "ASP.NET_SessionId", "laravel_session", "ci_session",
		"sessionid", "_session_id", "connect.sid",
	}
}

// CacheRule forces a freshness lifetime on responses under a path prefix.
type CacheRule struct {
	Path string // key cache.rules[].path, a prefix beginning with "/"
	// Type limits the rule to responses of a media type, lower-case, or a
	// top-level type with "/*" (key cache.rules[].type). Empty: any.
	Type string
	TTL  time.Duration // key cache.rules[].ttl, more than zero
	// OverridePrivate lets the rule store responses marked private or
	// no-store too (key cache.rules[].override: private).
	OverridePrivate bool
}

// Admin configures the admin listener (purge, health, metrics).
type Admin struct {
	// Listen is the admin address (key admin.listen). Default
	// "127.0.0.1:9080". An empty value in the file ("" or nothing) turns
	// it off, and then Listen is "".
	Listen string
	// TokenFile holds the bearer token (key admin.token_file).
	// Default <state_dir>/admin.token, created on first start.
	TokenFile string
}

// TLS configures HTTPS.
type TLS struct {
	// Mode is "acme", "manual" or "off" (key tls.mode). Default "acme"
	// when listen.https is set, else "off".
	Mode  string
	Email string // key tls.email, a bare address given to the CA (acme mode); optional
	// CA is the ACME directory URL (key tls.ca): https, or http on a
	// loopback host for a test CA. Default DefaultCA (Let's Encrypt
	// production) in acme mode; empty in the other modes.
	CA       string
	CARoot   string // key tls.ca_root, PEM file of roots to trust for CA; default the system roots
	EAB      *EAB   // key tls.eab; nil when not given
	CertFile string // key tls.cert_file (manual mode)
	KeyFile  string // key tls.key_file (manual mode)
	// HSTS is the Strict-Transport-Security max-age (key tls.hsts).
	// Zero means no HSTS header.
	HSTS time.Duration
	// Challenges are the ACME challenge types the CA may use to check
	// that the edge answers for a host (key tls.challenges, acme mode):
	// "http-01" (the CA connects to port 80) and "tls-alpn-01" (port
	// 443). Leave one out when its port cannot reach this host.
	// Default: both when listen.http is set, else [tls-alpn-01].
	Challenges []string
}

// EAB is external account binding for CAs such as ZeroSSL.
type EAB struct {
	KeyID   string // key tls.eab.key_id
	HMACKey string // key tls.eab.hmac_key, base64url as the CA gives it (not decoded)
}
