package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/caddyserver/certmagic"
	"github.com/icpedge/icpedge/config"
	"github.com/mholt/acmez/v3/acme"
)

// The ACME challenge types tls.challenges may list (RFC 8555 §8.3,
// RFC 8737).
const (
	challengeHTTP01    = "http-01"
	challengeTLSALPN01 = "tls-alpn-01"
)

// acmeCerts obtains and renews the certificates of an instance's hosts
// from an ACME CA with certmagic, keeping them under <state_dir>/certs.
type acmeCerts struct {
	logger *slog.Logger
	hosts  []string
	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	// retry asks run to start management over, so that certificates not
	// yet obtained are tried now rather than at the next backoff step.
	retry chan struct{}
	// lastErr is the last failed attempt's reason (a string), "" once
	// one succeeds: the admin status page shows it.
	lastErr atomic.Value
}

func newACMECerts(cfg *config.Config, logger *slog.Logger, storage certmagic.Storage) (*acmeCerts, error) {
	t := cfg.TLS
	a := &acmeCerts{
		logger: logger,
		hosts:  slices.Clone(cfg.Hosts),
		retry:  make(chan struct{}, 1),
	}

	var roots *x509.CertPool
	if t.CARoot != "" {
		pem, err := os.ReadFile(t.CARoot)
		if err != nil {
			return nil, fileProblem(cfg, "tls.ca_root", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fileProblem(cfg, "tls.ca_root", fmt.Errorf("%s holds no PEM certificate; expected one or more CERTIFICATE blocks", t.CARoot))
		}
	}

	httpOn, alpnOn := challengesOn(t.Challenges)
	if cfg.Listen.HTTP == "" {
		// Nothing of ours answers on port 80, and certmagic would try to
		// bind it itself.
		httpOn = false
	}
	if !httpOn && !alpnOn {
		return nil, errors.New("tls.challenges: no ACME challenge can be answered: http-01 needs listen.http, tls-alpn-01 must not be left out")
	}

	zl := newZapLogger(logger)
	// The cache calls back for the config of a certificate it renews;
	// there is only one, set just below.
	var magic atomic.Pointer[certmagic.Config]
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) {
			return magic.Load(), nil
		},
		Logger: zl,
	})
	if storage == nil {
		storage = &certmagic.FileStorage{Path: filepath.Join(cfg.StateDir, "certs")}
	}
	// With a cluster's storage, certmagic's distributed solving (on by
	// default) lets any node answer a challenge of an order another node
	// started: the challenge data is in the shared storage.
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage: storage,
		OnEvent: a.onEvent,
		Logger:  zl,
	})
	magic.Store(a.magic)

	// Challenge solvers try to bind the challenge port themselves and,
	// finding it taken, assume the taker answers. Naming our own listeners
	// exactly makes that collision certain: the challenges are then answered
	// by HTTPHandler (HTTP-01) and by the HTTPS listener's GetCertificate
	// (TLS-ALPN-01), whatever ports the CA itself connects to.
	listenHost, httpPort := splitListen(cfg.Listen.HTTP)
	httpsHost, tlsPort := splitListen(cfg.Listen.HTTPS)
	if cfg.Listen.HTTP == "" {
		listenHost = httpsHost
	}
	var eab *acme.EAB
	if t.EAB != nil {
		eab = &acme.EAB{KeyID: t.EAB.KeyID, MACKey: t.EAB.HMACKey}
	}
	a.issuer = certmagic.NewACMEIssuer(a.magic, certmagic.ACMEIssuer{
		CA:                      t.CA,
		Email:                   t.Email,
		Agreed:                  true,
		ExternalAccount:         eab,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    !httpOn,
		DisableTLSALPNChallenge: !alpnOn,
		ListenHost:              listenHost,
		AltHTTPPort:             httpPort,
		AltTLSALPNPort:          tlsPort,
		Logger:                  zl,
	})
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// challengesOn reports which challenge types tls.challenges allows; an
// empty list allows both.
func challengesOn(list []string) (http01, tlsALPN01 bool) {
	if len(list) == 0 {
		return true, true
	}
	return slices.Contains(list, challengeHTTP01), slices.Contains(list, challengeTLSALPN01)
}

// splitListen splits a listen address into its host and numeric port;
// the port is 0 when addr is empty or its port is not a number.
func splitListen(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

// run manages the certificates until ctx is done. certmagic retries a
// failed issuance with its own backoff (1m, 2m, 2m, 5m, 10m … up to a
// day apart, for 30 days) and renews from the cache's maintenance loop.
func (a *acmeCerts) run(ctx context.Context) {
	for {
		mctx, cancel := context.WithCancel(ctx)
		// ManageAsync returns at once; its errors come before any ACME
		// exchange, and the work it starts ends when mctx does.
		if err := a.magic.ManageAsync(mctx, a.hosts); err != nil {
			a.logger.Error("certificate management not started", "hosts", a.hosts, "err", err)
		}
		select {
		case <-ctx.Done():
			cancel()
			return
		case <-a.retry:
			// Cancelling ends the pending attempts' backoff; managing
			// again starts a fresh attempt for every certificate not yet
			// held, and is a no-op for those already managed.
			cancel()
			a.logger.Info("retrying certificates now", "hosts", a.hosts)
		}
	}
}

// retryNow asks run to retry at once; it never blocks.
func (a *acmeCerts) retryNow() {
	select {
	case a.retry <- struct{}{}:
	default:
	}
}

// close stops the cache's maintenance goroutine.
func (a *acmeCerts) close() { a.cache.Stop() }

// onEvent turns certmagic's events into the lines an operator reads: one
// per certificate obtained, and one per failed attempt saying what failed
// and what to check. certmagic's own, more detailed lines about the same
// failure are logged at debug level (see tls_log.go).
func (a *acmeCerts) onEvent(_ context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtained":
		renewal, _ := data["renewal"].(bool)
		a.logger.Info("certificate obtained", "host", data["identifier"], "renewal", renewal, "issuer", data["issuer"])
		a.lastErr.Store("")
	case "cert_failed":
		renewal, _ := data["renewal"].(bool)
		err, _ := data["error"].(error)
		reason, fix := explainACMEError(err)
		a.lastErr.Store(fmt.Sprintf("%v: %s", data["identifier"], reason))
		msg := "certificate not obtained"
		if renewal {
			msg = "certificate not renewed"
			fix += "; the current certificate is served until it expires"
		}
		attrs := []any{"host", data["identifier"], "reason", reason, "fix", fix + "; retrying with backoff, or send SIGHUP to retry now", "err", err}
		if left, ok := data["remaining"]; ok {
			attrs = append(attrs, "remaining", left)
		}
		a.logger.Error(msg, attrs...)
	}
	return nil
}

// Advice for each kind of failure. Ports 80 and 443 are what the CA
// connects to, whatever the listen addresses are.
const (
	fixReachability = "check that the host's A record points here and that ports 80 and 443 reach this host from the internet (a domain still being filed is blocked by providers)"
	fixCAReach      = "check tls.ca and that this host can reach the CA over HTTPS"
	fixCATrust      = "check tls.ca and tls.ca_root"
	fixEAB          = "check tls.eab (key_id and hmac_key from the CA)"
	fixRateLimit    = "the CA limits how often it issues; wait for the limit to pass"
	fixCAA          = "a CAA record of the domain forbids this CA; add the CA to it or remove it"
	fixGeneric      = "see err"
)

// explainACMEError classifies why an attempt failed, for the operator.
func explainACMEError(err error) (reason, fix string) {
	if err == nil {
		return "unknown error", fixGeneric
	}
	var p acme.Problem
	if errors.As(err, &p) {
		switch p.Type {
		case acme.ProblemTypeConnection, acme.ProblemTypeDNS, acme.ProblemTypeIncorrectResponse,
			acme.ProblemTypeTLS, acme.ProblemTypeUnauthorized:
			return "the CA could not validate the domain", fixReachability
		case acme.ProblemTypeCAA:
			return "CAA record forbids the CA", fixCAA
		case acme.ProblemTypeRateLimited:
			return "CA rate limit", fixRateLimit
		case acme.ProblemTypeExternalAccountRequired:
			return "CA requires external account binding", fixEAB
		case acme.ProblemTypeRejectedIdentifier, acme.ProblemTypeUnsupportedIdentifier:
			return "CA will not issue for this name", fixGeneric
		}
		return "CA refused the request", fixGeneric
	}
	var (
		unknownAuth x509.UnknownAuthorityError
		verify      *tls.CertificateVerificationError
		hostErr     x509.HostnameError
		urlErr      *url.Error
		netErr      net.Error
	)
	switch {
	case errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &verify):
		return "CA's certificate not trusted", fixCATrust
	case errors.As(err, &urlErr), errors.As(err, &netErr):
		return "CA unreachable", fixCAReach
	}
	return "certificate request failed", fixGeneric
}
