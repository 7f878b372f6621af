package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/icpedge/icpedge/config"
)

// acmeChallengePrefix is where HTTP-01 challenges are fetched
// (RFC 8555 §8.3).
const acmeChallengePrefix = "/.well-known/acme-challenge/"

// edgeTLS is the instance's HTTPS setup for its tls.mode: the TLS config
// of the HTTPS listener, what the plain HTTP listener does, and the
// background work that keeps a certificate in place (ACME issuance and
// renewal, or watching the files of a manual pair).
type edgeTLS struct {
	// Config serves the HTTPS listener; nil when tls.mode is off.
	Config *tls.Config

	logger *slog.Logger
	hosts  map[string]bool
	// httpsPort is the port redirects point at; empty for 443.
	httpsPort string
	// hsts is the Strict-Transport-Security max-age; zero sends none.
	hsts time.Duration

	acme   *acmeCerts  // tls.mode acme
	manual *manualCert // tls.mode manual

	// now is the clock certificates' expiry is judged by.
	now func() time.Time
	// plain holds, per host, whether plain HTTP last served the site
	// for want of a certificate, so that each change is logged once.
	plain map[string]*atomic.Bool

	// stop ends what Start began; done is closed once it has.
	mu      sync.Mutex
	stop    context.CancelFunc
	done    chan struct{}
	started bool
}

// newEdgeTLS prepares HTTPS for cfg.TLS.Mode. In manual mode the pair is
// loaded here, so a missing or mismatched pair stops the start; in acme
// mode nothing touches the network until Start.
//
// storage keeps the ACME account, certificates, locks and challenges; nil
// is a certmagic.FileStorage in <state_dir>/certs (a single node).
func newEdgeTLS(_ context.Context, cfg *config.Config, logger *slog.Logger, storage certmagic.Storage) (*edgeTLS, error) {
	t := &edgeTLS{
		logger: logger,
		hosts:  make(map[string]bool, len(cfg.Hosts)),
		hsts:   cfg.TLS.HSTS,
		now:    time.Now,
		plain:  make(map[string]*atomic.Bool, len(cfg.Hosts)),
	}
	for _, h := range cfg.Hosts {
		t.hosts[h] = true
		t.plain[h] = new(atomic.Bool)
	}
	if port := portOfAddr(cfg.Listen.HTTPS); port != "443" && port != "0" {
		t.httpsPort = port
	}

	switch cfg.TLS.Mode {
	case "", "off":
		return t, nil
	case "acme":
		if cfg.Listen.HTTPS == "" {
			return nil, errors.New("tls.mode acme needs listen.https")
		}
		a, err := newACMECerts(cfg, logger, storage)
		if err != nil {
			return nil, err
		}
		t.acme = a
		t.Config = serverTLSConfig(a.magic.TLSConfig())
	case "manual":
		if cfg.Listen.HTTPS == "" {
			return nil, errors.New("tls.mode manual needs listen.https")
		}
		m, err := newManualCert(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.Hosts, logger)
		if err != nil {
			return nil, fileProblem(cfg, "tls.cert_file", err)
		}
		t.manual = m
		t.Config = serverTLSConfig(&tls.Config{GetCertificate: m.GetCertificate})
	default:
		return nil, fmt.Errorf("tls.mode %q: expected acme, manual or off", cfg.TLS.Mode)
	}
	return t, nil
}

// tls12Ciphers are the TLS 1.2 suites offered: forward-secret ECDHE with
// an AEAD only (RFC 7525 §4.2, as updated by RFC 9325 §4.2). TLS 1.3
// suites are not configurable in crypto/tls and are all AEAD. The list
// holds both AES-128-GCM suites that HTTP/2 requires (RFC 9113 §9.2.2).
var tls12Ciphers = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLSConfig hardens base for the HTTPS listener: TLS 1.2 or newer,
// AEAD suites, and h2 then http/1.1 offered by ALPN ahead of whatever base
// already offers (certmagic's acme-tls/1, which must stay for TLS-ALPN-01).
func serverTLSConfig(base *tls.Config) *tls.Config {
	c := base.Clone()
	c.MinVersion = tls.VersionTLS12
	c.CipherSuites = tls12Ciphers
	protos := []string{"h2", "http/1.1"}
	for _, p := range base.NextProtos {
		if p != "h2" && p != "http/1.1" {
			protos = append(protos, p)
		}
	}
	c.NextProtos = protos
	return c
}

// HTTPHandler wraps the edge for the plain HTTP listener. With tls.mode
// off it is the edge itself. Otherwise requests for this instance's hosts
// are redirected to HTTPS with 308, which keeps the method and body
// (RFC 9110 §15.4.9), once a certificate for the host is in place; until
// then (ACME still failing, a manual certificate that does not cover the
// host or has expired) the edge serves them over plain HTTP, so the site
// stays reachable, and the change is logged. ACME HTTP-01 challenges in
// acme mode are answered here; challenges for tokens this edge did not
// issue, and hosts that are not ours, go to the edge, which answers them
// as it would. Only a well-formed challenge path is exempt from the
// redirect (isACMEChallenge): anything else under the prefix, such as
// "/.well-known/acme-challenge/..%2f..%2fadmin", is redirected like any
// other path and never proxied over plain HTTP, certificate or not.
func (t *edgeTLS) HTTPHandler(next http.Handler) http.Handler {
	if t.Config == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isACMEChallenge(r) {
			if t.acme != nil && t.acme.issuer.HandleHTTPChallenge(w, r) {
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		host := requestHost(r.Host)
		if !t.hosts[host] {
			next.ServeHTTP(w, r)
			return
		}
		// Without a certificate the site is served here rather than
		// sent where it can't be served; a malformed challenge path is
		// not the site, and is redirected all the same.
		if !strings.HasPrefix(r.URL.Path, acmeChallengePrefix) && !t.notePlain(host, !t.hasCert(host)) {
			next.ServeHTTP(w, r)
			return
		}
		if t.httpsPort != "" {
			host = net.JoinHostPort(host, t.httpsPort)
		}
		target := "https://" + host + r.URL.RequestURI()
		w.Header().Set("Location", target)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusPermanentRedirect)
		if r.Method != http.MethodHead {
			fmt.Fprintln(w, "moved to", target)
		}
	})
}

// isACMEChallenge reports whether r asks for an HTTP-01 challenge:
// exactly the challenge prefix and a token of base64url characters
// (RFC 8555 §8.1 and §8.3), written without percent-encoding.
func isACMEChallenge(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.URL.Path, acmeChallengePrefix)
	if !ok || token == "" || r.URL.RawPath != "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// hasCert reports whether HTTPS can serve host: a certificate that covers
// it and has not expired is in place.
func (t *edgeTLS) hasCert(host string) bool {
	now := t.now()
	switch {
	case t.manual != nil:
		c := t.manual.cert.Load()
		return c != nil && c.Leaf != nil && c.Leaf.VerifyHostname(host) == nil && now.Before(c.Leaf.NotAfter)
	case t.acme != nil:
		for _, c := range t.acme.cache.AllMatchingCertificates(host) {
			if c.Leaf != nil && now.Before(c.Leaf.NotAfter) {
				return true
			}
		}
	}
	return false
}

// notePlain records whether plain HTTP serves host for want of a
// certificate, logging each change, and reports whether it may redirect.
func (t *edgeTLS) notePlain(host string, plain bool) (redirect bool) {
	if was := t.plain[host]; was != nil && was.Swap(plain) != plain {
		if plain {
			t.logger.Warn("no certificate for the host yet; serving it over plain HTTP instead of redirecting to HTTPS", "host", host,
				"fix", "see the certificate lines for this host; plain HTTP redirects to HTTPS once a certificate is in place")
		} else {
			t.logger.Info("certificate in place; plain HTTP redirects to HTTPS", "host", host)
		}
	}
	return !plain
}

// HTTPSHandler wraps the edge for the HTTPS listener, adding
// Strict-Transport-Security when tls.hsts is set. The header is only
// ever sent over HTTPS: over plain HTTP it must be ignored anyway and
// is not to be sent (RFC 6797 §7.2).
func (t *edgeTLS) HTTPSHandler(next http.Handler) http.Handler {
	if t.hsts <= 0 {
		return next
	}
	value := "max-age=" + strconv.FormatInt(int64(t.hsts/time.Second), 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", value)
		next.ServeHTTP(w, r)
	})
}

// Start begins obtaining and renewing certificates (acme) or watching the
// pair's files (manual) in the background, until ctx is done or Close is
// called. Call it once the listeners are up: TLS-ALPN-01 is answered by
// the HTTPS listener and HTTP-01 by the HTTP one.
func (t *edgeTLS) Start(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || (t.acme == nil && t.manual == nil) {
		return
	}
	t.started = true
	ctx, t.stop = context.WithCancel(ctx)
	t.done = make(chan struct{})
	// Owned by the site holding t: ends with ctx (Run's bg) or Close,
	// which waits for done.
	go func() {
		defer close(t.done)
		switch {
		case t.acme != nil:
			t.acme.run(ctx)
		case t.manual != nil:
			t.manual.watch(ctx, manualPollInterval)
		}
	}()
}

// Reload is what SIGHUP does. In manual mode it reloads the pair now,
// returning the error (and keeping the current certificate) if the new
// pair is unusable. In acme mode it retries at once any certificate not
// yet obtained, instead of waiting for the next backoff step; a retry
// that fails is logged as usual. With tls.mode off it does nothing.
func (t *edgeTLS) Reload() error {
	switch {
	case t.manual != nil:
		return t.manual.reload(true)
	case t.acme != nil:
		t.acme.retryNow()
	}
	return nil
}

// Close stops certificate maintenance and waits for the background work
// Start began to end.
func (t *edgeTLS) Close() {
	t.mu.Lock()
	stop, done := t.stop, t.done
	t.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	if t.acme != nil {
		t.acme.close()
	}
}

func tlsListener(ln net.Listener, c *tls.Config) net.Listener { return tls.NewListener(ln, c) }

// requestHost returns the host of a Host header in the form cfg.Hosts
// uses: lower-case, without port or trailing dot.
func requestHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// portOfAddr returns the port of a listen address such as ":443", or ""
// when addr is empty or has none.
func portOfAddr(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return port
}
