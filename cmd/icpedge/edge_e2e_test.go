package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"golang.org/x/text/encoding/simplifiedchinese"
)

const (
	testICP     = "京ICP备12345678号-1"
	testHost    = "icp.example.test"
	originName  = "www.client.test"
	noticeLink  = `href="https://beian.miit.gov.cn/"`
	noticeClass = "icpedge-notice"
)

// testOrigin is a real HTTP origin with the behaviours the edge must cope
// with, counting the requests it gets per path.
type testOrigin struct {
	*httptest.Server
	mu     sync.Mutex
	hits   map[string]int
	last   map[string]http.Header // request headers last seen per path
	bin    []byte
	flaky  atomic.Int32
	bigDoc []byte
}

func newTestOrigin(t *testing.T) *testOrigin {
	t.Helper()
	o := &testOrigin{hits: map[string]int{}, last: map[string]http.Header{}}
	o.bin = make([]byte, 3<<20)
	rand.New(rand.NewSource(1)).Read(o.bin)
	var big bytes.Buffer
	big.WriteString("<!DOCTYPE html><html><head><title>big</title></head><body>\n")
	for big.Len() < 300<<10 {
		big.WriteString(`<p>Paragraph with a <a href="https://www.client.test/deep/link">link</a> and some text to fill the page.</p>` + "\n")
	}
	big.WriteString("<footer>end</footer></body></html>\n")
	o.bigDoc = big.Bytes()

	mux := http.NewServeMux()
	html := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, body)
	}
	page := `<!DOCTYPE html><html><head><title>Home</title><link rel="stylesheet" href="https://www.client.test/s.css"></head>
<body><a href="https://www.client.test/about?x=1#top">About</a><img src="//www.client.test/logo.png" srcset="https://www.client.test/a.png 1x, https://www.client.test/b.png 2x">
<form action="http://www.client.test/search"></form><a href="https://other.example/">elsewhere</a>
<footer><p>© Client</p></footer></body></html>`
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"strong-1"`)
		html(w, page)
	})
	encoded := func(enc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var buf bytes.Buffer
			var cw io.WriteCloser
			switch enc {
			case "gzip":
				cw = gzip.NewWriter(&buf)
			case "br":
				cw = brotli.NewWriter(&buf)
			case "deflate":
				cw = zlib.NewWriter(&buf)
			}
			io.WriteString(cw, page)
			cw.Close()
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Encoding", enc)
			w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
			w.Write(buf.Bytes())
		}
	}
	mux.HandleFunc("/enc/gzip", encoded("gzip"))
	mux.HandleFunc("/enc/br", encoded("br"))
	mux.HandleFunc("/enc/deflate", encoded("deflate"))
	mux.HandleFunc("/bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"bin-1"`)
		http.ServeContent(w, r, "bin", time.Time{}, bytes.NewReader(o.bin))
	})
	mux.HandleFunc("/rangehtml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "page.html", time.Time{}, strings.NewReader(page))
	})
	mux.HandleFunc("/gzjson", func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		gw := gzip.NewWriter(&buf)
		gw.Write(bytes.Repeat([]byte(`{"k":"value"},`), 1000))
		gw.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(buf.Bytes())
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
		html(w, "<p>late</p>")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Location", "https://www.client.test/canonical")
		http.Redirect(w, r, "https://www.client.test/target?a=1", http.StatusFound)
	})
	mux.HandleFunc("/cookie", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "sid=1; Path=/; Domain=www.client.test; HttpOnly")
		w.Header().Add("Set-Cookie", "other=2; Domain=.elsewhere.test")
		html(w, "<p>cookie</p>")
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Origin-Secret")
		w.Header().Set("X-Origin-Secret", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Content-Type", "application/json")
		hdr := r.Header.Clone()
		hdr.Set("Host", r.Host)
		json.NewEncoder(w).Encode(hdr)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%s %d %x", r.Method, n, h.Sum(nil))
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(o.bigDoc)
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if o.flaky.Add(1) == 1 {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close() // a reset before any response
			return
		}
		html(w, "<p>second try</p>")
	})
	mux.HandleFunc("/gbk", func(w http.ResponseWriter, r *http.Request) {
		doc := `<html><head><meta charset="gbk"><title>中文</title></head><body><p>备案信息页面</p><footer>版权所有</footer></body></html>`
		b, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(doc))
		w.Header().Set("Content-Type", "text/html")
		w.Write(b)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade required", http.StatusUpgradeRequired)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		brw.Flush()
		io.Copy(conn, brw) // echo
	})
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		o.last[r.URL.Path] = r.Header.Clone()
		o.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func (o *testOrigin) Hits(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

func (o *testOrigin) TotalHits() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, v := range o.hits {
		n += v
	}
	return n
}

func (o *testOrigin) LastHeader(path string) http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[path]
}

// edgeConfig is a config for an edge in front of origin with cache off, so
// every request reaches the origin.
func edgeConfig(originURL string, extra string) string {
	return fmt.Sprintf(`hosts: [%s]
origin: %s
origin_host: %s
listen:
  http: 127.0.0.1:0
state_dir: state
timeouts:
  connect: 2s
  response: 1s
html:
  max_size: 100KiB
notice:
  icp: %s
  company: 示例科技有限公司
admin:
  listen: ""
cache:
  enabled: false
%s`, testHost, originURL, originName, testICP, extra)
}

type edgeClient struct {
	t    *testing.T
	c    *http.Client
	addr string
}

func newEdgeClient(t *testing.T, e *edgeProc) *edgeClient {
	return &edgeClient{t: t, c: clientFor(e.Addr("http")), addr: e.Addr("http")}
}

// get fetches path on the edge as host with the given extra headers.
func (c *edgeClient) do(method, host, path string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, "http://"+host+":"+portOf(c.addr)+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

func (c *edgeClient) get(path string, hdr map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	return c.do("GET", testHost, path, nil, hdr)
}

func countNotices(body string) int { return strings.Count(body, `id="`+noticeClass+`"`) }

func TestEdgeE2E(t *testing.T) {
	origin := newTestOrigin(t)
	e := startEdge(t, writeConfig(t, edgeConfig(origin.URL, "")))
	c := newEdgeClient(t, e)
	base := "http://" + testHost + ":" + portOf(e.Addr("http"))

	t.Run("notice and host rewrites", func(t *testing.T) {
		resp, body := c.get("/page", nil)
		s := html.UnescapeString(string(body))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d; want 200", resp.StatusCode)
		}
		if n := countNotices(s); n != 1 {
			t.Fatalf("got %d notices; want 1 in %s", n, abbrev(s))
		}
		mustContain(t, s, testICP)
		mustContain(t, s, noticeLink)
		for _, want := range []string{
			`href="` + base + `/about?x=1#top"`,
			`href="` + base + `/s.css"`,
			`/` + testHost + ":" + portOf(e.Addr("http")) + `/logo.png"`,
			base + `/a.png 1x, ` + base + `/b.png 2x`,
			`action="` + base + `/search"`,
			`href="https://other.example/"`,
		} {
			mustContain(t, s, want)
		}
		if strings.Contains(s, originName) {
			t.Errorf("origin host %s still in page: %s", originName, abbrev(s))
		}
		if et := resp.Header.Get("ETag"); et != `W/"strong-1"` {
			t.Errorf("ETag %q; want the origin's strong ETag weakened to W/\"strong-1\"", et)
		}
		if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(body)) {
			t.Errorf("Content-Length %q; want %d", cl, len(body))
		}
	})

	t.Run("host match ignores port and case", func(t *testing.T) {
		resp, _ := c.do("GET", "ICP.Example.Test", "/page", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d; want 200", resp.StatusCode)
		}
	})

	t.Run("never an open proxy", func(t *testing.T) {
		before := origin.TotalHits()
		resp, _ := c.do("GET", "evil.example", "/page", nil, nil)
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("foreign host: status %d; want 421", resp.StatusCode)
		}
		for _, raw := range []string{
			"GET http://evil.example/page HTTP/1.1\r\nHost: " + testHost + "\r\n\r\n",
			"GET http://evil.example/page HTTP/1.1\r\nHost: evil.example\r\n\r\n",
			"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
			"CONNECT " + testHost + ":443 HTTP/1.1\r\nHost: " + testHost + ":443\r\n\r\n",
		} {
			status := rawStatus(t, e.Addr("http"), raw)
			want := http.StatusMisdirectedRequest
			if strings.HasPrefix(raw, "CONNECT") {
				want = http.StatusMethodNotAllowed
			}
			if status != want {
				t.Errorf("%q: status %d; want %d", strings.SplitN(raw, "\r\n", 2)[0], status, want)
			}
		}
		if after := origin.TotalHits(); after != before {
			t.Errorf("origin got %d requests from foreign-host requests; want 0", after-before)
		}
	})

	t.Run("compressed origins are decoded and rewritten", func(t *testing.T) {
		for _, enc := range []string{"gzip", "br", "deflate"} {
			_, body := c.get("/enc/"+enc, nil)
			if n := countNotices(string(body)); n != 1 {
				t.Errorf("%s: got %d notices; want 1", enc, n)
			}
			if got := origin.LastHeader("/enc/" + enc).Get("Accept-Encoding"); !strings.Contains(got, "br") || !strings.Contains(got, "gzip") {
				t.Errorf("edge asked origin with Accept-Encoding %q; want br and gzip", got)
			}
		}
	})

	t.Run("responses compressed to the visitor", func(t *testing.T) {
		// Not stored (no cache here): compressed while the visitor
		// waits, with gzip at its fastest when the visitor takes gzip,
		// br for one who takes br alone.
		for _, tc := range []struct{ accept, want string }{
			{"gzip, deflate, br", "gzip"},
			{"gzip", "gzip"},
			{"br", "br"},
			{"br;q=0, gzip;q=0.5", "gzip"},
			{"gzip;q=0, br", "br"},
			{"", ""},
		} {
			resp, body := c.get("/page", map[string]string{"Accept-Encoding": tc.accept})
			if got := resp.Header.Get("Content-Encoding"); got != tc.want {
				t.Errorf("Accept-Encoding %q: Content-Encoding %q; want %q", tc.accept, got, tc.want)
				continue
			}
			if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(body)) {
				t.Errorf("Accept-Encoding %q: Content-Length %s; want %d", tc.accept, cl, len(body))
			}
			if !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary %q; want Accept-Encoding", resp.Header.Get("Vary"))
			}
			plain := decodeTest(t, tc.want, body)
			if n := countNotices(string(plain)); n != 1 {
				t.Errorf("Accept-Encoding %q: %d notices after decoding; want 1", tc.accept, n)
			}
		}
	})

	t.Run("non-html streams through byte-identical", func(t *testing.T) {
		resp, body := c.get("/bin", map[string]string{"Accept-Encoding": "gzip, br"})
		if sha256.Sum256(body) != sha256.Sum256(origin.bin) {
			t.Fatalf("binary body differs: %d bytes; want %d identical bytes", len(body), len(origin.bin))
		}
		if resp.Header.Get("ETag") != `"bin-1"` {
			t.Errorf("ETag %q; want the origin's strong ETag kept on an untouched body", resp.Header.Get("ETag"))
		}
		resp, body = c.get("/gzjson", map[string]string{"Accept-Encoding": "gzip"})
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("gzip json for a gzip visitor: Content-Encoding %q; want gzip passed through", resp.Header.Get("Content-Encoding"))
		}
		if got := decodeTest(t, "gzip", body); !bytes.HasPrefix(got, []byte(`{"k":"value"}`)) {
			t.Errorf("gzip json decoded to %q", abbrev(string(got)))
		}
		resp, body = c.get("/gzjson", nil)
		if resp.Header.Get("Content-Encoding") != "" || !bytes.HasPrefix(body, []byte(`{"k":"value"}`)) {
			t.Errorf("gzip json for an identity visitor: Content-Encoding %q, body %q; want it decoded", resp.Header.Get("Content-Encoding"), abbrev(string(body)))
		}
	})

	t.Run("range on a binary passes through", func(t *testing.T) {
		resp, body := c.get("/bin", map[string]string{"Range": "bytes=100-199"})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, origin.bin[100:200]) {
			t.Errorf("range: status %d, %d bytes; want 206 with bytes 100-199", resp.StatusCode, len(body))
		}
	})

	t.Run("range of an html page passes through as the origin's bytes", func(t *testing.T) {
		resp, body := c.get("/rangehtml", map[string]string{"Range": "bytes=0-14", "Accept-Encoding": "gzip, br"})
		if resp.StatusCode != http.StatusPartialContent || string(body) != "<!DOCTYPE html>" {
			t.Errorf("status %d body %q; want 206 with the origin's first 15 bytes", resp.StatusCode, body)
		}
		if got := origin.LastHeader("/rangehtml").Get("Accept-Encoding"); got != "identity" {
			t.Errorf("edge asked for a range with Accept-Encoding %q; want identity", got)
		}
	})

	t.Run("large html gets the notice while streaming", func(t *testing.T) {
		resp, body := c.get("/large", nil)
		s := string(body)
		if n := countNotices(s); n != 1 {
			t.Fatalf("got %d notices in %d-byte page; want 1", n, len(s))
		}
		if !strings.HasSuffix(strings.TrimSpace(s), "</html>") || len(s) < len(origin.bigDoc) {
			t.Errorf("large page truncated: %d bytes; want at least %d", len(s), len(origin.bigDoc))
		}
		if strings.Contains(s, originName) {
			t.Errorf("origin host left in streamed page")
		}
		if resp.Header.Get("Content-Length") != "" && resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
			t.Errorf("wrong Content-Length %s for %d bytes", resp.Header.Get("Content-Length"), len(body))
		}
	})

	t.Run("gbk page keeps its text", func(t *testing.T) {
		resp, body := c.get("/gbk", nil)
		if n := countNotices(string(body)); n != 1 {
			t.Fatalf("got %d notices; want 1", n)
		}
		ct := strings.ToLower(resp.Header.Get("Content-Type"))
		var text []byte
		switch {
		case strings.Contains(ct, "charset=gbk") || strings.Contains(ct, "charset=gb18030") || strings.Contains(ct, "charset=gb2312"):
			text, _ = simplifiedchinese.GB18030.NewDecoder().Bytes(body)
		case strings.Contains(ct, "utf-8"):
			text = body
		default:
			t.Fatalf("Content-Type %q; want an explicit charset", ct)
		}
		mustContain(t, string(text), "备案信息页面")
		mustContain(t, html.UnescapeString(string(text)), testICP)
	})

	t.Run("location, content-location and cookies", func(t *testing.T) {
		resp, _ := c.get("/redirect", nil)
		if got, want := resp.Header.Get("Location"), base+"/target?a=1"; got != want {
			t.Errorf("Location %q; want %q", got, want)
		}
		if got, want := resp.Header.Get("Content-Location"), base+"/canonical"; got != want {
			t.Errorf("Content-Location %q; want %q", got, want)
		}
		resp, _ = c.get("/cookie", nil)
		cookies := resp.Header.Values("Set-Cookie")
		if len(cookies) != 2 || cookies[0] != "sid=1; Path=/; Domain="+testHost+"; HttpOnly" || cookies[1] != "other=2; Domain=.elsewhere.test" {
			t.Errorf("Set-Cookie %q; want the origin's domain moved to %s and others untouched", cookies, testHost)
		}
	})

	t.Run("hop-by-hop and forwarding headers", func(t *testing.T) {
		resp, body := c.get("/hop", map[string]string{
			"Connection":       "X-Client-Secret",
			"X-Client-Secret":  "1",
			"Keep-Alive":       "timeout=5",
			"X-Forwarded-For":  "6.6.6.6",
			"X-Forwarded-Host": "evil.example",
		})
		var got http.Header
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("origin echo: %v: %s", err, body)
		}
		for _, h := range []string{"X-Client-Secret", "Keep-Alive"} {
			if got.Get(h) != "" {
				t.Errorf("origin received hop-by-hop %s: %q", h, got.Get(h))
			}
		}
		if got.Get("Host") != originName {
			t.Errorf("origin Host %q; want origin_host %s", got.Get("Host"), originName)
		}
		if got.Get("X-Forwarded-For") != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q; want the untrusted client's forged value replaced by 127.0.0.1", got.Get("X-Forwarded-For"))
		}
		if got.Get("X-Forwarded-Proto") != "http" || got.Get("X-Forwarded-Host") != testHost+":"+portOf(e.Addr("http")) {
			t.Errorf("X-Forwarded-Proto %q, -Host %q; want http and the visitor's host", got.Get("X-Forwarded-Proto"), got.Get("X-Forwarded-Host"))
		}
		for _, h := range []string{"X-Origin-Secret", "Keep-Alive"} {
			if resp.Header.Get(h) != "" {
				t.Errorf("visitor received hop-by-hop %s from origin", h)
			}
		}
	})

	t.Run("request bodies stream to the origin", func(t *testing.T) {
		payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		_, body := c.do("POST", testHost, "/echo", bytes.NewReader(payload), nil)
		want := fmt.Sprintf("POST %d %x", len(payload), sha256.Sum256(payload))
		if string(body) != want {
			t.Errorf("origin saw %q; want %q", body, want)
		}
		for _, m := range []string{"PUT", "PATCH", "DELETE", "OPTIONS"} {
			_, body := c.do(m, testHost, "/echo", strings.NewReader("x"), nil)
			if !strings.HasPrefix(string(body), m+" 1 ") {
				t.Errorf("%s: origin saw %q", m, body)
			}
		}
	})

	t.Run("response timeout is 504 with the notice", func(t *testing.T) {
		resp, body := c.get("/slow", nil)
		if resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("status %d; want 504", resp.StatusCode)
		}
		if n := countNotices(string(body)); n != 1 {
			t.Errorf("error page has %d notices; want 1", n)
		}
	})

	t.Run("idempotent request retried once after a reset", func(t *testing.T) {
		resp, body := c.get("/flaky", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "second try") {
			t.Errorf("status %d body %q; want the retry's 200", resp.StatusCode, abbrev(string(body)))
		}
		if h := origin.Hits("/flaky"); h != 2 {
			t.Errorf("origin saw %d requests; want 2 (one retry)", h)
		}
	})

	t.Run("websocket upgrade passes through", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", e.Addr("http"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		key := "dGhlIHNhbXBsZSBub25jZQ=="
		fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", testHost, key)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
			t.Fatalf("status %d accept %q; want 101 and the origin's accept", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
		}
		msg := "hello through the edge"
		io.WriteString(conn, msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v; want %q", got, err, msg)
		}
	})

	t.Run("access log has one line per request", func(t *testing.T) {
		c.get("/page?log=1", nil)
		log := e.waitLog("path=/page status=200", 30*time.Second)
		mustContain(t, log, "msg=request")
		mustContain(t, log, "method=GET host="+testHost)
		mustContain(t, log, "path=/page status=200")
	})
}

func TestEdgeOriginDown(t *testing.T) {
	dead := freePort(t) // nothing listens here
	e := startEdge(t, writeConfig(t, edgeConfig("http://"+dead, "")))
	c := newEdgeClient(t, e)
	resp, body := c.get("/", nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d; want 502", resp.StatusCode)
	}
	if n := countNotices(string(body)); n != 1 {
		t.Errorf("error page has %d notices; want 1", n)
	}
	mustContain(t, string(body), resp.Header.Get("X-Request-Id"))
}

func TestEdgeTrustedProxy(t *testing.T) {
	origin := newTestOrigin(t)
	e := startEdge(t, writeConfig(t, edgeConfig(origin.URL, "trusted_proxies: [127.0.0.1/32]\n")))
	c := newEdgeClient(t, e)
	_, body := c.get("/hop", map[string]string{"X-Forwarded-For": "203.0.113.9"})
	var got http.Header
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-Forwarded-For") != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q; want the trusted proxy's chain extended", got.Get("X-Forwarded-For"))
	}
}

// rawStatus sends a raw request and returns the response status.
func rawStatus(t *testing.T, addr, raw string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, raw)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", raw, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func decodeTest(t *testing.T, enc string, body []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	switch enc {
	case "gzip":
		gr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = gr
	case "br":
		r = brotli.NewReader(r)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", enc, err)
	}
	return out
}

func TestEdgeTLSOrigin(t *testing.T) {
	var sni atomic.Value
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<html><body><p>host=%s</p></body></html>", r.Host)
	}))
	origin.TLS = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(hello.ServerName)
		return nil, nil
	}}
	origin.StartTLS()
	t.Cleanup(origin.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "origin-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: origin.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(originHost string) string {
		return fmt.Sprintf(`hosts: [%s]
origin: %s
origin_host: %s
origin_ca: %s
listen: {http: "127.0.0.1:0"}
state_dir: state
notice: {icp: %s}
admin: {listen: ""}
cache: {enabled: false}
`, testHost, origin.URL, originHost, caFile, testICP)
	}

	t.Run("verified with origin_host as Host and SNI", func(t *testing.T) {
		e := startEdge(t, writeConfig(t, config("example.com")))
		resp, body := newEdgeClient(t, e).get("/", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d; want 200", resp.StatusCode)
		}
		mustContain(t, string(body), "host=example.com")
		if got := sni.Load(); got != "example.com" {
			t.Errorf("origin saw SNI %q; want example.com", got)
		}
	})
	t.Run("a certificate for another name is refused", func(t *testing.T) {
		e := startEdge(t, writeConfig(t, config("www.client.test")))
		resp, _ := newEdgeClient(t, e).get("/", nil)
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("status %d; want 502 when the origin's certificate doesn't match origin_host", resp.StatusCode)
		}
		e.waitLog("failed to verify certificate", 30*time.Second)
	})
}

func TestAccessLogFileReopen(t *testing.T) {
	origin := newTestOrigin(t)
	path := writeConfig(t, edgeConfig(origin.URL, "log:\n  access_file: access.log\n"))
	logFile := filepath.Join(filepath.Dir(path), "access.log")
	e := startEdge(t, path)
	c := newEdgeClient(t, e)
	waitFile := func(p, want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: got %q; want a line with %q", p, b, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c.get("/page?first", nil)
	waitFile(logFile, "path=/page status=200")
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	e.signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(logFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("access log not reopened after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.get("/hop", nil)
	waitFile(logFile, "path=/hop")
	if b, _ := os.ReadFile(logFile + ".1"); strings.Contains(string(b), "path=/hop") {
		t.Errorf("line after the reopen went to the rotated file")
	}
}
