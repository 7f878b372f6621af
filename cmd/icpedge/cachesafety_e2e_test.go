package main

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// safeOrigin personalises pages by the visitor's "uid" cookie, lets each
// test set what a path answers, and can hold requests at the door.
type safeOrigin struct {
	*httptest.Server
	mu      sync.Mutex
	hits    map[string]int
	handle  map[string]http.HandlerFunc
	gate    chan struct{}
	arrived chan string
	stall   chan struct{} // closed when the test ends
}

func newSafeOrigin(t *testing.T) *safeOrigin {
	o := &safeOrigin{hits: map[string]int{}, handle: map[string]http.HandlerFunc{}, arrived: make(chan string, 1024), stall: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		hf, gate := o.handle[r.URL.Path], o.gate
		o.mu.Unlock()
		select {
		case o.arrived <- r.URL.Path:
		default:
		}
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
	t.Cleanup(o.Close)
	t.Cleanup(func() { close(o.stall) }) // runs first: stalled handlers return
	return o
}

func (o *safeOrigin) set(path string, hf http.HandlerFunc) {
	o.mu.Lock()
	o.handle[path] = hf
	o.mu.Unlock()
}

func (o *safeOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

func (o *safeOrigin) hold() (release func()) {
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

func (o *safeOrigin) waitArrival(t *testing.T, path string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case p := <-o.arrived:
			if p == path {
				return
			}
		case <-deadline:
			t.Fatalf("no request for %s reached the origin", path)
		}
	}
}

// userPage answers with the visitor's own page, "user=" its uid cookie.
func userPage(cc string, extra ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			w.Header().Set(extra[i], extra[i+1])
		}
		user := "anonymous"
		if c, err := r.Cookie("uid"); err == nil {
			user = c.Value
		}
		fmt.Fprintf(w, "<html><body><p>user=%s</p><footer>f</footer></body></html>", user)
	}
}

// head is the start of a page, enough to show whose it is.
func head(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

// drain forgets the arrivals seen so far.
func (o *safeOrigin) drain() {
	for {
		select {
		case <-o.arrived:
		default:
			return
		}
	}
}

// gzipBomb returns a gzip stream of n spaces (n a multiple of 1 MiB),
// built by repeating one compressed megabyte, so a gigabyte costs
// milliseconds to make.
func gzipBomb(n int64) []byte {
	mb := bytes.Repeat([]byte(" "), 1<<20)
	var seg bytes.Buffer
	fw, _ := flate.NewWriter(&seg, flate.BestCompression)
	fw.Write(mb)
	fw.Flush() // byte-aligned, not final: the segment can follow itself
	var out bytes.Buffer
	out.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	crc := crc32.NewIEEE()
	for i := int64(0); i < n>>20; i++ {
		out.Write(seg.Bytes())
		crc.Write(mb)
	}
	out.Write([]byte{0x03, 0x00}) // an empty final block
	binary.Write(&out, binary.LittleEndian, crc.Sum32())
	binary.Write(&out, binary.LittleEndian, uint32(n))
	return out.Bytes()
}

// waitLogMatch waits until the process has logged a line holding every
// one of parts. t is the (sub)test waiting.
func (e *edgeProc) waitLogMatch(t *testing.T, timeout time.Duration, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(e.Log(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("icpedge did not log a line with %q within %v:\n%s", parts, timeout, e.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCacheSafetyE2E: one visitor's page never reaches another through the
// cache, and broken origins can't make the edge inflate or wait without
// end.
func TestCacheSafetyE2E(t *testing.T) {
	o := newSafeOrigin(t)
	e, c := startCacheEdge(t, o.URL, t.TempDir(), "log:\n  level: debug\n")

	t.Run("a waiter never gets the page fetched for another visitor", func(t *testing.T) {
		for i, tt := range []struct {
			cc           string
			leader, next map[string]string
			want         string
		}{
			// The case: A's account page, answered no-cache.
			{"no-cache", map[string]string{"Cookie": "uid=A"}, map[string]string{"Cookie": "uid=B"}, "user=B"},
			// The admin's page with no Cache-Control; an anonymous visitor.
			{"", map[string]string{"Cookie": "uid=admin"}, nil, "user=anonymous"},
			// Stored, but stale on arrival: must be validated per use.
			{"public, max-age=0", map[string]string{"Cookie": "uid=A"}, nil, "user=anonymous"},
		} {
			path := fmt.Sprintf("/account%d", i)
			o.set(path, userPage(tt.cc))
			release := o.hold()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); c.get(path, tt.leader) }()
			o.waitArrival(t, path)
			var body []byte
			var resp *http.Response
			wg.Add(1)
			go func() { defer wg.Done(); resp, body = c.get(path, tt.next) }()
			e.waitLogMatch(t, 20*time.Second, `msg="waiting for the fill in progress"`, path)
			release()
			wg.Wait()
			if !strings.Contains(string(body), tt.want) {
				t.Errorf("%s (%q): waiter got %q; want %s", path, tt.cc, head(body), tt.want)
			}
			if got := cacheStatus(resp); got != "icpedge; fwd=miss; detail=uncollapsible" {
				t.Errorf("%s: waiter's Cache-Status %q; want icpedge; fwd=miss; detail=uncollapsible", path, got)
			}
		}
	})

	t.Run("after an unshareable fill, requests don't queue", func(t *testing.T) {
		// A cookie visitor's no-cache page can't be shared: afterwards,
		// two requests at once both reach the origin, neither waiting
		// for the other.
		c.get("/account0", map[string]string{"Cookie": "uid=Z"})
		o.drain()
		release := o.hold()
		defer release()
		var wg sync.WaitGroup
		for _, u := range []string{"C", "D"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, b := c.get("/account0", map[string]string{"Cookie": "uid=" + u}); !strings.Contains(string(b), "user="+u) {
					t.Errorf("%s got %q; want its own page", u, head(b))
				}
			}()
		}
		o.waitArrival(t, "/account0")
		o.waitArrival(t, "/account0")
		release()
		wg.Wait()
	})

	t.Run("session cookies bypass; analytics cookies don't", func(t *testing.T) {
		o.set("/home", userPage("public, max-age=600"))
		c.get("/home", nil)
		resp, body := c.get("/home", map[string]string{"Cookie": "_ga=GA1.2.3; wordpress_logged_in_0f3a=admin%7C17; uid=admin"})
		if got := cacheStatus(resp); got != "icpedge; fwd=bypass; detail=session-cookie" {
			t.Errorf("Cache-Status %q; want icpedge; fwd=bypass; detail=session-cookie", got)
		}
		if !strings.Contains(string(body), "user=admin") {
			t.Errorf("logged-in visitor got %q; want its own page", head(body))
		}
		resp, _ = c.get("/home", map[string]string{"Cookie": "_ga=GA1.2.3; _gid=GA1.2.4"})
		wantStatus(t, resp, "hit")

		o.set("/shop", userPage("public, max-age=600"))
		c.get("/shop", map[string]string{"Cookie": "PHPSESSID=s1; uid=buyer"})
		resp, body = c.get("/shop", nil)
		if strings.Contains(string(body), "buyer") || o.count("/shop") != 2 {
			t.Errorf("anonymous visitor got %q (%s); want a page of its own, nothing stored for the session", head(body), cacheStatus(resp))
		}
	})

	t.Run("a cookie visitor's page is not kept to serve when the origin fails", func(t *testing.T) {
		lastMod := time.Now().Add(-240 * time.Hour).UTC().Format(http.TimeFormat)
		o.set("/profile", userPage("", "Last-Modified", lastMod))
		resp, _ := c.get("/profile", map[string]string{"Cookie": "uid=A"})
		if got := cacheStatus(resp); got != "icpedge; fwd=miss; detail=cookie" {
			t.Errorf("Cache-Status %q; want icpedge; fwd=miss; detail=cookie", got)
		}
		o.set("/profile", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
		resp, body := c.get("/profile", nil)
		if strings.Contains(string(body), "user=A") || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("origin failing: %d %q (%s); want the origin's 503, never A's page", resp.StatusCode, head(body), cacheStatus(resp))
		}
	})

	t.Run("a GET with a body is not cached", func(t *testing.T) {
		o.set("/search", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "public, max-age=600")
			fmt.Fprintf(w, "<html><body><p>q=%s</p></body></html>", b)
		})
		resp, body := c.do("GET", testHost, "/search", strings.NewReader("lang=<script>alert(1)</script>"), nil)
		if got := cacheStatus(resp); got != "icpedge; fwd=bypass; detail=request-body" {
			t.Errorf("Cache-Status %q; want icpedge; fwd=bypass; detail=request-body", got)
		}
		mustContain(t, string(body), "<script>")
		resp, body = c.get("/search", nil)
		if strings.Contains(string(body), "<script>") {
			t.Errorf("the next visitor got the body's script (%s)", cacheStatus(resp))
		}
	})

	t.Run("a gzip bomb is cut off", func(t *testing.T) {
		bomb := gzipBomb(1 << 30) // 1 GiB from about 1 MiB
		serve := func(ctype, cc string) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ctype)
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Cache-Control", cc)
				w.Write(bomb)
			}
		}
		o.set("/bomb.html", serve("text/html", "public, max-age=600"))
		o.set("/bomb.bin", serve("application/octet-stream", "no-store"))
		resp, body := c.get("/bomb.html", nil)
		if resp.StatusCode != http.StatusBadGateway || countNotices(string(body)) != 1 {
			t.Errorf("status %d; want 502 with the notice", resp.StatusCode)
		}
		e.waitLogMatch(t, 10*time.Second, `msg="origin body cut off: it inflates too far"`, "url="+o.URL+"/bomb.html")

		// Streamed to a visitor that doesn't take gzip: decoded, and cut.
		req, _ := http.NewRequest("GET", "http://"+testHost+":"+portOf(c.addr)+"/bomb.bin", nil)
		r, err := c.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if n > 64<<20 {
			t.Errorf("edge sent %d decoded bytes; want it cut off near html.max_size (8 MiB)", n)
		}
		e.waitLogMatch(t, 10*time.Second, `msg="origin body cut off: it inflates too far"`, "url="+o.URL+"/bomb.bin")
	})
}

// TestOriginMidBodyFailureE2E: an origin that resets or stalls after the
// headers is an origin failure like a 5xx: the stored copy is served, and
// with none, an error page comes within timeouts.origin_idle, not minutes.
func TestOriginMidBodyFailureE2E(t *testing.T) {
	o := newSafeOrigin(t)
	cfg := strings.Replace(cacheConfig(o.URL, t.TempDir(), ""), "  response: 5s\n", "  response: 5s\n  origin_idle: 1s\n", 1)
	e := startEdge(t, writeConfig(t, cfg))
	e.waitListening(2, 20*time.Second)
	c := newEdgeClient(t, e)
	half := func(stall bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", "100000")
			w.Header().Set("Cache-Control", "max-age=1")
			w.Write(bytes.Repeat([]byte("<p>partial</p>"), 100))
			w.(http.Flusher).Flush()
			if stall {
				select {
				case <-o.stall:
				case <-r.Context().Done():
				}
				return
			}
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		}
	}
	for _, tt := range []struct {
		name  string
		stall bool
		code  int
	}{
		{"reset", false, http.StatusBadGateway},
		{"stall", true, http.StatusGatewayTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := "/mid-" + tt.name
			o.set(path, userPage("max-age=1"))
			_, stored := c.get(path, nil)
			time.Sleep(1500 * time.Millisecond) // max-age=1: stale now
			o.set(path, half(tt.stall))
			resp, body := c.get(path, nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, stored) {
				t.Errorf("status %d, %q; want the stored copy", resp.StatusCode, head(body))
			}
			if cs := cacheStatus(resp); !strings.Contains(cs, fmt.Sprintf("fwd-status=%d", tt.code)) || !strings.Contains(cs, "stale-if-error") {
				t.Errorf("Cache-Status %q; want fwd-status=%d and stale-if-error", cs, tt.code)
			}
			o.set(path+"-new", half(tt.stall))
			resp, body = c.get(path+"-new", nil)
			if resp.StatusCode != tt.code || countNotices(string(body)) != 1 {
				t.Errorf("nothing stored: status %d; want %d with the notice", resp.StatusCode, tt.code)
			}
		})
	}
}

// TestCacheSafetyConfigE2E: the new keys are checked like every other,
// and a custom bypass list replaces the default.
func TestCacheSafetyConfigE2E(t *testing.T) {
	text := cacheConfig("http://127.0.0.1:1", t.TempDir(), "cache:\n  bypass_cookies: [PHPSESSID, \"wp session\"]\n")
	text = strings.Replace(text, "  response: 5s\n", "  response: 5s\n  origin_idle: 0s\n", 1)
	lineOf := func(s string) int { return strings.Count(text[:strings.Index(text, s)], "\n") + 1 }
	bad := writeConfig(t, text)
	out, err := exec.Command(binPath, "validate", "--config", bad).CombinedOutput()
	if err == nil {
		t.Fatalf("validate passed a bad file: %s", out)
	}
	for _, want := range []string{
		fmt.Sprintf(`%s:%d: timeouts.origin_idle: "0s" is zero; expected a positive duration, e.g. 30s`, bad, lineOf("origin_idle")),
		fmt.Sprintf(`%s:%d: cache.bypass_cookies[1]: "wp session" is not a cookie name pattern (has a space); expected a cookie name, or a glob of them with * and ?, e.g. wordpress_logged_in_*`, bad, lineOf("bypass_cookies")),
	} {
		mustContain(t, string(out), want)
	}

	o := newSafeOrigin(t)
	o.set("/p", userPage("public, max-age=600"))
	_, c := startCacheEdge(t, o.URL, t.TempDir(), "cache:\n  bypass_cookies: [my_app_*]\n")
	c.get("/p", nil)
	resp, _ := c.get("/p", map[string]string{"Cookie": "PHPSESSID=1"})
	wantStatus(t, resp, "hit")
	resp, _ = c.get("/p", map[string]string{"Cookie": "my_app_session=1"})
	if got := cacheStatus(resp); got != "icpedge; fwd=bypass; detail=session-cookie" {
		t.Errorf("Cache-Status %q; want icpedge; fwd=bypass; detail=session-cookie", got)
	}
}
