package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

func TestCanonicalPath(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want "" means refused
	}{
		{"/", "/"},
		{"/a/b.html", "/a/b.html"},
		{"/a/b/", "/a/b/"},
		{"//downloads/x.zip", "/downloads/x.zip"},
		{"/a//b///c", "/a/b/c"},
		{"/./downloads/x.zip", "/downloads/x.zip"},
		{"/x/../downloads/x.zip", "/downloads/x.zip"},
		{"/a/b/c/./../../g", "/a/g"}, // RFC 3986 §5.2.4's example
		{"/a/b/..", "/a/"},
		{"/a/.", "/a/"},
		{"/..", "/"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/a/..//b", "/b"},
		{"/.well-known/acme-challenge/x", "/.well-known/acme-challenge/x"},
		{"/...", "/..."},
		{"/a..b/c.", "/a..b/c."},
		{"/%61%62%2Dc%7e", "/ab-c~"}, // unreserved characters decoded (§6.2.2.2)
		{"/a%2ejs", "/a.js"},         // an encoded dot inside a name is a dot
		{"/%e4%b8%ad", "/%E4%B8%AD"}, // hex digits upper-cased (§6.2.2.1)
		{"/a%20b%3Bc", "/a%20b%3Bc"}, // reserved and other characters stay encoded
		{"/a;jsessionid=1/b", "/a;jsessionid=1/b"},
		{"/static/..%2faccount", ""},
		{"/x/..%2Fdownloads/x.zip", ""},
		{"/a%2fb", ""},
		{"/a%5cb", ""},
		{"/a%5Cb", ""},
		{"/a\\b", ""},
		{"/%2e%2e/account", ""},
		{"/static/%2e%2e/account", ""},
		{"/static/.%2e/account", ""},
		{"/static/%2E/x", ""},
		{"/static/..;/account", ""},
		{"/static/.;x/account", ""},
		{"/a%00b", ""},
		{"/a%0d%0aSet-Cookie:x", ""},
		{"/a%7f", ""},
		{"/a%252fb", ""},
		{"/a%252E%252E/b", ""},
		{"/a%255c", ""},
		{"/a%2", ""},
		{"a/b", ""},
	} {
		got, err := canonicalPath(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("canonicalPath(%q) = %q; want it refused", tt.in, got)
		case tt.want == "" && !errors.Is(err, errPathHidden):
			t.Errorf("canonicalPath(%q): error %v; want one that wraps errPathHidden", tt.in, err)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("canonicalPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCanonicalPathDoesNotAllocate(t *testing.T) {
	for _, p := range []string{"/", "/news/2026/03/4001.html", "/static/css/site.9f3c2a.css"} {
		if n := testing.AllocsPerRun(100, func() { _, _ = canonicalPath(p) }); n != 0 {
			t.Errorf("canonicalPath(%q): %v allocations; want 0", p, n)
		}
	}
}

// pathOrigin records the request target each request reached it with.
type pathOrigin struct {
	mu      sync.Mutex
	targets []string
}

func (o *pathOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.targets = append(o.targets, r.RequestURI)
	o.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Header.Get("Cookie") != "" {
		w.Header().Set("Cache-Control", "no-cache") // a personal page
	} else {
		w.Header().Set("Cache-Control", "public, max-age=600")
	}
	_, _ = io.WriteString(w, "<html><body><p>"+r.URL.Path+" for "+r.Header.Get("Cookie")+"</p></body></html>")
}

func (o *pathOrigin) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.targets...)
}

func newPathEdge(t *testing.T) (*Handler, *pathOrigin) {
	t.Helper()
	o := &pathOrigin{}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	store, err := cache.Open(cache.Options{Dir: t.TempDir(), MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := New(Options{
		Hosts:       []string{"icp.example.test"},
		Origin:      u,
		Rewrite:     rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}},
		Cache:       store,
		CachePolicy: cache.Policy{Rules: []cache.Rule{{Prefix: "/static/", TTL: 30 * 24 * time.Hour}}},
		Block:       append(DefaultBlockRules(), BlockRule{Name: "dl", Path: "/downloads/"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, o
}

func serveTarget(h http.Handler, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "http://icp.example.test"+target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Every decision is made on the path the origin gets: the bypasses of
// issue "one path for every decision" all fail.
func TestPathDecisions(t *testing.T) {
	h, o := newPathEdge(t)

	for _, tt := range []struct {
		target string
		status int
	}{
		{"/static/..%2faccount", 400},
		{"/static/%2e%2e/account", 400},
		{"/static/..;/account", 400},
		{"/x/..%2fdownloads/x.zip", 400},
		{"/a%5cdownloads", 400},
		{"//downloads/x.zip", 451},
		{"/./downloads/x.zip", 451},
		{"/x/../downloads/x.zip", 451},
		{"/Downloads;v=1/x.zip", 451},
		{"/a.torrent/", 451},
		{"/a.torrent/info", 451},
		{"/a.torrent;x", 451},
		{"/a.torrent.", 451},
	} {
		w := serveTarget(h, tt.target, "Cookie", "sess=A")
		if w.Code != tt.status {
			t.Errorf("GET %s: status %d; want %d", tt.target, w.Code, tt.status)
		}
		if w.Code == 400 {
			mustHave(t, w.Body.String(), "beian.miit.gov.cn") // our own site's page
		}
	}
	if seen := o.seen(); len(seen) != 0 {
		t.Fatalf("origin got %q; want nothing from refused and blocked paths", seen)
	}

	// A personal page reached through a dot segment under /static/ is
	// /account, not a /static/ page: not stored under the 30-day rule.
	for range 2 {
		w := serveTarget(h, "/static/../account", "Cookie", "sess=A")
		if w.Code != 200 {
			t.Fatalf("status %d; want 200", w.Code)
		}
	}
	w := serveTarget(h, "/account")
	mustHave(t, w.Body.String(), "/account for </p>")
	if seen := o.seen(); len(seen) != 3 || seen[0] != "/account" || seen[1] != "/account" {
		t.Fatalf("origin got %q; want /account three times (never stored from the cookie requests)", seen)
	}

	// The origin gets the canonical form, and the cache keys on it.
	w = serveTarget(h, "//news/./2026/x/../%61rticle.html?id=%7e1")
	if w.Code != 200 {
		t.Fatalf("status %d; want 200", w.Code)
	}
	if seen := o.seen(); seen[len(seen)-1] != "/news/2026/article.html?id=%7e1" {
		t.Fatalf("origin got %q; want /news/2026/article.html?id=%%7e1", seen[len(seen)-1])
	}
	for _, alias := range []string{"/news/2026/article.html?id=%7e1", "/news//2026/%61rticle.html?id=%7e1"} {
		if w := serveTarget(h, alias); !hasCacheStatus(w, "hit") {
			t.Errorf("GET %s: Cache-Status %q; want a hit on the canonical key", alias, w.Header().Get("Cache-Status"))
		}
	}
	// A purge names it in any form.
	n, err := h.Purge(Purge{URL: "http://icp.example.test/news/x/../2026/./article.html?id=%7e1"})
	if err != nil || n != 1 {
		t.Fatalf("purge: %d, %v; want 1 entry", n, err)
	}
	if _, err := h.Purge(Purge{URL: "/news/..%2f"}); err == nil {
		t.Error("purge of a hidden path: no error; want one")
	}
	serveTarget(h, "/news/2026/article.html?id=%7e1")
	if n, err := h.Purge(Purge{Prefix: "//news/2026/./"}); err != nil || n != 1 {
		t.Errorf("purge by prefix: %d, %v; want 1 entry", n, err)
	}
}

func hasCacheStatus(w *httptest.ResponseRecorder, s string) bool {
	cs := w.Header().Get("Cache-Status")
	return len(cs) >= len("icpedge; ")+len(s) && cs[len("icpedge; "):len("icpedge; ")+len(s)] == s
}
