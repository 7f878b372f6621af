package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testpki"
)

const (
	tlsTestHost = "icp.example.test"
	tlsTestICP  = "京ICP备12345678号-1"
)

// --- the binary, manual mode ---

func TestTLSManualE2E(t *testing.T) {
	origin := newHTMLOrigin(t)
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, tlsTestHost, 1)
	httpAddr, httpsAddr := freePort(t), freePort(t)
	path := writeConfig(t, tlsEdgeConfig(origin.URL, httpAddr, httpsAddr, fmt.Sprintf(`tls:
  mode: manual
  cert_file: %s
  key_file: %s
  hsts: 180d
`, certFile, keyFile)))
	e := startEdge(t, path)
	e.waitListening(2, 20*time.Second)

	roots := x509.NewCertPool()
	for _, s := range []int64{1, 2, 3} {
		roots.AddCert(testpki.Cert(t, tlsTestHost, s))
	}
	resp, body := httpsGet(t, e.Addr("https"), roots, "/page")
	if resp.StatusCode != 200 || !hasNotice(body) {
		t.Fatalf("HTTPS page: got %d %q; want 200 with the notice", resp.StatusCode, abbrev(body))
	}
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("protocol: got %s; want HTTP/2.0", resp.Proto)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=15552000" {
		t.Errorf("HSTS: got %q; want max-age=15552000", got)
	}
	if got := servedSerial(t, e.Addr("https"), roots); got != 1 {
		t.Fatalf("serial: got %d; want 1", got)
	}
	r := httpGet(t, e.Addr("http"), "/page?a=1")
	if want := "https://" + tlsTestHost + ":" + portOf(httpsAddr) + "/page?a=1"; r.StatusCode != 308 || r.Header.Get("Location") != want {
		t.Errorf("HTTP: got %d Location %q; want 308 to %s", r.StatusCode, r.Header.Get("Location"), want)
	}
	if r.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain HTTP")
	}

	// Replaced files are picked up by polling.
	testpki.WritePairTo(t, certFile, keyFile, tlsTestHost, 2)
	waitFor(t, 60*time.Second, "the polled reload", func() bool { return servedSerial(t, e.Addr("https"), roots) == 2 })

	// A broken pair on SIGHUP keeps the current certificate.
	if err := os.WriteFile(certFile, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.signal(syscall.SIGHUP)
	waitLog(t, e, "certificate not reloaded", 30*time.Second)
	if got := servedSerial(t, e.Addr("https"), roots); got != 2 {
		t.Errorf("serial after a broken pair: got %d; want 2", got)
	}

	// A good pair on SIGHUP is served at once.
	testpki.WritePairTo(t, certFile, keyFile, tlsTestHost, 3)
	e.signal(syscall.SIGHUP)
	waitFor(t, 30*time.Second, "the SIGHUP reload", func() bool { return servedSerial(t, e.Addr("https"), roots) == 3 })
	assertAlive(t, e)
}

// Over plain HTTP with TLS on, only a well-formed challenge path escapes
// the redirect to HTTPS; nothing else under the prefix reaches the origin
// over HTTP.
func TestTLSChallengePathNotProxied(t *testing.T) {
	origin := newTestOrigin(t)
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, tlsTestHost, 1)
	path := writeConfig(t, tlsEdgeConfig(origin.URL, freePort(t), freePort(t), fmt.Sprintf("tls:\n  mode: manual\n  cert_file: %s\n  key_file: %s\n", certFile, keyFile)))
	e := startEdge(t, path)
	e.waitListening(2, 20*time.Second)

	for _, target := range []string{
		"/.well-known/acme-challenge/..%2f..%2fecho",
		"/.well-known/acme-challenge/../../echo",
		"/.well-known/acme-challenge/x/../../../echo",
		"/.well-known/acme-challenge/%2e%2e/%2e%2e/echo",
	} {
		raw := "POST " + target + " HTTP/1.1\r\nHost: " + tlsTestHost + "\r\nContent-Length: 1\r\n\r\nx"
		if status := rawStatus(t, e.Addr("http"), raw); status != http.StatusPermanentRedirect {
			t.Errorf("POST %s over HTTP: status %d; want 308 to HTTPS", target, status)
		}
		raw = "GET " + target + " HTTP/1.1\r\nHost: " + tlsTestHost + "\r\n\r\n"
		if status := rawStatus(t, e.Addr("http"), raw); status != http.StatusPermanentRedirect {
			t.Errorf("GET %s over HTTP: status %d; want 308 to HTTPS", target, status)
		}
	}
	if n := origin.TotalHits(); n != 0 {
		t.Fatalf("origin got %d requests over plain HTTP; want none", n)
	}
	// A token the edge did not issue goes to the edge, as before.
	r := httpGet(t, e.Addr("http"), "/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0")
	if r.StatusCode == http.StatusPermanentRedirect {
		t.Errorf("well-formed challenge: got 308; want it answered over HTTP")
	}
}

// --- the binary against Pebble ---

func TestTLSACMEHTTP01(t *testing.T)    { testACME(t, "http-01") }
func TestTLSACMETLSALPN01(t *testing.T) { testACME(t, "tls-alpn-01") }

func testACME(t *testing.T, challenge string) {
	pebbleBin, challBin := pebbleTools(t)
	env := newACMEEnv(t, pebbleBin, challBin)
	env.startPebble(t)
	e := env.startEdge(t, challenge)
	waitLog(t, e, `msg="certificate obtained" host=`+tlsTestHost, 90*time.Second)

	// Which challenge the edge answered, from certmagic's debug lines and
	// Pebble's log.
	edgeLog := e.Log()
	servedHTTP := strings.Contains(edgeLog, `msg="served key authentication" `)
	servedALPN := strings.Contains(edgeLog, `msg="served key authentication certificate"`)
	pebbleHTTP := strings.Contains(env.pebbleLog(), "Attempting to validate w/ HTTP")
	switch challenge {
	case "http-01":
		if !servedHTTP || !pebbleHTTP || servedALPN {
			t.Errorf("challenges answered: http-01 %v (Pebble %v), tls-alpn-01 %v; want http-01 only", servedHTTP, pebbleHTTP, servedALPN)
		}
	case "tls-alpn-01":
		if servedHTTP || pebbleHTTP || !servedALPN {
			t.Errorf("challenges answered: http-01 %v (Pebble %v), tls-alpn-01 %v; want tls-alpn-01 only", servedHTTP, pebbleHTTP, servedALPN)
		}
	}
	env.assertServesHTTPS(t, e)
}

// TestTLSACMECAUnreachable starts the edge before its CA: it stays up and
// keeps the site reachable over plain HTTP (no redirect to an HTTPS
// listener without a certificate), says so in the log and the metrics,
// answers challenges, and gets its certificate once the CA is there
// (SIGHUP retries at once instead of after certmagic's first one-minute
// backoff); from then on plain HTTP redirects to HTTPS.
func TestTLSACMECAUnreachable(t *testing.T) {
	pebbleBin, challBin := pebbleTools(t)
	env := newACMEEnv(t, pebbleBin, challBin)
	env.admin = true
	e := env.startEdge(t, "http-01")
	waitLog(t, e, `msg="certificate not obtained" host=`+tlsTestHost+` reason="CA unreachable"`, 60*time.Second)

	resp, body := httpGetBody(t, e.Addr("http"), "/page")
	if resp.StatusCode != 200 || !hasNotice(body) || resp.Header.Get("Location") != "" {
		t.Errorf("HTTP while no certificate can be had: got %d Location %q; want 200 with the page and its notice", resp.StatusCode, resp.Header.Get("Location"))
	}
	waitLog(t, e, `msg="no certificate for the host yet; serving it over plain HTTP instead of redirecting to HTTPS" host=`+tlsTestHost, 20*time.Second)
	missing := `icpedge_certificate_missing{client="site",host="` + tlsTestHost + `"} `
	mustContain(t, scrapeMetrics(t, e, filepath.Join(e.dir, "state")), missing+"1")
	if r := httpGet(t, e.Addr("http"), "/.well-known/acme-challenge/unknown-token"); r.StatusCode == 308 {
		t.Errorf("challenge path: got 308; want it answered over HTTP")
	}
	assertAlive(t, e)

	env.startPebble(t)
	e.signal(syscall.SIGHUP)
	waitLog(t, e, `msg="certificate obtained" host=`+tlsTestHost, 90*time.Second)
	env.assertServesHTTPS(t, e)
	want := "https://" + tlsTestHost + ":" + portOf(env.edgeHTTPS) + "/page"
	waitFor(t, 20*time.Second, "plain HTTP to redirect to HTTPS", func() bool {
		r := httpGet(t, e.Addr("http"), "/page")
		return r.StatusCode == 308 && r.Header.Get("Location") == want
	})
	waitLog(t, e, `msg="certificate in place; plain HTTP redirects to HTTPS" host=`+tlsTestHost, 20*time.Second)
	mustContain(t, scrapeMetrics(t, e, filepath.Join(e.dir, "state")), missing+"0")
	if n := strings.Count(e.Log(), `msg="certificate not obtained"`); n < 1 {
		t.Errorf("failure lines: got %d; want at least 1", n)
	}
}

// scrapeMetrics fetches /metrics from e's admin listener with the token
// in stateDir.
func scrapeMetrics(t *testing.T, e *edgeProc, stateDir string) string {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(stateDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+e.Addr("admin")+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := clientFor(e.Addr("admin")).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, b)
	}
	return string(b)
}

// acmeEnv is a Pebble CA with its DNS server, and the addresses an edge
// under test uses, all on loopback.
type acmeEnv struct {
	pebbleBin, challBin string
	dir                 string
	caFile              string // the CA that signs Pebble's HTTPS certificate
	caPool              *x509.CertPool
	pebbleCert          string
	pebbleKey           string
	pebbleAddr          string // ACME API
	mgmtAddr            string // Pebble's management API (/roots/0)
	dnsAddr             string
	edgeHTTP, edgeHTTPS string
	origin              *httptest.Server
	admin               bool // the edge runs its admin listener too

	mu   sync.Mutex
	plog bytes.Buffer
}

func newACMEEnv(t *testing.T, pebbleBin, challBin string) *acmeEnv {
	env := &acmeEnv{pebbleBin: pebbleBin, challBin: challBin, dir: t.TempDir()}
	env.caFile, env.pebbleCert, env.pebbleKey, env.caPool = writeServerCA(t, env.dir)
	env.pebbleAddr, env.mgmtAddr = freePort(t), freePort(t)
	env.edgeHTTP, env.edgeHTTPS = freePort(t), freePort(t)
	env.origin = newHTMLOrigin(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Pebble and challtestsrv log:\n%s", env.pebbleLog())
		}
	})
	env.startDNS(t)
	return env
}

func (env *acmeEnv) pebbleLog() string {
	env.mu.Lock()
	defer env.mu.Unlock()
	return env.plog.String()
}

// Write collects the output of Pebble and challtestsrv.
func (env *acmeEnv) Write(p []byte) (int, error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	return env.plog.Write(p)
}

// startProc runs a helper process until the test ends; it is killed by
// its own PID, nothing else.
func (env *acmeEnv) startProc(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = env, env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// startDNS runs pebble-challtestsrv as DNS only, answering 127.0.0.1 for
// every name and no IPv6 address.
func (env *acmeEnv) startDNS(t *testing.T) {
	env.dnsAddr = freePort(t)
	cmd := exec.Command(env.challBin,
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "",
		"-dnsserver", env.dnsAddr, "-management", freePort(t),
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	env.startProc(t, cmd)
	waitFor(t, 30*time.Second, "challtestsrv's DNS", func() bool {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", env.dnsAddr)
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		addrs, err := r.LookupHost(ctx, tlsTestHost)
		return err == nil && len(addrs) > 0
	})
}

// startPebble runs Pebble validating on the edge's ports.
func (env *acmeEnv) startPebble(t *testing.T) {
	t.Helper()
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           env.pebbleAddr,
		"managementListenAddress": env.mgmtAddr,
		"certificate":             env.pebbleCert,
		"privateKey":              env.pebbleKey,
		"httpPort":                atoiPort(t, env.edgeHTTP),
		"tlsPort":                 atoiPort(t, env.edgeHTTPS),
		"ocspResponderURL":        "",
		"keyAlgorithm":            "ecdsa",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
	}}
	data, _ := json.Marshal(conf)
	confFile := filepath.Join(env.dir, "pebble.json")
	if err := os.WriteFile(confFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(env.pebbleBin, "-config", confFile, "-dnsserver", env.dnsAddr)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	env.startProc(t, cmd)
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.caPool}}}
	waitFor(t, 60*time.Second, "Pebble's directory", func() bool {
		resp, err := c.Get("https://" + env.pebbleAddr + "/dir")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// startEdge runs icpedge in acme mode against Pebble, offering only
// challenge.
func (env *acmeEnv) startEdge(t *testing.T, challenge string) *edgeProc {
	t.Helper()
	path := writeConfig(t, tlsEdgeConfig(env.origin.URL, env.edgeHTTP, env.edgeHTTPS, fmt.Sprintf(`log:
  level: debug
tls:
  mode: acme
  email: ops@client.test
  ca: https://%s/dir
  ca_root: %s
  challenges: [%s]
  hsts: 180d
`, env.pebbleAddr, env.caFile, challenge)))
	listeners := 2
	if env.admin {
		b, _ := os.ReadFile(path)
		rewriteConfig(t, path, withAdmin(string(b), "127.0.0.1:0"))
		listeners = 3
	}
	e := startEdge(t, path)
	e.waitListening(listeners, 20*time.Second)
	return e
}

// pebbleRoot fetches the root that signs the certificates Pebble issues;
// Pebble makes a new one each time it starts.
func (env *acmeEnv) pebbleRoot(t *testing.T) *x509.CertPool {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.caPool}}}
	resp, err := c.Get("https://" + env.mgmtAddr + "/roots/0")
	if err != nil {
		t.Fatalf("fetching Pebble's root: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if resp.StatusCode != 200 || !pool.AppendCertsFromPEM(data) {
		t.Fatalf("Pebble's root: got %d %q; want a PEM certificate", resp.StatusCode, abbrev(string(data)))
	}
	return pool
}

// assertServesHTTPS checks that the edge serves a page with the notice
// over HTTP/2 with a certificate that verifies against Pebble's root.
func (env *acmeEnv) assertServesHTTPS(t *testing.T, e *edgeProc) {
	t.Helper()
	roots := env.pebbleRoot(t)
	var resp *http.Response
	var body string
	// The certificate is in the cache a moment after the event.
	waitFor(t, 30*time.Second, "HTTPS with the issued certificate", func() bool {
		var err error
		resp, body, err = tryHTTPSGet(e.Addr("https"), roots, "/page")
		return err == nil
	})
	if resp.StatusCode != 200 || !hasNotice(body) {
		t.Fatalf("HTTPS page: got %d %q; want 200 with the notice", resp.StatusCode, abbrev(body))
	}
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("protocol: got %s; want HTTP/2.0", resp.Proto)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=15552000" {
		t.Errorf("HSTS: got %q; want max-age=15552000", got)
	}
	assertAlive(t, e)
}

// pebbleTools finds the Pebble binaries on PATH or in $(go env GOPATH)/bin.
// Without them the test fails under CI and is skipped elsewhere.
func pebbleTools(t *testing.T) (pebble, challtestsrv string) {
	t.Helper()
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			return ""
		}
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		return ""
	}
	pebble, challtestsrv = find("pebble"), find("pebble-challtestsrv")
	if pebble != "" && challtestsrv != "" {
		return pebble, challtestsrv
	}
	const msg = "pebble and pebble-challtestsrv not found on PATH or in $(go env GOPATH)/bin; install them with:\n" +
		"  go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3 github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.3"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return "", ""
}

// --- helpers ---

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

// hasNotice reports whether a page carries the ICP notice, which the
// rewriter may write with character references.
func hasNotice(body string) bool {
	return strings.Contains(html.UnescapeString(body), tlsTestICP) && strings.Contains(body, `href="https://beian.miit.gov.cn/"`)
}

func newHTMLOrigin(t *testing.T) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hello</p><footer>© Client</footer></body></html>")
	}))
	t.Cleanup(o.Close)
	return o
}

// writeServerCA writes a CA and a certificate it signs for 127.0.0.1 and
// localhost, for Pebble's own HTTPS listeners.
func writeServerCA(t *testing.T, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "icpedge test CA for Pebble"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKeyDER, _ := x509.MarshalECPrivateKey(srvKey)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "pebble-cert.pem"), filepath.Join(dir, "pebble-key.pem")
	for path, b := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: srvDER},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: srvKeyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return caFile, certFile, keyFile, pool
}

// httpsClientFor sends every request to addr over TLS, verifying
// tlsTestHost against roots.
func httpsClientFor(addr string, roots *x509.CertPool) *http.Client {
	c := clientFor(addr)
	tr := c.Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: tlsTestHost}
	tr.ForceAttemptHTTP2 = true
	tr.DisableKeepAlives = true
	c.Timeout = 10 * time.Second
	return c
}

func tryHTTPSGet(addr string, roots *x509.CertPool, path string) (*http.Response, string, error) {
	resp, err := httpsClientFor(addr, roots).Get("https://" + tlsTestHost + path)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func httpsGet(t *testing.T, addr string, roots *x509.CertPool, path string) (*http.Response, string) {
	t.Helper()
	resp, body, err := tryHTTPSGet(addr, roots, path)
	if err != nil {
		t.Fatalf("GET https://%s%s: %v", tlsTestHost, path, err)
	}
	return resp, body
}

func httpGetBody(t *testing.T, addr, path string) (*http.Response, string) {
	t.Helper()
	resp, err := clientFor(addr).Get("http://" + tlsTestHost + path)
	if err != nil {
		t.Fatalf("GET http://%s%s: %v", tlsTestHost, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET http://%s%s: %v", tlsTestHost, path, err)
	}
	return resp, string(b)
}

func httpGet(t *testing.T, addr, path string) *http.Response {
	t.Helper()
	resp, err := clientFor(addr).Get("http://" + tlsTestHost + path)
	if err != nil {
		t.Fatalf("GET http://%s%s: %v", tlsTestHost, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// servedSerial returns the serial number of the certificate the edge
// presents, or -1 when the handshake fails.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: tlsTestHost})
	if err != nil {
		return -1
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
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

func assertAlive(t *testing.T, e *edgeProc) {
	t.Helper()
	select {
	case <-e.exited:
		t.Fatalf("icpedge exited: %v", e.exitErr)
	default:
	}
}

func atoiPort(t *testing.T, addr string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(portOf(addr), &n); err != nil {
		t.Fatal(err)
	}
	return n
}
