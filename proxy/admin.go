package proxy

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// AdminOptions configure the admin API.
type AdminOptions struct {
	// Token is the bearer token every state-changing or revealing request
	// must carry. Required: an empty token refuses everything but
	// /healthz.
	Token string
	// Ready reports whether the instance is ready to serve (config loaded,
	// listeners up), for /readyz. Nil means always ready.
	Ready func() bool
	// Logger receives one line per purge. Default: discard.
	Logger *slog.Logger
	// Purge removes entries for POST /purge; host is the request's host
	// parameter ("" for none), which a process serving several clients
	// uses to pick one. Nil purges the Handler's own cache; NewAdmin
	// without it answers every purge with 501.
	Purge func(p Purge, host string) (int, error)
	// Metrics serves GET /metrics (token required). Nil: 404.
	Metrics http.Handler
	// Status serves the HTML status page at / (GET and HEAD, and POST
	// for its sign-in form). It checks the token itself, since a browser
	// signs in with a cookie. Nil: 404.
	Status http.Handler
	// Stats are the figures GET /status shows (token required). Nil:
	// 404.
	Stats *Metrics
	// Reload serves POST /reload (token required): the process re-reads
	// its config and answers with the outcome. Nil: 404.
	Reload http.Handler
	// Site reports whether a host name (lower-case, no port) is one this
	// process serves or one of its origins' own names. A purge request
	// (PURGE, GET /purge/…) whose Host names one passes the Host check,
	// as the purge plugins send the site's name; a rebinding page's name
	// is never one of them. Nil: none.
	Site func(host string) bool
	// Spread, when set, passes a purge that Purge applied here on to the
	// other nodes serving the same clients, and returns the nodes that
	// have applied it, this one included; the answer lists them as
	// "nodes". An error (the nodes' shared store unreachable) answers 503
	// with the count purged here and the error: the purge reached this
	// node only. Nil, or no nodes and no error: the answer is
	// {"purged": N} alone.
	Spread func(ctx context.Context, p Purge, host string) (nodes []string, err error)
	// Degraded, when set, says why the instance serves in a degraded way
	// ("" when it does not); /readyz still answers 200, with the reason,
	// since the instance serves (a health check must not take every node
	// out of a load balancer because what they share failed).
	Degraded func() string
	// Routes are further GET routes behind the token, by path
	// ("/cluster").
	Routes map[string]http.Handler
}

// maxPurgeBody bounds the body of a purge request: a form or a JSON
// object naming URLs.
const maxPurgeBody = 64 << 10

// Admin returns the admin API for h:
//
//	GET  /healthz                 200 "ok" while the process runs (no token)
//	GET  /readyz                  200 once ready, else 503 (no token)
//	POST /purge?url=URL           drop every stored variant of one URL or path
//	POST /purge?prefix=/path/     drop every URL under a path prefix
//	POST /purge?all=1             drop everything
//	POST /purge                   the same, named in a form or JSON body
//	PURGE /path?query             one URL, or with X-Purge-Method: regex and a
//	                              path ending in .*, every URL under it (the
//	                              request WordPress's Proxy Cache Purge and
//	                              Varnish HTTP Purge send)
//	GET  /purge/path?query        one URL (ngx_cache_purge's form, which
//	                              Nginx Helper sends)
//	GET  /metrics                 Prometheus metrics, when AdminOptions.Metrics is set
//	GET  /                        the HTML status page, when AdminOptions.Status is set
//	GET  /status                  a page of figures for people, when AdminOptions.Stats is set
//	POST /reload                  reload the config, when AdminOptions.Reload is set
//
// Every request but /healthz, /readyz and the status page (which takes
// the token or its own cookie) carries "Authorization: Bearer <token>";
// without it the answer is 401 and nothing changes. A purge answers
// {"purged": N}. A PURGE's Host names the site, as the plugins send it (an
// edge host, or the origin's own name): it is passed to
// AdminOptions.Purge as the host. Every other request whose Host is
// neither a loopback name nor an IP address gets 421 (see adminHost).
func (h *Handler) Admin(opts AdminOptions) http.Handler {
	if opts.Purge == nil {
		opts.Purge = func(p Purge, _ string) (int, error) { return h.Purge(p) }
	}
	if opts.Site == nil {
		opts.Site = func(host string) bool { return slices.Contains(h.opts.Hosts, host) || h.rewriteHosts[host] }
	}
	return NewAdmin(opts)
}

// NewAdmin returns the admin API of Admin for a process whose handlers
// change (reloads) or are several (one per client): opts.Purge decides
// which caches a purge reaches. GET /metrics serves opts.Metrics, with
// the token, like a purge.
func NewAdmin(opts AdminOptions) http.Handler {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if opts.Ready != nil && !opts.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready\n"))
			return
		}
		if opts.Degraded != nil {
			if why := opts.Degraded(); why != "" {
				w.Write([]byte("ready, degraded: " + why + "\n"))
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
	// purge runs the purges a request names, and answers for them all.
	purge := func(w http.ResponseWriter, r *http.Request, purges []Purge, host string, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err == nil && opts.Purge == nil {
			http.Error(w, "purge is not available", http.StatusNotImplemented)
			return
		}
		total := 0
		for _, p := range purges {
			if err != nil {
				break
			}
			var n int
			n, err = opts.Purge(p, host)
			total += n
			if err == nil {
				logger.Info("cache purged", "url", p.URL, "prefix", p.Prefix, "all", p.All, "host", host, "entries", n, "remote", r.RemoteAddr)
			}
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		// In a cluster, the other nodes apply them too; the answer lists
		// the nodes that applied every one.
		var (
			nodes     []string
			spreadErr error
		)
		for i, p := range purges {
			if opts.Spread == nil {
				break
			}
			ns, err := opts.Spread(r.Context(), p, host)
			if err != nil {
				logger.Warn("purge not spread to every node", "url", p.URL, "prefix", p.Prefix, "all", p.All, "err", err)
				spreadErr = errors.Join(spreadErr, err)
			}
			if i == 0 {
				nodes = ns
			} else {
				nodes = slices.DeleteFunc(nodes, func(n string) bool { return !slices.Contains(ns, n) })
			}
		}
		if nodes == nil && spreadErr == nil {
			json.NewEncoder(w).Encode(map[string]int{"purged": total})
			return
		}
		answer := map[string]any{"purged": total, "nodes": nodes}
		if spreadErr != nil {
			answer["error"] = spreadErr.Error()
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(answer)
	}
	mux.Handle("POST /purge", requireToken(opts.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		purges, host, err := postedPurges(w, r)
		purge(w, r, purges, host, err)
	})))
	// PURGE is served beside the mux, not in it: a pattern "PURGE /"
	// would match every path, and turn the 404 of an unknown path into a
	// 405 for every other method.
	varnish := requireToken(opts.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := varnishPurge(r)
		purge(w, r, []Purge{p}, siteHost(r.Host), err)
	}))
	mux.Handle("GET /purge/", requireToken(opts.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := strings.TrimPrefix(r.URL.EscapedPath(), "/purge")
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		purge(w, r, []Purge{{URL: target}}, siteHost(r.Host), nil)
	})))
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", requireToken(opts.Token, opts.Metrics))
	}
	if opts.Status != nil {
		mux.Handle("GET /{$}", opts.Status)
		mux.Handle("POST /{$}", opts.Status)
	}
	if opts.Stats != nil {
		mux.Handle("GET /status", requireToken(opts.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			writeStatus(w, opts.Stats.Compression())
		})))
	}
	if opts.Reload != nil {
		mux.Handle("POST /reload", requireToken(opts.Token, opts.Reload))
	}
	for path, h := range opts.Routes {
		mux.Handle("GET "+path, requireToken(opts.Token, h))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !adminHost(r.Host) && !(purgeRequest(r) && opts.Site != nil && opts.Site(siteHost(r.Host))) {
			logger.Warn("admin request refused: Host is not a loopback name or an IP address", "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, "the admin API answers requests for a loopback name or an IP address only", http.StatusMisdirectedRequest)
			return
		}
		if r.Method == "PURGE" {
			varnish.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// adminHost reports whether a request's Host may reach the admin API: an
// IP address, localhost or a name under .localhost (RFC 6761 §6.3), with
// any port, or none (HTTP/1.0). Any other name means a browser was
// pointed at the listener through DNS it does not control (DNS
// rebinding: a page on evil.example whose name now resolves to
// 127.0.0.1), so its script must not get answers.
func adminHost(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// purgeRequest reports whether r is one of the purge requests the purge
// plugins send with the site's name in Host.
func purgeRequest(r *http.Request) bool {
	return r.Method == "PURGE" || r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/purge/")
}

// requireToken lets through only requests with the bearer token.
func requireToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r.Header.Get("Authorization"))
		if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="icpedge"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <token from admin.token_file>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an Authorization header of the Bearer
// scheme. The scheme is matched without regard to case and is followed
// by one or more spaces (RFC 9110 §11.1, §11.4; RFC 6750 §2.1).
func bearer(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok := strings.TrimLeft(rest, " ")
	return tok, tok != ""
}

// writeStatus writes the status page: bytes sent by encoding, and what
// compression saved.
func writeStatus(w io.Writer, st CompressionStats) {
	var total int64
	for _, n := range st.Sent {
		total += n
	}
	fmt.Fprintf(w, "bytes sent: %d (identity %d, gzip %d, br %d, other %d)\n",
		total, st.Sent["identity"], st.Sent["gzip"], st.Sent["br"], st.Sent["other"])
	fmt.Fprintf(w, "compression saved: %d bytes, %.1f%% of what the compressed responses would have taken uncompressed\n",
		st.Saved, 100*st.Ratio)
	fmt.Fprintf(w, "background compression: %.3fs CPU\n", st.CompressCPU.Seconds())
}

// postedPurges reads what a POST /purge names: url (repeatable), prefix
// and all, in the query or a form body, or a JSON body
// {"url": ..., "urls": [...], "prefix": ..., "all": true}; host picks a
// client, as the host parameter or field.
func postedPurges(w http.ResponseWriter, r *http.Request) (purges []Purge, host string, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPurgeBody)
	if mediaType(r.Header.Get("Content-Type")) == "application/json" {
		var body struct {
			URL    string   `json:"url"`
			URLs   []string `json:"urls"`
			Prefix string   `json:"prefix"`
			All    bool     `json:"all"`
			Host   string   `json:"host"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, "", fmt.Errorf("reading the JSON body: %w; expected {\"url\": URL}, {\"urls\": [...]}, {\"prefix\": PATH} or {\"all\": true}", err)
		}
		host = body.Host
		if r.URL.Query().Has("host") {
			host = r.URL.Query().Get("host")
		}
		for _, u := range append([]string{body.URL}, body.URLs...) {
			if u != "" {
				purges = append(purges, Purge{URL: u})
			}
		}
		if body.Prefix != "" || body.All || len(purges) == 0 {
			purges = append(purges, Purge{Prefix: body.Prefix, All: body.All})
		}
		return purges, host, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, "", fmt.Errorf("reading the form: %w", err)
	}
	for _, u := range r.Form["url"] {
		purges = append(purges, Purge{URL: u})
	}
	all := r.Form.Get("all") == "1" || r.Form.Get("all") == "true"
	if prefix := r.Form.Get("prefix"); prefix != "" || all || len(purges) == 0 {
		purges = append(purges, Purge{Prefix: prefix, All: all})
	}
	return purges, r.Form.Get("host"), nil
}

// varnishPurge reads a PURGE request as Varnish's purge plugins send it:
// the URL to purge is the request target; "X-Purge-Method: regex" with a
// path ending in ".*" purges every URL under the path before it. Other
// regular expressions are refused rather than guessed at.
func varnishPurge(r *http.Request) (Purge, error) {
	target := r.URL.EscapedPath()
	if target == "" {
		target = "/"
	}
	if !strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Purge-Method")), "regex") {
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		return Purge{URL: target}, nil
	}
	prefix, ok := strings.CutSuffix(target, ".*")
	if !ok || strings.ContainsAny(prefix, `*+?()[]{}|^$\`) || r.URL.RawQuery != "" {
		return Purge{}, fmt.Errorf("purge regex %q: only a path followed by .* is understood (everything under the path)", target)
	}
	if prefix == "/" {
		return Purge{All: true}, nil
	}
	return Purge{Prefix: prefix}, nil
}

// siteHost is the host a PURGE names in its Host header, without port;
// "" for an IP address or loopback name, which name the admin listener
// rather than a site.
func siteHost(hostport string) string {
	host := canonicalHost(hostport)
	if _, err := netip.ParseAddr(host); err == nil || host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "" {
		return ""
	}
	return host
}
