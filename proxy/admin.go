package proxy

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
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
}

// Admin returns the admin API for h:
//
//	GET  /healthz                 200 "ok" while the process runs (no token)
//	GET  /readyz                  200 once ready, else 503 (no token)
//	POST /purge?url=URL           drop every stored variant of one URL or path
//	POST /purge?prefix=/path/     drop every URL under a path prefix
//	POST /purge?all=1             drop everything
//	GET  /metrics                 Prometheus metrics, when AdminOptions.Metrics is set
//	GET  /                        the HTML status page, when AdminOptions.Status is set
//	GET  /status                  a page of figures for people, when AdminOptions.Stats is set
//	POST /reload                  reload the config, when AdminOptions.Reload is set
//
// Every request but /healthz, /readyz and the status page (which takes
// the token or its own cookie) carries "Authorization: Bearer <token>";
// without it the answer is 401 and nothing changes. A purge answers
// {"purged": N}. Every request whose Host is neither a loopback name nor
// an IP address gets 421 (see adminHost).
func (h *Handler) Admin(opts AdminOptions) http.Handler {
	if opts.Purge == nil {
		opts.Purge = func(p Purge, _ string) (int, error) { return h.Purge(p) }
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
		w.Write([]byte("ready\n"))
	})
	mux.Handle("POST /purge", requireToken(opts.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p := Purge{URL: q.Get("url"), Prefix: q.Get("prefix"), All: q.Get("all") == "1" || q.Get("all") == "true"}
		if opts.Purge == nil {
			http.Error(w, "purge is not available", http.StatusNotImplemented)
			return
		}
		n, err := opts.Purge(p, q.Get("host"))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		logger.Info("cache purged", "url", p.URL, "prefix", p.Prefix, "all", p.All, "entries", n, "remote", r.RemoteAddr)
		json.NewEncoder(w).Encode(map[string]int{"purged": n})
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !adminHost(r.Host) {
			logger.Warn("admin request refused: Host is not a loopback name or an IP address", "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, "the admin API answers requests for a loopback name or an IP address only", http.StatusMisdirectedRequest)
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
