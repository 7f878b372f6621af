package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// uriOrigin records the request target of every request it gets, and
// what body came with it.
type uriOrigin struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newURIOrigin(t *testing.T) *uriOrigin {
	o := &uriOrigin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		o.mu.Lock()
		o.seen = append(o.seen, r.RequestURI)
		o.mu.Unlock()
		switch {
		case r.URL.Path == "/headers":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(r.Header)
			return
		case r.Method == http.MethodPost || r.Method == http.MethodPut:
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "%s cl=%d got=%d %x", r.Method, r.ContentLength, n, h.Sum(nil)[:4])
			return
		case r.Header.Get("Cookie") != "":
			w.Header().Set("Cache-Control", "no-cache") // a personal page
		default:
			w.Header().Set("Cache-Control", "public, max-age=600")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body><p>page %s for %q</p>%s<footer>f</footer></body></html>", r.URL.Path, r.Header.Get("Cookie"), strings.Repeat("<p>filler</p>", 200))
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *uriOrigin) targets() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

// limitsConfig is an edge config with the cache on and the given extra
// keys; timeouts and limits are in extra.
func limitsConfig(origin, extra string) string {
	return fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: 127.0.0.1:0
state_dir: state
notice:
  icp: %s
admin:
  listen: ""
%s`, testHost, origin, testICP, extra)
}

// rawRequest sends raw on a new connection and returns the response and
// its body, waiting up to 30s.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(conn, raw)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	for err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		t.Fatalf("reading the response to %q: %v", strings.SplitN(raw, "\r\n", 2)[0], err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// Every decision — cache rule, content policy, cache key — is made on the
// path the origin gets; paths that hide a segment boundary are refused.
func TestPathDecisionsE2E(t *testing.T) {
	o := newURIOrigin(t)
	e := startEdge(t, writeConfig(t, limitsConfig(o.URL, `cache:
  rules: [{path: /static/, ttl: 30d}]
policy:
  block: [{path: /downloads/}]
`)))
	get := func(target string, hdr ...string) (*http.Response, string) {
		raw := "GET " + target + " HTTP/1.1\r\nHost: " + testHost + "\r\n" + strings.Join(hdr, "") + "Connection: close\r\n\r\n"
		return rawRequest(t, e.Addr("http"), raw)
	}
	for _, tt := range []struct {
		target string
		status int
	}{
		{"/static/..%2faccount", 400},
		{"/static/%2e%2e/account", 400},
		{"/static/..;/account", 400},
		{"/static/..%5caccount", 400},
		{"/static/%00/x", 400},
		{"//downloads/x.zip", 451},
		{"/./downloads/x.zip", 451},
		{"/x/../downloads/x.zip", 451},
		{"/x/..%2fdownloads/x.zip", 400},
		{"/a.torrent/", 451},
		{"/a.torrent;x", 451},
	} {
		resp, body := get(tt.target, "Cookie: sess=A\r\n")
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: status %d; want %d", tt.target, resp.StatusCode, tt.status)
		}
		if countNotices(body) != 1 {
			t.Errorf("GET %s: the %d page has no notice", tt.target, resp.StatusCode)
		}
	}
	if seen := o.targets(); len(seen) != 0 {
		t.Fatalf("origin got %q; want nothing from refused or blocked paths", seen)
	}

	// A's personal page, reached through /static/, is /account to the
	// origin and to the cache: never stored under the /static/ rule, so B
	// gets their own.
	resp, body := get("/static/../account", "Cookie: sess=A\r\n")
	if resp.StatusCode != 200 || !strings.Contains(body, `for "sess=A"`) {
		t.Fatalf("A: %d %q; want A's page", resp.StatusCode, abbrev(body))
	}
	resp, body = get("/static/../account", "Cookie: sess=B\r\n")
	if resp.StatusCode != 200 || !strings.Contains(body, `for "sess=B"`) {
		t.Fatalf("B: %d %q; want B's own page", resp.StatusCode, abbrev(body))
	}
	if seen := o.targets(); len(seen) != 2 || seen[0] != "/account" || seen[1] != "/account" {
		t.Fatalf("origin got %q; want /account twice", seen)
	}

	// The origin gets the canonical path, and the cache keys on it.
	get("//news/./2026/x/../%61rticle.html")
	if seen := o.targets(); seen[len(seen)-1] != "/news/2026/article.html" {
		t.Fatalf("origin got %q; want /news/2026/article.html", seen[len(seen)-1])
	}
	resp, _ = get("/news/2026/article.html")
	if cs := resp.Header.Get("Cache-Status"); !strings.HasPrefix(cs, "icpedge; hit") {
		t.Errorf("the canonical path after its alias: Cache-Status %q; want a hit", cs)
	}
}

// Fields naming the client are believed only from trusted proxies, and
// X-Real-IP names the true client.
func TestClientIPHeadersE2E(t *testing.T) {
	o := newURIOrigin(t)
	forged := map[string]string{"X-Real-IP": "6.6.6.6", "True-Client-IP": "6.6.6.7", "Client-IP": "6.6.6.8", "X-Client-IP": "6.6.6.9"}
	for _, trusted := range []bool{false, true} {
		extra := "cache:\n  enabled: false\n"
		if trusted {
			extra += "trusted_proxies: [127.0.0.1]\n"
		}
		e := startEdge(t, writeConfig(t, limitsConfig(o.URL, extra)))
		_, body := newEdgeClient(t, e).get("/headers", forged)
		var got http.Header
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("origin echo: %v: %s", err, body)
		}
		for k, v := range forged {
			want := ""
			if trusted {
				want = v
			} else if k == "X-Real-IP" {
				want = "127.0.0.1"
			}
			if g := got.Get(k); g != want || len(got.Values(k)) > 1 {
				t.Errorf("trusted=%v: origin got %s %q; want %q", trusted, k, got.Values(k), want)
			}
		}
	}
}

// Request bodies are read whole before the origin is asked, within an idle
// limit (408) and a size limit (413).
func TestRequestBodyLimitsE2E(t *testing.T) {
	o := newURIOrigin(t)
	e := startEdge(t, writeConfig(t, limitsConfig(o.URL, `cache:
  enabled: false
timeouts:
  request_body: 500ms
limits:
  request_body: 100KiB
`)))
	addr := e.Addr("http")
	head := func(method, fields string) string {
		return method + " /form HTTP/1.1\r\nHost: " + testHost + "\r\n" + fields + "\r\n"
	}
	for _, tt := range []struct {
		name, raw string
		status    int
	}{
		{"announced too large, expecting 100-continue", head("POST", "Content-Length: 200000\r\nExpect: 100-continue\r\n"), 413},
		{"chunked past the limit", head("POST", "Transfer-Encoding: chunked\r\n") + strings.Repeat(fmt.Sprintf("%x\r\n%s\r\n", 8192, strings.Repeat("x", 8192)), 13) + "0\r\n\r\n", 413},
		{"stops sending", head("POST", "Content-Length: 5000\r\n") + "a=1&b=", 408},
		{"chunked, stops sending", head("PUT", "Transfer-Encoding: chunked\r\n") + "6\r\na=1&b=\r\n", 408},
	} {
		resp, body := rawRequest(t, addr, tt.raw)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d; want %d", tt.name, resp.StatusCode, tt.status)
		}
		if countNotices(body) != 1 {
			t.Errorf("%s: the %d page has no notice", tt.name, resp.StatusCode)
		}
	}
	if seen := o.targets(); len(seen) != 0 {
		t.Fatalf("origin got %q; want nothing: a body is read whole before the origin is asked", seen)
	}
	log := e.waitLog(`msg="request body refused: the client stopped sending"`, 5*time.Second)
	mustContain(t, log, `msg="request body refused: too large"`)

	// Within the limits: the origin gets the whole body, with its length.
	payload := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes
	sum := sha256.Sum256(payload)
	var chunked bytes.Buffer
	for p := payload; len(p) > 0; {
		n := min(len(p), 3000)
		fmt.Fprintf(&chunked, "%x\r\n%s\r\n", n, p[:n])
		p = p[n:]
	}
	chunked.WriteString("0\r\n\r\n")
	resp, body := rawRequest(t, addr, head("POST", "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n")+chunked.String())
	if want := fmt.Sprintf("POST cl=%d got=%d %x", len(payload), len(payload), sum[:4]); resp.StatusCode != 200 || body != want {
		t.Errorf("chunked upload: %d %q; want 200 %q", resp.StatusCode, body, want)
	}
}

// limits.buffer_memory bounds buffered bodies: when it is spent a page
// streams with the notice and is not stored.
func TestBufferMemoryE2E(t *testing.T) {
	o := newURIOrigin(t)
	e := startEdge(t, writeConfig(t, limitsConfig(o.URL, "limits:\n  buffer_memory: 1KiB\n")))
	c := newEdgeClient(t, e)
	for i := range 2 {
		resp, body := c.get("/page", map[string]string{"Accept-Encoding": "gzip"})
		if resp.StatusCode != 200 {
			t.Fatalf("#%d: status %d; want 200", i, resp.StatusCode)
		}
		if got := string(decodeTest(t, resp.Header.Get("Content-Encoding"), []byte(body))); countNotices(got) != 1 || !strings.Contains(got, "page /page") {
			t.Fatalf("#%d: %q; want the page with one notice", i, abbrev(got))
		}
		if cs := resp.Header.Get("Cache-Status"); cs != "icpedge; fwd=miss; detail=buffer-memory" {
			t.Errorf("#%d: Cache-Status %q; want a miss for lack of buffer memory", i, cs)
		}
	}
	if n := len(o.targets()); n != 2 {
		t.Errorf("origin got %d requests; want 2 (nothing stored)", n)
	}
	e.waitLog(`msg="buffer memory spent; response streamed unstored"`, 5*time.Second)
}

func TestValidateShowsMemory(t *testing.T) {
	path := writeConfig(t, limitsConfig("https://www.client.test", "limits:\n  buffer_memory: 96MiB\ncache:\n  memory: 8MiB\n"))
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "--config", path}, &out, &errOut); code != 0 {
		t.Fatalf("validate: exit %d: %s", code, errOut.String())
	}
	mustContain(t, out.String(), "cache.memory 8MiB + 28MiB for the runtime = 36MiB (the Go memory limit, to which the cache's index of its entries on disk adds about 180 bytes an entry)")
	mustContain(t, out.String(), "up to limits.buffer_memory 96MiB, for the whole process")
}

// With --config-dir the budget is the process's (--buffer-memory), shared
// by every client; the files' limits.buffer_memory is not used.
func TestBufferMemoryMultiClient(t *testing.T) {
	o := newURIOrigin(t)
	root := t.TempDir()
	dir := filepath.Join(root, "sites")
	os.Mkdir(dir, 0o755)
	httpAddr := freePort(t)
	for _, host := range []string{"a.example.test", "b.example.test"} {
		rewriteConfig(t, filepath.Join(dir, host+".yaml"), fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: %s
state_dir: state/%s
notice:
  icp: %s
limits:
  buffer_memory: 1GiB
`, host, o.URL, httpAddr, host, testICP))
	}
	e := startEdgeArgs(t, dir, 1, []string{"serve", "--config-dir", dir, "--listen-http", httpAddr, "--listen-https", "",
		"--admin", "", "--cache-root", filepath.Join(root, "cache"), "--buffer-memory", "1KiB"})
	for _, host := range []string{"a.example.test", "b.example.test"} {
		resp, err := clientFor(e.Addr("http")).Get("http://" + host + "/page")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if cs := resp.Header.Get("Cache-Status"); resp.StatusCode != 200 || cs != "icpedge; fwd=miss; detail=buffer-memory" || countNotices(string(b)) != 1 {
			t.Errorf("%s: %d, Cache-Status %q, %d notices; want 200 streamed with the notice for lack of buffer memory", host, resp.StatusCode, cs, countNotices(string(b)))
		}
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"serve", "--config", filepath.Join(dir, "a.example.test.yaml"), "--buffer-memory", "1MiB"}, &out, &errOut); code != 2 {
		t.Errorf("serve --config with --buffer-memory: exit %d; want 2", code)
	}
	mustContain(t, errOut.String(), "--buffer-memory")
	if code := run([]string{"serve", "--config-dir", dir, "--buffer-memory", "lots"}, &out, &errOut); code != 2 {
		t.Errorf("--buffer-memory lots: exit %d; want 2", code)
	}
	mustContain(t, errOut.String(), `--buffer-memory "lots": expected a positive size, e.g. 64MiB`)
}
