package edge

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
)

// These tests run the edge in process, on loopback listeners in front of
// an httptest origin: no binary.

// countingOrigin serves a cacheable HTML page at every path and counts
// the requests it gets.
func countingOrigin(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=600")
		fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Home</title></head><body><p>fetch %d of %s</p><footer>© Client</footer></body></html>", n, r.URL.Path)
	}))
	t.Cleanup(o.Close)
	return o, &hits
}

// edgeYAML is a client's config: host, origin, notice, plain HTTP on a
// free loopback port, and a cache in the file's directory.
func edgeYAML(host, origin, icp string) string {
	return fmt.Sprintf(`hosts: [%s]
origin: %s
origin_host: www.client.test
listen:
  http: 127.0.0.1:0
  https: ""
state_dir: state-%s
notice:
  icp: %s
admin:
  listen: ""
tls:
  mode: "off"
cache:
  enabled: true
`, host, origin, host, icp)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// loadFile loads a config as serve does: parsed, and its files opened.
func loadFile(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// runEdge builds an edge for cfgs and runs it until the test ends, and
// returns it once every listener is up, with what Ready reported.
func runEdge(t *testing.T, cfgs []*config.Config, opts Options) (*Edge, Status) {
	t.Helper()
	ready := make(chan Status, 1)
	opts.Ready = func(st Status) { ready <- st }
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e, err := New(cfgs, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx) }()
	select {
	case st := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
		return e, st
	case err := <-errc:
		cancel()
		t.Fatalf("Run returned before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("the edge was not ready within 60s")
	}
	return nil, Status{}
}

// get fetches path from the edge's HTTP listener as a visitor of host.
func get(t *testing.T, st Status, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+st.HTTP.String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s %s: %v", host, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s %s: reading the body: %v", host, path, err)
	}
	return resp.StatusCode, string(body)
}

func TestEdgeServesPageWithNotice(t *testing.T) {
	origin, hits := countingOrigin(t)
	path := filepath.Join(t.TempDir(), "site.yaml")
	writeFile(t, path, edgeYAML(tlsTestHost, origin.URL, tlsTestICP))
	cfg, err := loadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e, st := runEdge(t, []*config.Config{cfg}, Options{Single: true})

	if st.HTTP == nil || st.HTTPS != nil || st.Admin != nil || !st.Ready {
		t.Errorf("Ready's status: got HTTP %v, HTTPS %v, admin %v, ready %v; want HTTP only, ready", st.HTTP, st.HTTPS, st.Admin, st.Ready)
	}
	if got := e.Status(); !slices.Equal(got.Clients, []string{"site"}) || got.String() != "serving 1 client" {
		t.Errorf("Status: got clients %q, %q; want [site], serving 1 client", got.Clients, got.String())
	}
	code, body := get(t, st, tlsTestHost, "/page")
	if code != 200 || !hasNotice(body) || !strings.Contains(body, "fetch 1 of /page") {
		t.Fatalf("GET /page: got %d %q; want 200, the origin's page with the notice", code, body)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("origin hits: got %d; want 1", n)
	}
}

// A reload with a bad file leaves the current config serving and says
// why; a good one is applied.
func TestEdgeReloadBadConfigKeepsServing(t *testing.T) {
	origin, _ := countingOrigin(t)
	path := filepath.Join(t.TempDir(), "site.yaml")
	writeFile(t, path, edgeYAML(tlsTestHost, origin.URL, tlsTestICP))
	cfg, err := loadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	load := func() ([]*config.Config, map[string]error, error) {
		cfg, err := loadFile(path)
		if err != nil {
			return nil, nil, err
		}
		return []*config.Config{cfg}, nil, nil
	}
	e, st := runEdge(t, []*config.Config{cfg}, Options{Single: true, Load: load})
	ctx := context.Background()

	writeFile(t, path, strings.Replace(edgeYAML(tlsTestHost, origin.URL, tlsTestICP), "origin: ", "origin: ftp", 1))
	err = e.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "site.yaml:") || !strings.Contains(err.Error(), "origin") {
		t.Errorf("Reload of a bad origin: got %v; want the file, line and key named", err)
	}
	if code, body := get(t, st, tlsTestHost, "/after-bad"); code != 200 || !hasNotice(body) {
		t.Fatalf("after the bad reload: got %d %q; want the page with the notice", code, body)
	}

	const newICP = "沪ICP备87654321号-2"
	writeFile(t, path, edgeYAML(tlsTestHost, origin.URL, newICP))
	if err := e.Reload(ctx); err != nil {
		t.Fatalf("Reload of a good config: %v", err)
	}
	code, body := get(t, st, tlsTestHost, "/after-good")
	if text := html.UnescapeString(body); code != 200 || !strings.Contains(text, newICP) || strings.Contains(text, tlsTestICP) {
		t.Errorf("after the good reload: got %d %q; want the page with %s only", code, body, newICP)
	}
}

// Without Single, clients are routed by host; Purge reaches the cache of
// the client it names, and Status lists every client.
func TestEdgeRoutesAndPurge(t *testing.T) {
	origin, hits := countingOrigin(t)
	dir := t.TempDir()
	var cfgs []*config.Config
	for _, name := range []string{"a", "b"} {
		path := filepath.Join(dir, name+".yaml")
		writeFile(t, path, edgeYAML(name+".client.test", origin.URL, tlsTestICP))
		cfg, err := loadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, cfg)
	}
	e, st := runEdge(t, cfgs, Options{Listen: config.Listen{HTTP: "127.0.0.1:0"}, BufferMemory: 8 << 20})
	if got := e.Status().Clients; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Status clients: got %q; want [a b]", got)
	}
	if code, _ := get(t, st, "other.client.test", "/"); code != http.StatusMisdirectedRequest {
		t.Errorf("a host no client serves: got %d; want 421", code)
	}

	fetch := func(host string) string {
		t.Helper()
		code, body := get(t, st, host, "/p")
		if code != 200 || !hasNotice(body) {
			t.Fatalf("GET %s/p: got %d %q; want the page with the notice", host, code, body)
		}
		return body
	}
	first := fetch("a.client.test")
	fetch("b.client.test")
	if fetch("a.client.test") != first {
		t.Fatalf("the second GET of a/p was not served from the cache")
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("origin hits before the purge: got %d; want 2 (one per client)", n)
	}

	n, err := e.Purge(proxy.Purge{URL: "/p"}, "a.client.test")
	if err != nil || n != 1 {
		t.Fatalf("Purge /p on a: got %d, %v; want 1 entry removed", n, err)
	}
	if fetch("a.client.test") == first {
		t.Error("a/p after the purge: got the cached page; want a new fetch")
	}
	fetch("b.client.test")
	if n := hits.Load(); n != 3 {
		t.Errorf("origin hits after purging a: got %d; want 3 (b still cached)", n)
	}
}

// Run is called once; Reload after Run has returned says so.
func TestEdgeReloadAfterRun(t *testing.T) {
	origin, _ := countingOrigin(t)
	path := filepath.Join(t.TempDir(), "site.yaml")
	writeFile(t, path, edgeYAML(tlsTestHost, origin.URL, tlsTestICP))
	cfg, err := loadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New([]*config.Config{cfg}, Options{Single: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Run(ctx); err != nil {
		t.Fatalf("Run with a done context: %v", err)
	}
	if err := e.Run(context.Background()); err == nil {
		t.Error("a second Run: got nil; want an error")
	}
	if err := e.Reload(context.Background()); !errors.Is(err, errStopped) {
		t.Errorf("Reload after Run: got %v; want %v", err, errStopped)
	}
	if _, err := New(nil, Options{Single: true}); err == nil {
		t.Error("New with Single and no config: got nil; want an error")
	}
}
