package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testpki"
)

func TestMetricsEndpoint(t *testing.T) {
	var failing atomic.Bool
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() || r.URL.Path == "/fail" {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=0")
		fmt.Fprint(w, "<html><body>ok</body></html>")
	}))
	t.Cleanup(origin.Close)
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, testHost, 1)
	path := filepath.Join(dir, "site.yaml")
	rewriteConfig(t, path, fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: %s
  https: %s
state_dir: state
notice:
  icp: %s
admin:
  listen: 127.0.0.1:0
tls:
  mode: manual
  cert_file: %s
  key_file: %s
`, testHost, origin.URL, freePort(t), freePort(t), testICP, certFile, keyFile))
	e := startEdge(t, path)
	e.waitListening(3, 20*time.Second)

	// A miss, a stale-if-error answer and an origin error, over HTTPS.
	roots := x509.NewCertPool()
	roots.AddCert(testpki.Cert(t, testHost, 1))
	c := clientFor(e.Addr("https"))
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: testHost}
	for i, p := range []string{"/page", "/page", "/fail"} {
		failing.Store(i > 0)
		resp, err := c.Get("https://" + testHost + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	e.waitLog("path=/fail", 20*time.Second)

	metricsURL := "http://" + e.Addr("admin") + "/metrics"
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: status %d; want 401", resp.StatusCode)
	}
	token, err := os.ReadFile(filepath.Join(dir, "state", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", metricsURL, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics with the token: status %d %q", resp.StatusCode, body)
	}
	text := string(body)
	for _, want := range []string{
		`icpedge_requests_total{cache="miss",code="200",host="` + testHost + `"} 1`,
		`icpedge_requests_total{cache="stale",code="200",host="` + testHost + `"} 1`,
		`icpedge_origin_duration_seconds_bucket{origin="` + strings.TrimPrefix(origin.URL, "http://") + `"`,
		`icpedge_origin_errors_total{kind="status_5xx",origin=`,
		`icpedge_cache_stale_served_total{host="` + testHost + `",reason="stale-if-error"} 1`,
		`icpedge_cache_entries{client="site"} 1`,
		`icpedge_cache_bytes{client="site"}`,
		`icpedge_cache_evictions_total{client="site"} 0`,
		`icpedge_certificate_expiry_timestamp_seconds{client="site",host="` + testHost + `"}`,
		`icpedge_certificate_missing{client="site",host="` + testHost + `"} 0`,
		`icpedge_build_info{goversion="go`,
		`icpedge_clients 1`,
		`go_goroutines`,
		`process_open_fds`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}
