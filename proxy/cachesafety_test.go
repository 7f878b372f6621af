package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

// safetyOrigin is an origin whose answer per path a test sets, that
// personalises pages by the visitor's "uid" cookie, and that can hold a
// request until the test releases it.
type safetyOrigin struct {
	srv     *httptest.Server
	mu      sync.Mutex
	handle  map[string]http.HandlerFunc
	hits    map[string]int
	arrived chan string   // each request's path as it arrives
	gate    chan struct{} // when set, each request waits for a receive... or a close
	inside  atomic.Int32  // requests being handled
}

func newSafetyOrigin(t *testing.T) *safetyOrigin {
	t.Helper()
	o := &safetyOrigin{handle: map[string]http.HandlerFunc{}, hits: map[string]int{}, arrived: make(chan string, 256)}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.inside.Add(1)
		defer o.inside.Add(-1)
		o.mu.Lock()
		o.hits[r.URL.Path]++
		hf := o.handle[r.URL.Path]
		gate := o.gate
		o.mu.Unlock()
		o.arrived <- r.URL.Path
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if hf == nil {
			http.NotFound(w, r)
			return
		}
		hf(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *safetyOrigin) set(path string, hf http.HandlerFunc) {
	o.mu.Lock()
	o.handle[path] = hf
	o.mu.Unlock()
}

func (o *safetyOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

// hold makes requests wait at the origin until release.
func (o *safetyOrigin) hold() (release func()) {
	gate := make(chan struct{})
	o.mu.Lock()
	o.gate = gate
	o.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			o.gate = nil
			o.mu.Unlock()
			close(gate)
		})
	}
}

// waitArrivals waits until n requests have reached the origin.
func (o *safetyOrigin) waitArrivals(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-o.arrived:
		case <-deadline:
			t.Fatalf("only %d of %d requests reached the origin", i, n)
		}
	}
}

// page answers with the visitor's own page: "user=" and its uid cookie.
func page(cc string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		user := "anonymous"
		if c, err := r.Cookie("uid"); err == nil {
			user = c.Value
		}
		fmt.Fprintf(w, "<html><body><p>user=%s</p><footer>f</footer></body></html>", user)
	}
}

type safetyEdge struct {
	h     *Handler
	store *cache.Store
	log   *syncBuffer
}

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

func newSafetyEdge(t *testing.T, o *safetyOrigin, tweak func(*Options)) *safetyEdge {
	t.Helper()
	u, _ := url.Parse(o.srv.URL)
	store, err := cache.Open(cache.Options{Dir: t.TempDir(), MaxSize: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	logs := &syncBuffer{}
	opts := Options{
		Hosts:       []string{"icp.example.test"},
		Origin:      u,
		Rewrite:     rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}},
		Cache:       store,
		CachePolicy: cache.Policy{StaleIfError: 7 * 24 * time.Hour},
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &safetyEdge{h: h, store: store, log: logs}
}

// do sends one request through the handler; hdr is name, value pairs.
func (e *safetyEdge) do(method, path string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://icp.example.test"+path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	func() {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				panic(v)
			}
		}()
		e.h.ServeHTTP(w, r)
	}()
	return w
}

func (e *safetyEdge) get(path string, hdr ...string) *httptest.ResponseRecorder {
	return e.do(http.MethodGet, path, nil, hdr...)
}

// getWithin is get, failing the test if no answer comes within d (an
// origin stall the edge doesn't give up on).
func (e *safetyEdge) getWithin(t *testing.T, d time.Duration, path string) *httptest.ResponseRecorder {
	t.Helper()
	got := make(chan *httptest.ResponseRecorder, 1)
	go func() { got <- e.get(path) }()
	select {
	case w := <-got:
		return w
	case <-time.After(d):
		t.Fatalf("GET %s: no answer within %v", path, d)
		return nil
	}
}

// waitWaiters waits until n requests wait on the fill of path.
func (e *safetyEdge) waitWaiters(t *testing.T, path string, n int) {
	t.Helper()
	key := cacheKey(rewrite.Edge{Scheme: "http", Host: "icp.example.test"}, &url.URL{Path: path})
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.h.mu.Lock()
		f := e.h.flights[key]
		got := 0
		if f != nil {
			got = f.waiters
		}
		e.h.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests wait on the fill of %s; want %d", got, path, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func cacheStatusOf(w *httptest.ResponseRecorder) string { return w.Header().Get("Cache-Status") }

// A request that arrives while another fetches the same URL gets that
// response only if it may be reused: stored and fresh for it. Anything
// else goes to the origin again, so one visitor's page never reaches
// another (RFC 9111 §4).
func TestCoalescingSharesOnlyFresh(t *testing.T) {
	tests := []struct {
		name         string
		cc           string
		leader, next []string // request headers
		shared       bool
	}{
		{"cookie visitor's no-cache page", "no-cache", []string{"Cookie", "uid=A"}, []string{"Cookie", "uid=B"}, false},
		{"cookie visitor's page without cache-control", "", []string{"Cookie", "uid=A"}, nil, false},
		{"public but no-cache", "public, no-cache", []string{"Cookie", "uid=A"}, []string{"Cookie", "uid=B"}, false},
		{"public max-age=0", "public, max-age=0", []string{"Cookie", "uid=A"}, nil, false},
		{"s-maxage=0", "s-maxage=0", []string{"Cookie", "uid=A"}, []string{"Cookie", "uid=B"}, false},
		{"must-revalidate, stale on arrival", "max-age=0, must-revalidate", nil, []string{"Cookie", "uid=B"}, false},
		{"anonymous page without freshness", "", nil, []string{"Cookie", "uid=B"}, false},
		{"fresh and stored", "max-age=60", nil, []string{"Cookie", "uid=B"}, true},
		{"explicitly public for a cookie visitor", "public, max-age=60", []string{"Cookie", "uid=A"}, nil, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newSafetyOrigin(t)
			e := newSafetyEdge(t, o, nil)
			path := fmt.Sprintf("/account%d", i)
			o.set(path, page(tt.cc))
			release := o.hold()
			defer release()

			var wg sync.WaitGroup
			var first, second *httptest.ResponseRecorder
			wg.Add(1)
			go func() { defer wg.Done(); first = e.get(path, tt.leader...) }()
			o.waitArrivals(t, 1)
			wg.Add(1)
			go func() { defer wg.Done(); second = e.get(path, tt.next...) }()
			e.waitWaiters(t, path, 1)
			release()
			wg.Wait()

			want := "user=anonymous"
			if len(tt.next) > 0 {
				want = "user=B"
			}
			if tt.shared {
				if n := o.count(path); n != 1 {
					t.Errorf("origin saw %d requests; want 1 (the waiter takes the shared response)", n)
				}
				if cs := cacheStatusOf(second); !strings.Contains(cs, "collapsed") {
					t.Errorf("waiter's Cache-Status %q; want collapsed", cs)
				}
				if first.Body.String() != second.Body.String() {
					t.Errorf("waiter got %q; want the leader's %q", abbrevTest(second.Body.String()), abbrevTest(first.Body.String()))
				}
				return
			}
			if !strings.Contains(second.Body.String(), want) {
				t.Errorf("waiter got %q; want its own page (%s)", abbrevTest(second.Body.String()), want)
			}
			if n := o.count(path); n != 2 {
				t.Errorf("origin saw %d requests; want 2", n)
			}
			if cs := cacheStatusOf(second); cs != "icpedge; fwd=miss; detail=uncollapsible" {
				t.Errorf("waiter's Cache-Status %q; want fwd=miss; detail=uncollapsible", cs)
			}
		})
	}
}

// Many waiters on a shareable fill still make one origin request.
func TestCoalescingOneOriginRequest(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	o.set("/p", page("public, max-age=60"))
	release := o.hold()
	defer release()
	var wg sync.WaitGroup
	bodies := make([]string, 10)
	wg.Add(1)
	go func() { defer wg.Done(); bodies[0] = e.get("/p").Body.String() }()
	o.waitArrivals(t, 1)
	for i := 1; i < len(bodies); i++ {
		wg.Add(1)
		go func() { defer wg.Done(); bodies[i] = e.get("/p", "Cookie", "_ga=GA1.2.3").Body.String() }()
	}
	e.waitWaiters(t, "/p", len(bodies)-1)
	release()
	wg.Wait()
	if n := o.count("/p"); n != 1 {
		t.Errorf("origin saw %d requests for %d concurrent misses; want 1", n, len(bodies))
	}
	for _, b := range bodies {
		if b != bodies[0] || !strings.Contains(b, "user=anonymous") {
			t.Fatalf("bodies differ: %q vs %q", b, bodies[0])
		}
	}
}

// Once a fill is known not to be shareable, later requests for the URL go
// to the origin at once instead of queueing behind one another, until a
// fill can be shared again or the mark expires.
func TestHitForMiss(t *testing.T) {
	o := newSafetyOrigin(t)
	var clock atomic.Int64 // offset added to the real time
	e := newSafetyEdge(t, o, func(opts *Options) {
		opts.Now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	})
	o.set("/acct", page("no-cache"))
	if w := e.get("/acct"); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	<-o.arrived

	// Two at once both reach the origin: neither waits for the other.
	release := o.hold()
	var wg sync.WaitGroup
	for _, user := range []string{"C", "D"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w := e.get("/acct", "Cookie", "uid="+user); !strings.Contains(w.Body.String(), "user="+user) {
				t.Errorf("%s got %q; want its own page", user, abbrevTest(w.Body.String()))
			}
		}()
	}
	o.waitArrivals(t, 2)
	release()
	wg.Wait()

	// A shareable answer ends the mark: waiting pays off again.
	o.set("/acct", page("max-age=60"))
	e.get("/acct")
	<-o.arrived
	key := cacheKey(rewrite.Edge{Scheme: "http", Host: "icp.example.test"}, &url.URL{Path: "/acct"})
	if e.h.hitForMiss(key) {
		t.Errorf("still marked after a shareable fill")
	}

	// The mark lasts hitForMissTTL.
	o.set("/short", page("no-cache"))
	e.get("/short")
	<-o.arrived
	key = cacheKey(rewrite.Edge{Scheme: "http", Host: "icp.example.test"}, &url.URL{Path: "/short"})
	if !e.h.hitForMiss(key) {
		t.Fatalf("not marked after an unshareable fill")
	}
	clock.Store(int64(hitForMissTTL + time.Second))
	if e.h.hitForMiss(key) {
		t.Errorf("still marked %v later", hitForMissTTL+time.Second)
	}
}

// The marks are bounded: a flood of unshareable URLs can't grow them
// without limit.
func TestHitForMissBounded(t *testing.T) {
	h := &Handler{unshared: map[string]time.Time{}, now: time.Now}
	now := time.Now()
	for i := 0; i < maxHitForMiss+100; i++ {
		h.noteShareableLocked(fmt.Sprint("k", i), false, now)
	}
	if n := len(h.unshared); n > maxHitForMiss {
		t.Errorf("%d marks; want at most %d", n, maxHitForMiss)
	}
}

func TestGlobMatchFold(t *testing.T) {
	for _, tt := range []struct {
		glob, name string
		want       bool
	}{
		{"PHPSESSID", "PHPSESSID", true},
		{"PHPSESSID", "phpsessid", false}, // names are case-sensitive
		{"SESS*", "SESS0123abcd", true},
		{"SESS*", "sess", false},
		{"PHPSESSID", "PHPSESSID2", false},
		{"wordpress_logged_in_*", "wordpress_logged_in_0123abcd", true},
		{"wordpress_logged_in_*", "wordpress_logged_in_", true},
		{"wordpress_logged_in_*", "wordpress_test_cookie", false},
		{"*sess*", "my_session_x", true},
		{"a*b*c", "aXXbYYbZc", true},
		{"a*b*c", "aXXbYYbZ", false},
		{"?sid", "xsid", true},
		{"?sid", "sid", false},
		{"*", "_ga", true},
		{"SESS*", "_ga", false},
	} {
		if got := globMatch(tt.glob, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v; want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}

// A request carrying a session cookie is neither answered from the cache
// nor stored; analytics cookies change nothing.
func TestSessionCookieBypass(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	o.set("/p", page("public, max-age=60"))
	e.get("/p") // stored for everyone

	w := e.get("/p", "Cookie", "_ga=GA1.2.3; wordpress_logged_in_5f2a=admin%7C1; uid=admin")
	if cs := cacheStatusOf(w); cs != "icpedge; fwd=bypass; detail=session-cookie" {
		t.Errorf("Cache-Status %q; want icpedge; fwd=bypass; detail=session-cookie", cs)
	}
	if !strings.Contains(w.Body.String(), "user=admin") || o.count("/p") != 2 {
		t.Errorf("logged-in visitor got %q after %d origin requests; want its own page from the origin", abbrevTest(w.Body.String()), o.count("/p"))
	}
	if w := e.get("/p", "Cookie", "_ga=GA1.2.3; _gid=x"); !strings.HasPrefix(cacheStatusOf(w), "icpedge; hit") {
		t.Errorf("analytics cookies: Cache-Status %q; want a hit", cacheStatusOf(w))
	}

	o.set("/q", page("public, max-age=60"))
	e.get("/q", "Cookie", "PHPSESSID=abc; uid=admin")
	if w := e.get("/q"); strings.Contains(w.Body.String(), "admin") || o.count("/q") != 2 {
		t.Errorf("anonymous visitor got %q (%s); want a fresh anonymous page: nothing stored for the session", abbrevTest(w.Body.String()), cacheStatusOf(w))
	}

	// Custom lists replace the default; an empty one bypasses nothing.
	custom := newSafetyEdge(t, o, func(opts *Options) { opts.BypassCookies = []string{"my_app_*"} })
	custom.get("/p")
	if w := custom.get("/p", "Cookie", "PHPSESSID=1"); !strings.HasPrefix(cacheStatusOf(w), "icpedge; hit") {
		t.Errorf("PHPSESSID with a custom list: %q; want a hit", cacheStatusOf(w))
	}
	if w := custom.get("/p", "Cookie", "a=1; my_app_session=1"); cacheStatusOf(w) != "icpedge; fwd=bypass; detail=session-cookie" {
		t.Errorf("my_app_* with a custom list: %q; want a bypass", cacheStatusOf(w))
	}
	none := newSafetyEdge(t, o, func(opts *Options) { opts.BypassCookies = []string{} })
	none.get("/p")
	if w := none.get("/p", "Cookie", "PHPSESSID=1"); !strings.HasPrefix(cacheStatusOf(w), "icpedge; hit") {
		t.Errorf("PHPSESSID with no list: %q; want a hit", cacheStatusOf(w))
	}
}

// A response to a request with cookies is kept only when the origin says
// it may be shared: otherwise it could be served to anyone later, as the
// stale copy when the origin fails.
func TestCookieResponseNotStoredImplicitly(t *testing.T) {
	o := newSafetyOrigin(t)
	var clock atomic.Int64
	e := newSafetyEdge(t, o, func(opts *Options) {
		opts.Now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	})
	lastMod := time.Now().Add(-24 * time.Hour).UTC().Format(http.TimeFormat)
	o.set("/account", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", lastMod) // heuristic freshness
		page("")(w, r)
	})
	o.set("/explicit", page("max-age=60"))

	w := e.get("/account", "Cookie", "uid=A")
	if cs := cacheStatusOf(w); cs != "icpedge; fwd=miss; detail=cookie" {
		t.Errorf("Cache-Status %q; want icpedge; fwd=miss; detail=cookie", cs)
	}
	e.get("/explicit", "Cookie", "uid=A")
	clock.Store(int64(time.Hour)) // everything is stale now

	o.set("/account", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	o.set("/explicit", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) })
	w = e.get("/account")
	if strings.Contains(w.Body.String(), "user=A") {
		t.Errorf("anonymous visitor got A's page (%s) while the origin fails", cacheStatusOf(w))
	}
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status %d; want the origin's 500: there is no stored copy", w.Code)
	}
	// What the origin explicitly shared is kept, and rides out the failure.
	w = e.get("/explicit")
	if w.Code != 200 || !strings.Contains(cacheStatusOf(w), "stale-if-error") {
		t.Errorf("explicitly shareable page: %d %q; want the stale copy", w.Code, cacheStatusOf(w))
	}
}

// A cookie visitor's unstorable answer leaves the copy stored for
// everyone else alone.
func TestCookieResponseKeepsStoredCopy(t *testing.T) {
	o := newSafetyOrigin(t)
	var clock atomic.Int64
	e := newSafetyEdge(t, o, func(opts *Options) {
		opts.Now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	})
	o.set("/", page("max-age=60"))
	e.get("/")
	clock.Store(int64(time.Hour))
	o.set("/", page("")) // no freshness now, and the visitor has a cookie
	if w := e.get("/", "Cookie", "uid=A"); !strings.Contains(w.Body.String(), "user=A") {
		t.Fatalf("cookie visitor got %q; want its own page", abbrevTest(w.Body.String()))
	}
	o.set("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	w := e.get("/")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "user=anonymous") {
		t.Errorf("after a cookie visitor's fill, origin down: %d %q; want the anonymous stale copy", w.Code, abbrevTest(w.Body.String()))
	}
}

// A 304 to a cookie visitor's revalidation confirms the stored body: it is
// served and its freshness updated, though the visitor's own answer
// could not have been stored.
func TestCookieRevalidation304(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	o.set("/e", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		page("")(w, r) // no freshness: every use revalidates
	})
	e.get("/e")
	w := e.get("/e", "Cookie", "uid=A")
	if cs := cacheStatusOf(w); w.Code != 200 || !strings.Contains(cs, "fwd-status=304") || !strings.Contains(w.Body.String(), "user=anonymous") {
		t.Errorf("status %d, %q, body %q; want the stored page, revalidated", w.Code, cs, abbrevTest(w.Body.String()))
	}
	if n := o.count("/e"); n != 2 {
		t.Errorf("origin saw %d requests; want 2", n)
	}
}

// A GET or HEAD with a body goes to the origin and is never stored: the
// key can't cover what the body made the origin do.
func TestRequestBodyBypasses(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	o.set("/page", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "public, max-age=600")
		fmt.Fprintf(w, "<html><body><p>got %s</p></body></html>", b)
	})
	w := e.do(http.MethodGet, "/page", strings.NewReader("lang=<script>alert(1)</script>"))
	if cs := cacheStatusOf(w); cs != "icpedge; fwd=bypass; detail=request-body" {
		t.Errorf("Cache-Status %q; want icpedge; fwd=bypass; detail=request-body", cs)
	}
	if !strings.Contains(w.Body.String(), "<script>") {
		t.Errorf("origin did not get the body: %q", abbrevTest(w.Body.String()))
	}
	w = e.get("/page")
	if strings.Contains(w.Body.String(), "<script>") || o.count("/page") != 2 {
		t.Errorf("plain visitor got %q (%s); want a page fetched for it", abbrevTest(w.Body.String()), cacheStatusOf(w))
	}
	// Chunked, with no length: still a body.
	r := httptest.NewRequest(http.MethodHead, "http://icp.example.test/page", strings.NewReader("x"))
	r.ContentLength = -1
	hw := httptest.NewRecorder()
	e.h.ServeHTTP(hw, r)
	if cs := cacheStatusOf(hw); cs != "icpedge; fwd=bypass; detail=request-body" {
		t.Errorf("HEAD with a chunked body: Cache-Status %q; want a bypass", cs)
	}
}

// gzipOf compresses b.
func gzipOf(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// A compressed body that inflates past MaxHTMLSize at more than 100 times
// its size is cut off, on every path that decodes: answered 502 where
// nothing was sent yet, the transfer cut where it was, and a log line
// names the origin URL.
func TestInflateLimit(t *testing.T) {
	const maxHTML = 1 << 20
	const inflated = 16 << 20
	bomb := gzipOf(t, bytes.Repeat([]byte(" "), inflated)) // 16 MiB from ~16 KiB
	// A page that passes MaxHTMLSize at an ordinary ratio (its first 40 KB
	// hardly compress), is streamed, and then turns into a bomb.
	noise := make([]byte, 20<<10)
	mrand.New(mrand.NewSource(1)).Read(noise)
	late := []byte("<html><body><!--" + hex.EncodeToString(noise) + "-->")
	lateBomb := gzipOf(t, append(late, bytes.Repeat([]byte(" "), inflated)...))
	// A legitimate compressible page well over MaxHTMLSize passes.
	legit := benchPage(2 * maxHTML)
	legitGz := gzipOf(t, legit)

	o := newSafetyOrigin(t)
	serve := func(ctype, cc string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Content-Encoding", "gzip")
			if cc != "" {
				w.Header().Set("Cache-Control", cc)
			}
			w.Write(body)
		}
	}
	o.set("/cached.html", serve("text/html", "max-age=60", bomb))
	o.set("/nostore.html", serve("text/html", "no-store", bomb))
	o.set("/style.css", serve("text/css", "no-store", bomb))
	o.set("/cached.css", serve("text/css", "max-age=60", bomb))
	o.set("/blob", serve("application/octet-stream", "no-store", bomb))
	o.set("/cached.blob", serve("application/octet-stream", "max-age=60", bomb))
	o.set("/late.html", serve("text/html", "no-store", lateBomb))
	o.set("/legit.html", serve("text/html", "max-age=60", legitGz))
	e := newSafetyEdge(t, o, func(opts *Options) { opts.MaxHTMLSize = maxHTML })

	for _, tt := range []struct {
		path  string
		hdr   []string
		want  int  // status; 0: whatever was sent before the cut
		limit bool // the transfer was cut: the body stays small
	}{
		{"/cached.html", nil, http.StatusBadGateway, true},
		{"/nostore.html", nil, http.StatusBadGateway, true},
		{"/style.css", nil, http.StatusBadGateway, true},
		{"/cached.css", nil, http.StatusBadGateway, true},
		{"/cached.blob", nil, http.StatusBadGateway, true},
		{"/blob", nil, 0, true},                                    // decoded while streaming: cut
		{"/blob", []string{"Accept-Encoding", "gzip"}, 200, false}, // passed on as it came, never inflated
		{"/late.html", nil, 0, true},                               // streamed with the notice, then cut
	} {
		t.Run(tt.path+strings.Join(tt.hdr, "="), func(t *testing.T) {
			w := e.get(tt.path, tt.hdr...)
			if tt.want != 0 && w.Code != tt.want {
				t.Errorf("status %d; want %d", w.Code, tt.want)
			}
			// The cut comes once the body is past MaxHTMLSize and 100
			// times what was read of the compressed body, which the
			// decoder reads ahead: well before the whole bomb.
			if tt.limit && w.Body.Len() > inflated/2 {
				t.Errorf("%d bytes sent; want the transfer cut long before %d", w.Body.Len(), inflated)
			}
			if w.Code == http.StatusBadGateway && !strings.Contains(w.Body.String(), "beian.miit.gov.cn") {
				t.Errorf("502 page without the notice")
			}
			if tt.limit && !strings.Contains(e.log.String(), "url="+o.srv.URL+tt.path) {
				t.Errorf("no log line naming %s:\n%s", o.srv.URL+tt.path, e.log.String())
			}
		})
	}
	w := e.get("/legit.html")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "beian.miit.gov.cn") || w.Body.Len() < len(legit) {
		t.Errorf("legitimate large page: status %d, %d bytes; want it whole with the notice", w.Code, w.Body.Len())
	}
}

// The origin failing halfway through a body (a reset, or a stall longer
// than OriginIdleTimeout) is an origin failure like a 5xx: the stored copy
// is served when the rules allow, else 502 or 504, never a wait of
// minutes.
func TestMidBodyFailureServesStale(t *testing.T) {
	o := newSafetyOrigin(t)
	var clock atomic.Int64
	e := newSafetyEdge(t, o, func(opts *Options) {
		opts.OriginIdleTimeout = time.Second
		opts.Now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	})
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	good := page("max-age=60")
	half := func(hang bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", "100000")
			w.Header().Set("Cache-Control", "max-age=60")
			w.Write(bytes.Repeat([]byte("<p>partial</p>"), 100))
			w.(http.Flusher).Flush()
			if hang {
				select {
				case <-stall:
				case <-r.Context().Done():
				}
				return
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}
	for _, tt := range []struct {
		name   string
		hang   bool
		status string
	}{
		{"reset", false, "fwd-status=502"},
		{"stall", true, "fwd-status=504"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := "/" + tt.name
			o.set(path, good)
			clock.Store(0)
			if w := e.get(path); w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			clock.Store(int64(time.Hour))
			o.set(path, half(tt.hang))
			w := e.getWithin(t, 20*time.Second, path)
			if w.Code != 200 || !strings.Contains(w.Body.String(), "user=anonymous") || strings.Contains(w.Body.String(), "partial") {
				t.Errorf("status %d, body %q; want the stored copy", w.Code, abbrevTest(w.Body.String()))
			}
			if cs := cacheStatusOf(w); !strings.Contains(cs, tt.status) || !strings.Contains(cs, "stale-if-error") {
				t.Errorf("Cache-Status %q; want %s and stale-if-error", cs, tt.status)
			}
			// Nothing stored to fall back on: an error page, promptly.
			o.set(path+"-new", half(tt.hang))
			w = e.getWithin(t, 20*time.Second, path+"-new")
			if want := map[bool]int{false: 502, true: 504}[tt.hang]; w.Code != want {
				t.Errorf("never stored: status %d; want %d", w.Code, want)
			}
		})
	}
}

// The idle limit bounds each wait, not the whole body: an origin that
// sends slowly but steadily is not cut off.
func TestOriginIdleCountsGapsOnly(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, func(opts *Options) { opts.OriginIdleTimeout = 2 * time.Second })
	o.set("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "no-store")
		for i := 0; i < 15; i++ {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(200 * time.Millisecond) // 3s in all, each gap well under the limit
		}
	})
	w := e.get("/slow")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "chunk 14") {
		t.Errorf("status %d, body %q; want all 15 chunks", w.Code, abbrevTest(w.Body.String()))
	}
}

func abbrevTest(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
