package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testpki"
	"github.com/icpedge/icpedge/config"
	"github.com/mholt/acmez/v3/acme"
)

const (
	tlsTestHost = "icp.example.test"
	tlsTestICP  = "京ICP备12345678号-1"
)

// --- in-process tests of the pieces ---

func TestTLSRedirect(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, tlsTestHost, 1)
	otherCert, otherKey := testpki.WritePair(t, t.TempDir(), "other.example.test", 1)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Edge", "1")
		w.WriteHeader(http.StatusTeapot)
	})
	tests := []struct {
		name      string
		mode      string
		https     string
		host      string
		target    string
		wantCode  int
		wantLoc   string
		wantLocOK bool
		otherCert bool          // a certificate that does not cover the host
		later     time.Duration // the clock moved on, past the certificate's expiry
	}{
		{name: "default port", mode: "manual", https: ":443", host: tlsTestHost, target: "/a/b?x=1&y=%20", wantCode: 308, wantLoc: "https://icp.example.test/a/b?x=1&y=%20", wantLocOK: true},
		{name: "other port", mode: "manual", https: "127.0.0.1:8443", host: "icp.example.test:8080", target: "/p", wantCode: 308, wantLoc: "https://icp.example.test:8443/p", wantLocOK: true},
		{name: "upper case host", mode: "manual", https: ":443", host: "ICP.Example.Test", target: "/", wantCode: 308, wantLoc: "https://icp.example.test/", wantLocOK: true},
		{name: "unknown host goes to the edge", mode: "manual", https: ":443", host: "other.example", target: "/", wantCode: 418},
		{name: "challenge path is not redirected", mode: "manual", https: ":443", host: tlsTestHost, target: "/.well-known/acme-challenge/tok", wantCode: 418},
		{name: "unknown challenge goes to the edge in acme mode", mode: "acme", https: ":443", host: tlsTestHost, target: "/.well-known/acme-challenge/tok", wantCode: 418},
		{name: "acme without a certificate yet serves plain HTTP", mode: "acme", https: ":443", host: tlsTestHost, target: "/x", wantCode: 418},
		{name: "manual certificate for other names serves plain HTTP", mode: "manual", https: ":443", host: tlsTestHost, target: "/x", wantCode: 418, otherCert: true},
		{name: "expired manual certificate serves plain HTTP", mode: "manual", https: ":443", host: tlsTestHost, target: "/x", wantCode: 418, later: 48 * time.Hour},
		// Only a base64url token is a challenge: anything else under the
		// prefix is redirected like any path, never proxied over HTTP,
		// whether or not a certificate is in place yet.
		{name: "challenge path hiding a traversal", mode: "acme", https: ":443", host: tlsTestHost, target: "/.well-known/acme-challenge/..%2f..%2fecho", wantCode: 308, wantLoc: "https://icp.example.test/.well-known/acme-challenge/..%2f..%2fecho", wantLocOK: true},
		{name: "challenge path with a dot segment", mode: "acme", https: ":443", host: tlsTestHost, target: "/.well-known/acme-challenge/../../admin", wantCode: 308, wantLoc: "https://icp.example.test/.well-known/acme-challenge/../../admin", wantLocOK: true},
		{name: "challenge path with two segments", mode: "manual", https: ":443", host: tlsTestHost, target: "/.well-known/acme-challenge/tok/x", wantCode: 308, wantLoc: "https://icp.example.test/.well-known/acme-challenge/tok/x", wantLocOK: true},
		{name: "challenge path with an escape", mode: "acme", https: ":443", host: tlsTestHost, target: "/.well-known/acme-challenge/t%6Fk", wantCode: 308, wantLoc: "https://icp.example.test/.well-known/acme-challenge/t%6Fk", wantLocOK: true},
		{name: "challenge path without a token", mode: "acme", https: ":443", host: tlsTestHost, target: "/.well-known/acme-challenge/", wantCode: 308, wantLoc: "https://icp.example.test/.well-known/acme-challenge/", wantLocOK: true},
		{name: "base64url token goes to the edge", mode: "acme", https: ":443", host: tlsTestHost, target: "/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", wantCode: 418},
		{name: "off serves plain HTTP", mode: "off", host: tlsTestHost, target: "/x", wantCode: 418},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf, kf := certFile, keyFile
			if tt.otherCert {
				cf, kf = otherCert, otherKey
			}
			cfg := testTLSConfig(t, tt.mode, tt.https, cf, kf)
			var logs syncBuffer
			et, err := newEdgeTLS(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer et.Close()
			et.now = func() time.Time { return time.Now().Add(tt.later) }
			for range 2 {
				req := httptest.NewRequest("GET", "http://"+tt.host+tt.target, nil)
				req.Host = tt.host
				rec := httptest.NewRecorder()
				et.HTTPHandler(next).ServeHTTP(rec, req)
				if rec.Code != tt.wantCode {
					t.Fatalf("status: got %d; want %d", rec.Code, tt.wantCode)
				}
				if got := rec.Header().Get("Location"); tt.wantLocOK && got != tt.wantLoc {
					t.Fatalf("Location: got %q; want %q", got, tt.wantLoc)
				}
			}
			// Plain HTTP for want of a certificate is logged once, not
			// per request.
			want := 0
			if tt.mode != "off" && tt.wantCode == 418 && requestHost(tt.host) == tlsTestHost && !strings.HasPrefix(tt.target, acmeChallengePrefix) {
				want = 1
			}
			if got := strings.Count(logs.String(), "no certificate for the host yet"); got != want {
				t.Errorf("warnings: got %d; want %d:\n%s", got, want, logs.String())
			}
		})
	}
}

func TestTLSHSTS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, tlsTestHost, 1)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, tt := range []struct {
		hsts time.Duration
		want string
	}{
		{0, ""},
		{180 * 24 * time.Hour, "max-age=15552000"},
	} {
		cfg := testTLSConfig(t, "manual", ":443", certFile, keyFile)
		cfg.TLS.HSTS = tt.hsts
		et, err := newEdgeTLS(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		et.HTTPSHandler(next).ServeHTTP(rec, httptest.NewRequest("GET", "https://"+tlsTestHost+"/", nil))
		if got := rec.Header().Get("Strict-Transport-Security"); got != tt.want {
			t.Errorf("hsts %v over HTTPS: got %q; want %q", tt.hsts, got, tt.want)
		}
		rec = httptest.NewRecorder()
		et.HTTPHandler(next).ServeHTTP(rec, httptest.NewRequest("GET", "http://"+tlsTestHost+"/", nil))
		if got := rec.Header().Get("Strict-Transport-Security"); got != "" {
			t.Errorf("hsts %v over HTTP: got %q; want none", tt.hsts, got)
		}
	}
}

// TestTLSHandshake checks the listener's TLS settings: TLS 1.2+, AEAD
// suites only for 1.2, h2 by ALPN, and acme-tls/1 kept for TLS-ALPN-01.
func TestTLSHandshake(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, tlsTestHost, 1)
	cfg := testTLSConfig(t, "manual", ":443", certFile, keyFile)
	et, err := newEdgeTLS(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(et.HTTPSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Proto)
	})), slog.New(slog.DiscardHandler))
	srv.TLSConfig = et.Config
	go srv.Serve(tlsListener(ln, et.Config))
	defer srv.Close()
	roots := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(certFile)
	roots.AppendCertsFromPEM(pemBytes)

	dial := func(c *tls.Config) (tls.ConnectionState, error) {
		c.ServerName = tlsTestHost
		c.RootCAs = roots
		conn, err := tls.Dial("tcp", ln.Addr().String(), c)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer conn.Close()
		return conn.ConnectionState(), nil
	}
	if _, err := dial(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 handshake: got success; want it rejected")
	}
	if _, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}); err == nil {
		t.Error("TLS 1.2 with a CBC suite only: got success; want it rejected")
	}
	st, err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatalf("TLS 1.2 handshake: %v", err)
	}
	if st.NegotiatedProtocol != "h2" {
		t.Errorf("ALPN: got %q; want h2", st.NegotiatedProtocol)
	}
	if got := et.Config.NextProtos; strings.Join(got, ",") != "h2,http/1.1" {
		t.Errorf("manual NextProtos: got %q; want [h2 http/1.1]", got)
	}

	// HTTP/2 end to end.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: tlsTestHost}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/2.0" {
		t.Errorf("protocol: got %q; want HTTP/2.0", body)
	}

	acmeCfg := testTLSConfig(t, "acme", ":443", "", "")
	ae, err := newEdgeTLS(context.Background(), acmeCfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ae.Close()
	if got := strings.Join(ae.Config.NextProtos, ","); got != "h2,http/1.1,acme-tls/1" {
		t.Errorf("acme NextProtos: got %q; want h2,http/1.1,acme-tls/1", got)
	}
	if ae.Config.MinVersion != tls.VersionTLS12 {
		t.Errorf("acme MinVersion: got %x; want TLS 1.2", ae.Config.MinVersion)
	}
}

func TestTLSManualReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, tlsTestHost, 1)
	var logs syncBuffer
	m, err := newManualCert(certFile, keyFile, []string{tlsTestHost}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		c, _ := m.GetCertificate(nil)
		return c.Leaf.SerialNumber.Int64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.watch(ctx, 20*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	testpki.WritePairTo(t, certFile, keyFile, tlsTestHost, 2)
	waitFor(t, 20*time.Second, "the changed pair to be loaded", func() bool { return serial() == 2 })

	// A broken pair keeps the current one and is reported once. The file
	// is replaced in one rename, as an operator's tools do, so the watcher
	// can't catch it half-written (an empty file would be a second broken
	// state, reported on its own).
	tmp := keyFile + ".new"
	if err := os.WriteFile(tmp, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, keyFile); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the broken pair to be reported", func() bool {
		return strings.Contains(logs.String(), "certificate not reloaded")
	})
	// The watcher reports what a poll's reload returns: once the files
	// are unchanged, a poll returns nothing to report.
	cancel()
	<-done
	if err := m.reload(false); err != nil {
		t.Errorf("a poll of the unchanged broken pair: got %v; want nothing to report again", err)
	}
	if n := strings.Count(logs.String(), "certificate not reloaded"); n != 1 {
		t.Errorf("reports of one broken pair: got %d; want 1", n)
	}
	if got := serial(); got != 2 {
		t.Errorf("serial after a broken pair: got %d; want 2", got)
	}
	if err := m.reload(true); err == nil {
		t.Error("forced reload of a broken pair: got nil; want an error")
	}
	if _, err := newManualCert(certFile, keyFile, nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("starting with a broken pair: got nil; want an error")
	}
}

func TestTLSExplainACMEError(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("[x] Obtain: %w", acme.Problem{Type: acme.ProblemTypeConnection, Detail: "refused"}), "the CA could not validate the domain"},
		{fmt.Errorf("wrapped: %w", acme.Problem{Type: acme.ProblemTypeRateLimited}), "CA rate limit"},
		{fmt.Errorf("registering account: %w", &url.Error{Op: "Get", URL: "https://ca/dir", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}), "CA unreachable"},
		{fmt.Errorf("x: %w", &url.Error{Op: "Get", URL: "https://ca/dir", Err: x509.UnknownAuthorityError{}}), "CA's certificate not trusted"},
		{errors.New("something else"), "certificate request failed"},
	}
	for _, tt := range tests {
		if got, _ := explainACMEError(tt.err); got != tt.want {
			t.Errorf("explainACMEError(%v): got %q; want %q", tt.err, got, tt.want)
		}
	}
}

func TestTLSACMEConfigErrors(t *testing.T) {
	cfg := testTLSConfig(t, "acme", ":443", "", "")
	cfg.Listen.HTTP = ""
	cfg.TLS.Challenges = []string{"http-01"}
	if _, err := newEdgeTLS(context.Background(), cfg, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Error("http-01 only without listen.http: got nil; want an error")
	}
	cfg = testTLSConfig(t, "acme", ":443", "", "")
	cfg.TLS.CARoot = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := newEdgeTLS(context.Background(), cfg, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Error("missing tls.ca_root: got nil; want an error")
	}
}

func tlsEdgeConfig(originURL, httpAddr, httpsAddr, tlsBlock string) string {
	return fmt.Sprintf(`hosts: [%s]
origin: %s
origin_host: www.client.test
listen:
  http: %s
  https: %s
state_dir: state
notice:
  icp: %s
admin:
  listen: ""
cache:
  enabled: false
%s`, tlsTestHost, originURL, httpAddr, httpsAddr, tlsTestICP, tlsBlock)
}

// testTLSConfig is a config for newEdgeTLS alone.
func testTLSConfig(t *testing.T, mode, https, certFile, keyFile string) *config.Config {
	return &config.Config{
		Hosts:    []string{tlsTestHost},
		StateDir: t.TempDir(),
		Listen:   config.Listen{HTTP: "127.0.0.1:0", HTTPS: https},
		TLS: config.TLS{
			Mode:     mode,
			CA:       "https://127.0.0.1:1/dir",
			CertFile: certFile,
			KeyFile:  keyFile,
		},
	}
}

// hasNotice reports whether a page carries the ICP notice, which the
// rewriter may write with character references.
func hasNotice(body string) bool {
	return strings.Contains(html.UnescapeString(body), tlsTestICP) && strings.Contains(body, `href="https://beian.miit.gov.cn/"`)
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
