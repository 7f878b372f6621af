package warm

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	edgeHost = "icp.client.test"
	siteHost = "www.client.test"
)

// fakeEdge stands in for a running edge: it serves the files in files
// (sitemaps, robots.txt) and answers every other path as a page it stored,
// counting requests per path and how many are in flight at once.
type fakeEdge struct {
	srv   *httptest.Server
	files map[string][]byte
	// page, when set, answers pages instead of the default.
	page func(w http.ResponseWriter, r *http.Request, n int)

	mu       sync.Mutex
	hits     map[string]int
	hosts    map[string]bool
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func newFakeEdge(t *testing.T, files map[string][]byte) *fakeEdge {
	t.Helper()
	e := &fakeEdge{files: files, hits: map[string]int{}, hosts: map[string]bool{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := e.inFlight.Add(1)
		defer e.inFlight.Add(-1)
		for {
			m := e.maxSeen.Load()
			if n <= m || e.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		e.mu.Lock()
		e.hits[r.URL.RequestURI()]++
		count := e.hits[r.URL.RequestURI()]
		e.hosts[r.Host] = true
		e.mu.Unlock()
		if b, ok := e.files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		if strings.HasSuffix(r.URL.Path, ".xml") || r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		if e.page != nil {
			e.page(w, r, count)
			return
		}
		w.Header().Set("Cache-Status", "icpedge; fwd=miss; stored")
		fmt.Fprintf(w, "<html><body>%s</body></html>", r.URL.Path)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *fakeEdge) count(uri string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[uri]
}

func (e *fakeEdge) opts() Options {
	return Options{
		Edge:      e.srv.Listener.Addr().String(),
		Hosts:     []string{edgeHost},
		SiteHosts: []string{siteHost, "client.test"},
		Rate:      1000,
		limiter:   noLimit{},
	}
}

// noLimit lets every request start at once.
type noLimit struct{}

func (noLimit) Wait(ctx context.Context) error { return ctx.Err() }

// countingLimiter counts how often it is asked.
type countingLimiter struct{ n atomic.Int32 }

func (c *countingLimiter) Wait(ctx context.Context) error { c.n.Add(1); return ctx.Err() }

func urlset(locs ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
	for _, l := range locs {
		fmt.Fprintf(&b, "<url><loc>%s</loc><lastmod>2024-01-01</lastmod></url>\n", l)
	}
	b.WriteString("</urlset>")
	return []byte(b.String())
}

func index(locs ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
	for _, l := range locs {
		fmt.Fprintf(&b, "<sitemap><loc>%s</loc></sitemap>", l)
	}
	b.WriteString("</sitemapindex>")
	return []byte(b.String())
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestIndexOfTwoSitemaps: the edge's /sitemap.xml is an index of two
// sitemaps, one gzip'ed, listing pages on the client's own domain and the
// edge's; every page is fetched once, through the edge, for the edge's
// host, and the limiter is asked before every request.
func TestIndexOfTwoSitemaps(t *testing.T) {
	e := newFakeEdge(t, nil)
	e.files = map[string][]byte{
		"/sitemap.xml": index("https://"+siteHost+"/pages.xml", "http://"+edgeHost+"/more.xml.gz"),
		"/pages.xml": urlset("https://"+siteHost+"/", "https://"+siteHost+"/about?lang=zh",
			"https://CLIENT.test/news/", "https://elsewhere.test/x"),
		"/more.xml.gz": gz(t, urlset("http://"+edgeHost+"/contact", "https://"+siteHost+"/about?lang=zh")),
	}
	lim := &countingLimiter{}
	o := e.opts()
	o.limiter = lim
	var out bytes.Buffer
	o.Progress = &out
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/about?lang=zh", "/news/", "/contact"} {
		if got := e.count(p); got != 1 {
			t.Errorf("%s fetched %d times; want 1", p, got)
		}
	}
	if rep.Pages != 4 || rep.Stored != 4 || !rep.OK() {
		t.Errorf("report: %d pages, %d stored, ok %v; want 4, 4, true\n%+v", rep.Pages, rep.Stored, rep.OK(), rep)
	}
	if !slices.Equal(rep.Skipped, []string{"https://elsewhere.test/x"}) {
		t.Errorf("skipped %q; want the URL on another host", rep.Skipped)
	}
	e.mu.Lock()
	hosts := e.hosts
	e.mu.Unlock()
	if len(hosts) != 1 || !hosts[edgeHost] {
		t.Errorf("Host headers seen %v; want only %s", hosts, edgeHost)
	}
	// 3 sitemaps and 4 pages.
	if got := lim.n.Load(); got != 7 {
		t.Errorf("limiter asked %d times; want 7, once per request", got)
	}
	mustContain(t, out.String(), "sitemap http://"+edgeHost+"/sitemap.xml: an index of 2 sitemaps")
	mustContain(t, out.String(), "4/4 200 stored http://"+edgeHost+"/")
}

// TestConcurrencyLimit: no more than Concurrency pages are in flight at
// the origin at once, and that many are.
func TestConcurrencyLimit(t *testing.T) {
	var locs []string
	for i := range 20 {
		locs = append(locs, fmt.Sprintf("https://%s/p%d", siteHost, i))
	}
	e := newFakeEdge(t, map[string][]byte{"/sitemap.xml": urlset(locs...)})
	const n = 3
	full := make(chan struct{})
	var once sync.Once
	e.page = func(w http.ResponseWriter, r *http.Request, _ int) {
		if e.inFlight.Load() >= n {
			once.Do(func() { close(full) })
		}
		// Hold the first pages until n are in flight, so that the
		// gauge sees the most the warmer would run at once.
		select {
		case <-full:
		case <-time.After(30 * time.Second):
		}
		w.Header().Set("Cache-Status", "icpedge; fwd=miss; stored")
	}
	o := e.opts()
	o.Concurrency = n
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.maxSeen.Load(); got != n {
		t.Errorf("most requests in flight at once: %d; want %d", got, n)
	}
	if rep.Stored != 20 {
		t.Errorf("stored %d; want 20", rep.Stored)
	}
}

// fakeClock is a clock that sleeping advances, recording each sleep.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.sleeps = append(c.sleeps, d)
		c.t = c.t.Add(d)
	}
	return ctx.Err()
}

// TestBackoff: 429 and 503 are tried again after Retry-After, capped;
// a page that stays 503 fails after the retries and is reported.
func TestBackoff(t *testing.T) {
	e := newFakeEdge(t, map[string][]byte{"/sitemap.xml": urlset(
		"https://"+siteHost+"/busy", "https://"+siteHost+"/greedy", "https://"+siteHost+"/down")})
	e.page = func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case r.URL.Path == "/busy" && n == 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/greedy" && n == 1:
			w.Header().Set("Retry-After", "86400")
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Cache-Status", "icpedge; fwd=miss; stored")
		}
	}
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := e.opts()
	o.limiter = nil // the real token bucket, on the fake clock
	o.now, o.sleep = clock.now, clock.sleep
	o.Concurrency = 1
	o.Rate = 5
	o.Retries = 2
	o.MaxRetryWait = 30 * time.Second
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if e.count("/busy") != 2 || e.count("/greedy") != 2 || e.count("/down") != 3 {
		t.Errorf("requests: busy %d, greedy %d, down %d; want 2, 2 and 3 (1 + 2 retries)", e.count("/busy"), e.count("/greedy"), e.count("/down"))
	}
	if !slices.Contains(clock.sleeps, 7*time.Second) {
		t.Errorf("sleeps %v; want the 7s Retry-After asked", clock.sleeps)
	}
	if !slices.Contains(clock.sleeps, 30*time.Second) || slices.ContainsFunc(clock.sleeps, func(d time.Duration) bool { return d > 30*time.Second }) {
		t.Errorf("sleeps %v; want a day's Retry-After capped at 30s", clock.sleeps)
	}
	if rep.Stored != 2 || len(rep.Failed) != 1 || rep.Failed[0].URL != "http://"+edgeHost+"/down" || rep.OK() {
		t.Fatalf("report %+v; want busy and greedy stored, down failed", rep)
	}
	mustContain(t, rep.Failed[0].Reason, "503 Service Unavailable after 3 tries")
}

// TestFailingPage: pages that fail are counted and listed in the summary,
// and pages the edge did not store are listed apart.
func TestFailingPage(t *testing.T) {
	e := newFakeEdge(t, map[string][]byte{"/sitemap.xml": urlset(
		"https://"+siteHost+"/ok", "https://"+siteHost+"/gone", "https://"+siteHost+"/broken",
		"https://"+siteHost+"/cart", "https://"+siteHost+"/old")})
	e.page = func(w http.ResponseWriter, r *http.Request, _ int) {
		switch r.URL.Path {
		case "/gone":
			w.WriteHeader(http.StatusNotFound)
		case "/broken":
			w.WriteHeader(http.StatusBadGateway)
		case "/cart":
			w.Header().Set("Cache-Status", "icpedge; fwd=miss; detail=set-cookie")
		case "/old":
			w.Header().Set("Cache-Status", "icpedge; hit; ttl=30")
		default:
			w.Header().Set("Cache-Status", "icpedge; fwd=miss; stored")
		}
	}
	rep, err := Run(context.Background(), e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Failed) != 2 || rep.Stored != 1 || rep.Cached != 1 || len(rep.NotStored) != 1 {
		t.Fatalf("report %+v; want 2 failed, 1 stored, 1 cached, 1 not stored", rep)
	}
	var sum bytes.Buffer
	rep.WriteSummary(&sum)
	s := sum.String()
	mustContain(t, s, "warmed 2 of 5 pages")
	mustContain(t, s, "1 stored, 1 already cached, 1 not stored, 2 failed")
	mustContain(t, s, "http://"+edgeHost+"/gone: 404 Not Found")
	mustContain(t, s, "http://"+edgeHost+"/broken: 502 Bad Gateway")
	mustContain(t, s, "http://"+edgeHost+"/cart: icpedge; fwd=miss; detail=set-cookie")
}

// TestHostileSitemaps: sitemaps that are too large (plain or as a gzip
// bomb), nested too deep, looping or not sitemaps at all are refused with
// a reason, and the run ends.
func TestHostileSitemaps(t *testing.T) {
	big := []byte("<urlset><!-- " + strings.Repeat("padding ", 10000) + "--></urlset>")
	bomb := gz(t, append([]byte("<urlset>"), bytes.Repeat([]byte(" "), 1<<20)...))
	for _, tt := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"too large", map[string][]byte{"/s.xml": big}, "sitemap larger than 65536 bytes"},
		{"gzip bomb", map[string][]byte{"/s.xml": bomb}, "sitemap larger than 65536 bytes"},
		{"too many URLs", map[string][]byte{"/s.xml": urlset(strings.Split(strings.Repeat("https://"+siteHost+"/p,", 20), ",")...)}, "more than 10 URLs"},
		{"nested too deep", map[string][]byte{
			"/s.xml":  index("https://" + siteHost + "/i1.xml"),
			"/i1.xml": index("https://" + siteHost + "/i2.xml"),
			"/i2.xml": index("https://" + siteHost + "/u.xml"),
			"/u.xml":  urlset("https://" + siteHost + "/p"),
		}, "sitemap indexes nested more than 2 deep: http://" + edgeHost + "/s.xml → https://" + siteHost + "/i1.xml → https://" + siteHost + "/i2.xml"},
		{"binary", map[string][]byte{"/s.xml": {0, 1, 2, 0xff, 0xfe, '\n', 7}}, "not a sitemap: line 1"},
		{"an HTML page", map[string][]byte{"/s.xml": []byte("<!DOCTYPE html><html><body>Not found</body></html>")}, "not a sitemap"},
		{"broken XML", map[string][]byte{"/s.xml": []byte("<urlset><url><loc>https://" + siteHost + "/a</loc></url")}, "not a sitemap: XML syntax error"},
		{"index of another host", map[string][]byte{"/s.xml": index("https://evil.test/s.xml")}, "on evil.test, which is neither one of the edge's hosts nor of rewrite_hosts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newFakeEdge(t, tt.files)
			o := e.opts()
			o.Sitemap = "http://" + edgeHost + "/s.xml"
			o.Limits = Limits{MaxBytes: 64 << 10, MaxURLs: 10, MaxDepth: 2}
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || len(rep.Sitemaps) == 0 {
				t.Fatalf("report %+v; want a sitemap problem", rep)
			}
			var reasons []string
			for _, p := range rep.Sitemaps {
				reasons = append(reasons, p.Reason)
			}
			mustContain(t, strings.Join(reasons, "\n"), tt.want)
			if e.count("/p") != 0 && tt.name != "nested too deep" {
				t.Errorf("a page of a refused sitemap was fetched")
			}
		})
	}

	t.Run("an index listing itself", func(t *testing.T) {
		e := newFakeEdge(t, map[string][]byte{"/sitemap.xml": index("http://"+edgeHost+"/sitemap.xml", "http://"+edgeHost+"/u.xml"),
			"/u.xml": urlset("https://" + siteHost + "/p")})
		rep, err := Run(context.Background(), e.opts())
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Stored != 1 || e.count("/sitemap.xml") != 1 {
			t.Errorf("report %+v, sitemap read %d times; want the page stored and the index read once", rep, e.count("/sitemap.xml"))
		}
	})
}

// TestDiscovery: without --sitemap, the edge's /sitemap.xml, else the
// Sitemap lines of its robots.txt, else the origin's /sitemap.xml read
// directly with the origin's Host.
func TestDiscovery(t *testing.T) {
	t.Run("robots.txt", func(t *testing.T) {
		e := newFakeEdge(t, map[string][]byte{
			"/robots.txt":     []byte("User-agent: *\nDisallow: /wp-admin/\nSitemap: https://" + siteHost + "/wp-sitemap.xml\n"),
			"/wp-sitemap.xml": urlset("https://" + siteHost + "/hello/"),
		})
		rep, err := Run(context.Background(), e.opts())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Stored != 1 || e.count("/hello/") != 1 {
			t.Errorf("report %+v; want /hello/ warmed from the sitemap robots.txt names", rep)
		}
	})
	t.Run("origin", func(t *testing.T) {
		var originHost atomic.Value
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/shop/sitemap.xml" {
				http.NotFound(w, r)
				return
			}
			originHost.Store(r.Host)
			w.Write(urlset("https://" + siteHost + "/shop/item"))
		}))
		defer origin.Close()
		e := newFakeEdge(t, nil)
		o := e.opts()
		o.Origin, _ = url.Parse(origin.URL + "/shop")
		o.OriginHost = siteHost
		rep, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Stored != 1 || e.count("/shop/item") != 1 || originHost.Load() != siteHost {
			t.Errorf("report %+v, origin saw Host %v; want /shop/item warmed from the origin's sitemap, read for %s", rep, originHost.Load(), siteHost)
		}
	})
	t.Run("none", func(t *testing.T) {
		e := newFakeEdge(t, nil)
		_, err := Run(context.Background(), e.opts())
		if err == nil {
			t.Fatal("no sitemap anywhere: no error")
		}
		mustContain(t, err.Error(), "no sitemap found")
		mustContain(t, err.Error(), "--sitemap")
	})
}

// TestAdmin: an edge that is not ready stops the run before any page;
// afterwards the cache's figures come from /metrics with the token.
func TestAdmin(t *testing.T) {
	var ready atomic.Bool
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			if !ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		case "/metrics":
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, "# TYPE icpedge_cache_entries gauge\nicpedge_cache_entries{client=\"other\"} 9\nicpedge_cache_entries{client=\"acme\"} 12\nicpedge_cache_bytes{client=\"acme\"} 3.5e+06\n")
		}
	}))
	defer admin.Close()
	e := newFakeEdge(t, map[string][]byte{"/sitemap.xml": urlset("https://" + siteHost + "/a")})
	o := e.opts()
	o.Admin, o.AdminToken, o.Client = admin.Listener.Addr().String(), "s3cret", "acme"
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("edge not ready: %v; want an error saying so", err)
	}
	if e.count("/a") != 0 {
		t.Error("a page was fetched while the edge was not ready")
	}
	ready.Store(true)
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.CacheKnown || rep.CacheEntries != 12 || rep.CacheBytes != 3500000 {
		t.Errorf("cache figures %+v; want 12 entries, 3500000 bytes", rep)
	}
	var sum bytes.Buffer
	rep.WriteSummary(&sum)
	mustContain(t, sum.String(), "the edge's cache now holds 12 entries, 3.3 MiB")
}

// TestBucket: the token bucket spaces requests at its rate, and hold
// pushes every later request back.
func TestBucket(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	b := newBucket(5, clock.now, clock.sleep)
	start := clock.now()
	for range 10 {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := clock.now().Sub(start); got != 1800*time.Millisecond {
		t.Errorf("10 requests at 5/s took %v; want 1.8s (the first at once)", got)
	}
	b.hold(clock.now().Add(10 * time.Second))
	before := clock.now()
	b.Wait(context.Background())
	if got := clock.now().Sub(before); got != 10*time.Second {
		t.Errorf("after hold(10s) the next request waited %v; want 10s", got)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"Wed, 01 Jan 2025 00:00:30 GMT", 30 * time.Second, true},
		{"Tue, 31 Dec 2024 23:00:00 GMT", 0, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestProgressDisplay: a terminal gets one line redrawn in place with
// done/total, rate, errors and ETA; a failure is printed above it.
func TestProgressDisplay(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	var buf bytes.Buffer
	p := newProgress(&buf, true, 4, clock.now)
	clock.sleep(context.Background(), 2*time.Second)
	p.page("http://a/1", pageResult{status: 200, stored: true})
	p.page("http://a/2", pageResult{failed: "502 Bad Gateway"})
	got := buf.String()
	mustContain(t, got, "\r\x1b[Kfailed http://a/2: 502 Bad Gateway\n")
	mustContain(t, got, "\r\x1b[K[############            ] 2/4 pages  1.0/s  1 errors  ETA 2s")
	if strings.Count(got, "\n") != 1 {
		t.Errorf("terminal output %q; want only the failure to end a line", got)
	}
}

func mustContain(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("got %q; want it to contain %q", got, want)
	}
}
