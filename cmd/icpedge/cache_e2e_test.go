package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cacheOrigin is an origin whose responses the cache tests shape per path.
type cacheOrigin struct {
	*httptest.Server
	hits    sync.Map // path → *atomic.Int64
	version atomic.Int64
	mu      sync.Mutex
	inm     []string // If-None-Match values seen
	// gate, while set, holds every request until it is closed, and
	// arrived hears of each held request: tests keep a fill in flight
	// for as long as they need, not for a guessed time.
	gate    chan struct{}
	arrived chan string
}

// hold makes the origin hold requests until the returned release is
// called (release is idempotent, and runs at the end of the test too).
func (o *cacheOrigin) hold(t *testing.T) (release func()) {
	gate := make(chan struct{})
	o.mu.Lock()
	o.gate = gate
	o.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			o.mu.Lock()
			o.gate = nil
			o.mu.Unlock()
			close(gate)
		})
	}
	t.Cleanup(release)
	return release
}

// waitArrived waits until a held request for path has reached the origin.
func (o *cacheOrigin) waitArrived(t *testing.T, path string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case p := <-o.arrived:
			if p == path {
				return
			}
		case <-deadline:
			t.Fatalf("no request for %s reached the origin within 60s", path)
		}
	}
}

func (o *cacheOrigin) count(path string) int64 {
	v, _ := o.hits.LoadOrStore(path, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

func newCacheOrigin(t *testing.T) *cacheOrigin {
	o := &cacheOrigin{arrived: make(chan string, 1024)}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := o.hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		o.mu.Lock()
		if inm := r.Header.Get("If-None-Match"); inm != "" {
			o.inm = append(o.inm, inm)
		}
		gate := o.gate
		o.mu.Unlock()
		if gate != nil {
			select {
			case o.arrived <- r.URL.Path:
			default:
			}
			select {
			case <-gate:
			case <-r.Context().Done():
			}
		}
		page := func(cc string) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if cc != "" {
				w.Header().Set("Cache-Control", cc)
			}
			fmt.Fprintf(w, "<html><head><title>%s</title></head><body><p>path=%s v=%d</p><p>%s</p><footer>f</footer></body></html>",
				r.URL.Path, r.URL.Path, o.version.Load(), strings.Repeat("filler text ", 100))
		}
		switch {
		case r.URL.Path == "/nocache", strings.HasPrefix(r.URL.Path, "/forced/"):
			page("no-cache, no-store")
		case r.URL.Path == "/cookie":
			w.Header().Set("Set-Cookie", "s=1")
			page("public, max-age=60")
		case r.URL.Path == "/private":
			page("private, max-age=60")
		case r.URL.Path == "/vary":
			w.Header().Set("Vary", "Accept-Language")
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "lang=%s", r.Header.Get("Accept-Language"))
		case r.URL.Path == "/etag" || r.URL.Path == "/reval":
			etag := `"v` + strconv.FormatInt(o.version.Load(), 10) + `"`
			w.Header().Set("ETag", etag)
			w.Header().Set("Cache-Control", "max-age=1")
			if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-None-Match") == "W/"+etag {
				if r.URL.Path == "/reval" {
					// The 304 extends the stored page's life (RFC 9111
					// §4.3.4), far beyond any delay of a busy machine.
					w.Header().Set("Cache-Control", "max-age=3600")
				}
				w.WriteHeader(http.StatusNotModified)
				return
			}
			page("")
		case r.URL.Path == "/swr":
			page("max-age=1, stale-while-revalidate=60")
		case r.URL.Path == "/short":
			page("max-age=1")
		case r.URL.Path == "/two":
			page("max-age=2")
		case r.URL.Path == "/reflect":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "public, max-age=60")
			for _, h := range []string{"X-Forwarded-Host", "X-Original-Url", "X-Rewrite-Url", "X-Forwarded-Scheme", "X-Host", "X-Forwarded-Port", "X-Http-Method-Override"} {
				fmt.Fprintf(w, "%s=%s\n", h, r.Header.Get(h))
			}
			fmt.Fprintf(w, "method=%s host=%s\n", r.Method, r.Host)
		case strings.HasPrefix(r.URL.Path, "/obj/"):
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Write(objectBody(r.URL.Path))
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusNoContent)
		default:
			page("public, max-age=60")
		}
	}))
	t.Cleanup(o.Close)
	return o
}

// objectBody is the deterministic body of /obj/... paths: the crash test
// checks every byte it gets back against it.
func objectBody(path string) []byte {
	seed := int64(0)
	for _, c := range path {
		seed = seed*31 + int64(c)
	}
	b := make([]byte, 20<<10+int(seed%(40<<10)))
	rand.New(rand.NewSource(seed)).Read(b)
	copy(b, path+"\n")
	return b
}

// cacheConfig is an edge config with the cache on. Ports are fixed when
// the test restarts the edge: the port is part of the cache key, as it is
// part of every URL the edge rewrites.
func cacheConfig(origin, stateDir, extra string, ports ...string) string {
	httpAddr, adminAddr := "127.0.0.1:0", "127.0.0.1:0"
	if len(ports) == 2 {
		httpAddr, adminAddr = ports[0], ports[1]
	}
	return fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: %s
state_dir: %s
notice:
  icp: %s
timeouts:
  response: 5s
admin:
  listen: %s
%s`, testHost, origin, httpAddr, stateDir, testICP, adminAddr, extra)
}

// startCacheEdge starts an edge with its cache and admin listener.
func startCacheEdge(t *testing.T, origin, stateDir, extra string, ports ...string) (*edgeProc, *edgeClient) {
	t.Helper()
	e := startEdge(t, writeConfig(t, cacheConfig(origin, stateDir, extra, ports...)))
	e.waitListening(2, 20*time.Second)
	return e, newEdgeClient(t, e)
}

func cacheStatus(resp *http.Response) string { return resp.Header.Get("Cache-Status") }

func wantStatus(t *testing.T, resp *http.Response, prefix string) {
	t.Helper()
	if got := cacheStatus(resp); !strings.HasPrefix(got, "icpedge; "+prefix) {
		t.Errorf("Cache-Status %q; want it to start with %q", got, "icpedge; "+prefix)
	}
}

func TestCacheE2E(t *testing.T) {
	o := newCacheOrigin(t)
	e, c := startCacheEdge(t, o.URL, t.TempDir(), "cache:\n  rules: [{path: /forced/, ttl: 5m, override: private}]\n")

	t.Run("miss then hit with notice and Age", func(t *testing.T) {
		resp, body := c.get("/page", nil)
		wantStatus(t, resp, "fwd=miss; stored")
		resp2, body2 := c.get("/page", nil)
		wantStatus(t, resp2, "hit")
		if o.count("/page") != 1 {
			t.Errorf("origin saw %d requests; want 1", o.count("/page"))
		}
		if !bytes.Equal(body, body2) || countNotices(string(body2)) != 1 {
			t.Errorf("hit body differs from miss body or lacks the notice")
		}
		if resp2.Header.Get("Age") == "" {
			t.Error("hit has no Age header")
		}
	})
	t.Run("precompressed variants", func(t *testing.T) {
		// The miss stored the page; its br variant is made in the
		// background, and hits get the fast gzip until it is in.
		waitFor(t, 2*time.Minute, "the stored br variant", func() bool {
			resp, _ := c.get("/page", map[string]string{"Accept-Encoding": "br"})
			return resp.Header.Get("Content-Encoding") == "br"
		})
		for _, enc := range []string{"br", "gzip"} {
			resp, body := c.get("/page", map[string]string{"Accept-Encoding": enc})
			wantStatus(t, resp, "hit")
			if resp.Header.Get("Content-Encoding") != enc {
				t.Fatalf("Content-Encoding %q; want %s", resp.Header.Get("Content-Encoding"), enc)
			}
			if n := countNotices(string(decodeTest(t, enc, body))); n != 1 {
				t.Errorf("%s hit has %d notices; want 1", enc, n)
			}
		}
	})
	t.Run("conditional, range and HEAD from the cache", func(t *testing.T) {
		resp, full := c.get("/page", nil)
		date := resp.Header.Get("Date")
		if date == "" {
			t.Fatal("stored response has no Date")
		}
		before := o.count("/page")
		// No validator on this page: If-Modified-Since is judged against
		// the stored Date (RFC 9110 §13.1.3).
		r304, _ := c.get("/page", map[string]string{"If-Modified-Since": date})
		if r304.StatusCode != http.StatusNotModified {
			t.Errorf("If-Modified-Since %s: status %d; want 304", date, r304.StatusCode)
		}
		r206, part := c.get("/page", map[string]string{"Range": "bytes=10-29"})
		if r206.StatusCode != http.StatusPartialContent || !bytes.Equal(part, full[10:30]) {
			t.Errorf("range: status %d body %q; want 206 with bytes 10-29", r206.StatusCode, part)
		}
		if got := r206.Header.Get("Content-Range"); got != fmt.Sprintf("bytes 10-29/%d", len(full)) {
			t.Errorf("Content-Range %q", got)
		}
		rh, hb := c.do("HEAD", testHost, "/page", nil, nil)
		if rh.StatusCode != 200 || len(hb) != 0 || rh.Header.Get("Content-Length") != strconv.Itoa(len(full)) {
			t.Errorf("HEAD: status %d, %d body bytes, Content-Length %q; want 200, none, %d", rh.StatusCode, len(hb), rh.Header.Get("Content-Length"), len(full))
		}
		if after := o.count("/page"); after != before {
			t.Errorf("origin saw %d more requests; want 0", after-before)
		}
	})
	t.Run("client conditional with the stored ETag", func(t *testing.T) {
		o.version.Store(0)
		c.get("/etag", nil)
		resp, _ := c.get("/etag", nil)
		etag := resp.Header.Get("ETag")
		if !strings.HasPrefix(etag, "W/") {
			t.Errorf("ETag %q of a rewritten page; want it weak", etag)
		}
		r304, _ := c.get("/etag", map[string]string{"If-None-Match": etag})
		if r304.StatusCode != http.StatusNotModified {
			t.Errorf("status %d; want 304", r304.StatusCode)
		}
	})
	t.Run("revalidation with the origin updates the entry", func(t *testing.T) {
		o.version.Store(0)
		c.get("/reval", nil)
		time.Sleep(1500 * time.Millisecond) // /reval has max-age=1
		before := o.count("/reval")
		resp, body := c.get("/reval", nil)
		wantStatus(t, resp, "fwd=stale; fwd-status=304")
		if o.count("/reval") != before+1 || countNotices(string(body)) != 1 {
			t.Errorf("origin requests %d→%d, %d notices; want one conditional request and the stored page", before, o.count("/reval"), countNotices(string(body)))
		}
		o.mu.Lock()
		inm := append([]string(nil), o.inm...)
		o.mu.Unlock()
		if len(inm) == 0 {
			t.Errorf("origin never saw If-None-Match")
		}
		// The 304 said max-age=3600: the stored page took it, and the
		// next request is a hit.
		resp, _ = c.get("/reval", nil)
		wantStatus(t, resp, "hit")
		if o.count("/reval") != before+1 {
			t.Errorf("origin saw %d requests after the revalidation; want none", o.count("/reval")-before-1)
		}
	})
	t.Run("no-store and private are not stored; Set-Cookie never", func(t *testing.T) {
		for _, p := range []string{"/nocache", "/private", "/cookie"} {
			c.get(p, nil)
			resp, _ := c.get(p, nil)
			if o.count(p) != 2 {
				t.Errorf("%s: origin saw %d requests; want 2", p, o.count(p))
			}
			wantStatus(t, resp, "fwd=miss; detail=")
		}
	})
	t.Run("forced rule caches no-cache but never Set-Cookie or Authorization", func(t *testing.T) {
		c.get("/forced/nocache", nil)
		resp, _ := c.get("/forced/nocache", nil)
		wantStatus(t, resp, "hit")
		c.get("/forced/cookie", nil) // not /cookie: path decides the origin's answer below
		c.get("/forced/auth", map[string]string{"Authorization": "Bearer x"})
		resp, _ = c.get("/forced/auth", map[string]string{"Authorization": "Bearer x"})
		if o.count("/forced/auth") != 2 {
			t.Errorf("Authorization requests: origin saw %d; want 2", o.count("/forced/auth"))
		}
		wantStatus(t, resp, "fwd=miss; detail=authorization")
	})
	t.Run("authorization with public is stored (RFC 9111 §3.5)", func(t *testing.T) {
		auth := map[string]string{"Authorization": "Bearer x"}
		resp, _ := c.get("/auth-public", auth)
		wantStatus(t, resp, "fwd=miss; stored")
		resp, _ = c.get("/auth-public", auth)
		wantStatus(t, resp, "hit")
		if o.count("/auth-public") != 1 {
			t.Errorf("origin saw %d requests; want 1", o.count("/auth-public"))
		}
	})
	t.Run("vary", func(t *testing.T) {
		_, en := c.get("/vary", map[string]string{"Accept-Language": "en"})
		_, zh := c.get("/vary", map[string]string{"Accept-Language": "zh"})
		resp, en2 := c.get("/vary", map[string]string{"Accept-Language": "en"})
		resp2, zh2 := c.get("/vary", map[string]string{"Accept-Language": "zh"})
		if string(en) != "lang=en" || string(zh) != "lang=zh" || string(en2) != "lang=en" || string(zh2) != "lang=zh" {
			t.Errorf("variants mixed up: %q %q %q %q", en, zh, en2, zh2)
		}
		wantStatus(t, resp, "hit")
		wantStatus(t, resp2, "hit")
		if o.count("/vary") != 2 {
			t.Errorf("origin saw %d requests; want 2 (one per variant)", o.count("/vary"))
		}
	})
	t.Run("concurrent misses for different variants stay apart", func(t *testing.T) {
		release := o.hold(t)
		bodies := concurrentGets(t, c, 10, "/vary?concurrent", func(i int, req *http.Request) {
			req.Header.Set("Accept-Language", []string{"fr", "de"}[i%2])
		})
		o.waitArrived(t, "/vary")
		release()
		for i, b := range bodies() {
			if want := "lang=" + []string{"fr", "de"}[i%2]; string(b) != want {
				t.Errorf("request %d got %q; want %q", i, b, want)
			}
		}
	})
	t.Run("unsafe methods invalidate", func(t *testing.T) {
		c.get("/inv", nil)
		c.do("POST", testHost, "/inv", strings.NewReader("x"), nil)
		resp, _ := c.get("/inv", nil)
		wantStatus(t, resp, "fwd=miss")
		if o.count("/inv") != 3 {
			t.Errorf("origin saw %d requests; want GET, POST, GET", o.count("/inv"))
		}
	})
	t.Run("stale-while-revalidate refreshes once in the background", func(t *testing.T) {
		c.get("/swr", nil)
		time.Sleep(1500 * time.Millisecond) // max-age=1: let it go stale
		before := o.count("/swr")
		// The origin holds the refresh: stale answers that arrive while
		// it is held were not waiting for it.
		release := o.hold(t)
		var wg sync.WaitGroup
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, _ := c.get("/swr", nil)
				if !strings.Contains(cacheStatus(resp), "stale-while-revalidate") && !strings.Contains(cacheStatus(resp), "hit") {
					t.Errorf("Cache-Status %q; want a stale hit", cacheStatus(resp))
				}
			}()
		}
		wg.Wait()
		o.waitArrived(t, "/swr")
		if got := o.count("/swr") - before; got != 1 {
			t.Errorf("background refreshes for 5 stale answers: %d; want exactly 1", got)
		}
		release()
		// Once the refresh is stored, the page is fresh again.
		waitFor(t, 20*time.Second, "the refreshed page to be stored", func() bool {
			resp, _ := c.get("/swr", nil)
			return strings.HasPrefix(cacheStatus(resp), "icpedge; hit")
		})
		if got := o.count("/swr") - before; got != 1 {
			t.Errorf("origin requests: %d; want the 1 refresh", got)
		}
	})
	t.Run("concurrent misses make one origin request", func(t *testing.T) {
		release := o.hold(t)
		got := concurrentGets(t, c, 20, "/coalesce", nil)
		o.waitArrived(t, "/coalesce")
		release()
		bodies := got()
		if n := o.count("/coalesce"); n != 1 {
			t.Errorf("origin saw %d requests for 20 concurrent misses; want 1", n)
		}
		for _, b := range bodies {
			if !bytes.Equal(b, bodies[0]) || countNotices(string(b)) != 1 {
				t.Fatalf("coalesced responses differ or lack the notice")
			}
		}
	})
	t.Run("concurrent revalidations make one origin request", func(t *testing.T) {
		// Waiters take the refreshed page only while it is fresh, and
		// Date's whole seconds can age it by up to one on arrival:
		// max-age=2 keeps it fresh for them.
		c.get("/two?reval", nil)
		time.Sleep(2500 * time.Millisecond)
		before := o.count("/two")
		release := o.hold(t)
		got := concurrentGets(t, c, 10, "/two?reval", nil)
		o.waitArrived(t, "/two")
		release()
		got()
		if got := o.count("/two") - before; got != 1 {
			t.Errorf("origin saw %d requests for 10 concurrent revalidations; want 1", got)
		}
	})
	t.Run("cache key ignores unkeyed headers (poisoning)", func(t *testing.T) {
		evil := map[string]string{
			"X-Forwarded-Host":       "evil.example",
			"X-Original-URL":         "/admin",
			"X-Rewrite-URL":          "/admin",
			"X-Forwarded-Scheme":     "nothttps",
			"X-Host":                 "evil.example",
			"X-Forwarded-Port":       "1337",
			"X-HTTP-Method-Override": "DELETE",
		}
		_, poisoned := c.get("/reflect?p=1", evil)
		_, clean := c.get("/reflect?p=1", nil)
		for _, b := range [][]byte{poisoned, clean} {
			for _, bad := range []string{"evil.example", "/admin", "nothttps", "1337", "DELETE"} {
				if strings.Contains(string(b), bad) {
					t.Errorf("origin acted on an unkeyed header: %q in %q", bad, b)
				}
			}
		}
		if !bytes.Equal(poisoned, clean) {
			t.Errorf("the attacker's response %q differs from the clean one %q", poisoned, clean)
		}
		// Another host, or absolute-form naming another host, can't write into ours.
		rawStatus(t, e.Addr("http"), "GET http://evil.example/reflect?p=2 HTTP/1.1\r\nHost: "+testHost+"\r\n\r\n")
		if n := o.count("/reflect"); n != 1 {
			t.Errorf("origin saw %d requests; want 1", n)
		}
	})
}

// concurrentGets sends n GETs for path at once, each shaped by prep, and
// returns once every one of them has been written to the edge; the
// returned function waits for their bodies, in order, each checked to
// be a 200.
func concurrentGets(t *testing.T, c *edgeClient, n int, path string, prep func(i int, req *http.Request)) func() [][]byte {
	t.Helper()
	bodies := make([][]byte, n)
	var sent, done sync.WaitGroup
	for i := range n {
		sent.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			var once sync.Once
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(sent.Done) }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+testHost+":"+portOf(c.addr)+path, nil)
			if prep != nil {
				prep(i, req)
			}
			resp, err := c.c.Do(req)
			once.Do(sent.Done)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("GET %s: %d %v; want 200", path, resp.StatusCode, err)
			}
			bodies[i] = b
		}()
	}
	sent.Wait()
	return func() [][]byte {
		done.Wait()
		return bodies
	}
}

func TestCachePurge(t *testing.T) {
	o := newCacheOrigin(t)
	state := t.TempDir()
	e, c := startCacheEdge(t, o.URL, state, "", freePort(t), freePort(t))
	admin := "http://" + e.Addr("admin")
	for _, p := range []string{"/a", "/a?x=1", "/blog/1", "/blog/2", "/other"} {
		c.get(p, nil)
	}
	// The instance made its token on first start.
	tok, err := os.ReadFile(filepath.Join(state, "admin.token"))
	if err != nil {
		t.Fatalf("admin token not created: %v", err)
	}
	purge := func(q string) (int, string) {
		req, _ := http.NewRequest("POST", admin+"/purge?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	wrong, _ := http.NewRequest("POST", admin+"/purge?all=1", nil)
	wrong.Header.Set("Authorization", "Bearer wrong")
	if resp, err := http.DefaultClient.Do(wrong); err != nil || resp.StatusCode != 401 {
		t.Fatalf("wrong token: %v %v; want 401", resp, err)
	}
	if resp, _ := c.get("/other", nil); !strings.HasPrefix(cacheStatus(resp), "icpedge; hit") {
		t.Fatalf("after a refused purge /other is %q; want still a hit", cacheStatus(resp))
	}

	if code, body := purge("url=" + "http://" + testHost + ":9999/a"); code != 200 || !strings.Contains(body, `"purged":1`) {
		t.Errorf("purge URL on another port: %d %s; want 1 purged", code, body)
	}
	resp, _ := c.get("/a", nil)
	wantStatus(t, resp, "fwd=miss")
	resp, _ = c.get("/a?x=1", nil)
	wantStatus(t, resp, "hit")

	cmd := exec.Command(binPath, "purge", "--config", e.config, "--prefix", "/blog/")
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "purged 2 entries under /blog/\n" {
		t.Errorf("icpedge purge --prefix: %v %q; want \"purged 2 entries under /blog/\"", err, out)
	}
	resp, _ = c.get("/blog/1", nil)
	wantStatus(t, resp, "fwd=miss")

	out, err = exec.Command(binPath, "purge", "--config", e.config, "--all").CombinedOutput()
	if err != nil || !regexp.MustCompile(`^purged \d+ entries in the whole cache\n$`).Match(out) {
		t.Errorf("icpedge purge --all: %v %q; want \"purged N entries in the whole cache\"", err, out)
	}
	resp, _ = c.get("/other", nil)
	wantStatus(t, resp, "fwd=miss")

	if code, _ := purge(""); code != 400 {
		t.Errorf("purge with nothing named: %d; want 400", code)
	}
	hz, err := http.Get(admin + "/healthz")
	if err != nil || hz.StatusCode != 200 {
		t.Errorf("healthz: %v %v", hz, err)
	}
}

func TestCacheRestartOriginDown(t *testing.T) {
	o := newCacheOrigin(t)
	state := t.TempDir()
	ports := []string{freePort(t), freePort(t)}
	e, c := startCacheEdge(t, o.URL, state, "", ports...)
	_, want := c.get("/short", nil) // max-age=1: stale by the time it's served again
	_, wantPage := c.get("/page", nil)
	e.stop()
	o.Close() // the origin is gone

	time.Sleep(1100 * time.Millisecond)
	e2, c2 := startCacheEdge(t, o.URL, state, "", ports...)
	resp, got := c2.get("/page", nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, wantPage) {
		t.Errorf("after restart: status %d; want the stored page", resp.StatusCode)
	}
	wantStatus(t, resp, "hit")
	resp, got = c2.get("/short", nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, want) {
		t.Errorf("stale page with the origin down: status %d; want the stored copy", resp.StatusCode)
	}
	if !strings.Contains(cacheStatus(resp), "stale-if-error") {
		t.Errorf("Cache-Status %q; want stale-if-error", cacheStatus(resp))
	}
	resp, body := c2.get("/never-fetched", nil)
	if resp.StatusCode != http.StatusBadGateway || countNotices(string(body)) != 1 {
		t.Errorf("uncached page with the origin down: %d; want 502 with the notice", resp.StatusCode)
	}
	_ = e2
}

func TestCacheUnwritableDiskPassesThrough(t *testing.T) {
	o := newCacheOrigin(t)
	state := t.TempDir()
	e, c := startCacheEdge(t, o.URL, state, "")
	// Replace the cache directory with a plain file: every write now fails
	// as on a read-only or vanished disk, whoever runs the test.
	dir := filepath.Join(state, "cache")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		resp, body := c.get("/page", nil)
		if resp.StatusCode != 200 || countNotices(string(body)) != 1 {
			t.Fatalf("request %d: status %d; want 200 with the notice despite the broken disk", i, resp.StatusCode)
		}
		if strings.Contains(cacheStatus(resp), "stored") {
			t.Errorf("Cache-Status %q claims stored on a broken disk", cacheStatus(resp))
		}
	}
	e.waitLog("cache write failed", 30*time.Second)
}

// TestCacheCrashSafety kills the real process with SIGKILL again and again
// while it fills the cache, then checks that every response served from
// what was left is complete and belongs to its URL.
func TestCacheCrashSafety(t *testing.T) {
	o := newCacheOrigin(t)
	state := t.TempDir()
	cfg := writeConfig(t, cacheConfig(o.URL, state, "", freePort(t), freePort(t)))
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var requested sync.Map
	rounds := 12
	for round := 0; round < rounds; round++ {
		e := startEdge(t, cfg)
		c := newEdgeClient(t, e)
		c.c.Timeout = 5 * time.Second
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var completed atomic.Int64
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					p := fmt.Sprintf("/obj/r%d-w%d-%d", round, w, i)
					requested.Store(p, true)
					req, _ := http.NewRequest("GET", "http://"+testHost+":"+portOf(c.addr)+p, nil)
					resp, err := c.c.Do(req)
					if err != nil {
						return // the process was killed
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					completed.Add(1)
				}
			}(w)
		}
		// Killed at a random moment once fills are under way, however
		// long the first one takes on a busy machine.
		waitFor(t, 60*time.Second, "a first response", func() bool { return completed.Load() > 0 })
		time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
		if err := e.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-e.exited
		close(stop)
		wg.Wait()
	}

	o.Close() // serve only what the cache kept
	e := startEdge(t, cfg)
	c := newEdgeClient(t, e)
	served, missing := 0, 0
	requested.Range(func(k, _ any) bool {
		p := k.(string)
		resp, body := c.get(p, nil)
		switch resp.StatusCode {
		case http.StatusOK:
			served++
			if want := objectBody(p); !bytes.Equal(body, want) {
				t.Errorf("%s: served %d bytes that are not its body (%d bytes); a damaged or wrong-key entry", p, len(body), len(want))
			}
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			missing++
		default:
			t.Errorf("%s: status %d", p, resp.StatusCode)
		}
		return true
	})
	t.Logf("%d rounds of SIGKILL: %d entries served intact, %d not stored", rounds, served, missing)
	if served == 0 {
		t.Errorf("nothing survived %d rounds; want the completed fills served", rounds)
	}
}
