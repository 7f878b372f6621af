package proxy

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

// digestHeaders returns a response's Content-MD5 (RFC 1864) and
// Repr-Digest (RFC 9530) for body.
func digestHeaders(body []byte) (md, repr string) {
	m := md5.Sum(body)
	s := sha256.Sum256(body)
	return base64.StdEncoding.EncodeToString(m[:]), "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
}

// Digests of the body (Content-MD5, Digest, Content-Digest, Repr-Digest)
// are end-to-end: stored and served unchanged as long as the visitor gets
// the origin's bytes, and dropped wherever the edge changed them (a
// rewritten page, a decoded body, the edge's own encodings, a range).
func TestDigestsFollowTheBody(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	small := []byte("a small file, not worth compressing")
	large := bytes.Repeat([]byte("a text file the edge compresses for visitors who accept it\n"), 80)
	serve := func(ctype string, body []byte, enc string, extra ...string) http.HandlerFunc {
		md, repr := digestHeaders(body)
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Content-MD5", md)
			w.Header().Set("Digest", "md5="+md)
			w.Header().Set("Repr-Digest", repr)
			w.Header().Set("Cache-Control", "max-age=60")
			for i := 0; i+1 < len(extra); i += 2 {
				w.Header().Set(extra[i], extra[i+1])
			}
			if enc != "" {
				w.Header().Set("Content-Encoding", enc)
			}
			w.Write(body)
		}
	}
	o.set("/small.txt", serve("text/plain", small, ""))
	o.set("/large.txt", serve("text/plain", large, ""))
	o.set("/file.bin", serve("application/octet-stream", large, "", "Cache-Control", "no-store"))
	o.set("/page.html", serve("text/html", []byte("<html><body><p>hello</p></body></html>"), ""))
	o.set("/gzipped.txt", serve("text/plain", gzipOf(t, large), "gzip"))

	mdSmall, reprSmall := digestHeaders(small)
	mdLarge, reprLarge := digestHeaders(large)
	tests := []struct {
		name, path string
		hdr        []string
		md, repr   string // "" when it must be absent
	}{
		{"stored as sent, the miss", "/small.txt", nil, mdSmall, reprSmall},
		{"stored as sent, the hit", "/small.txt", nil, mdSmall, reprSmall},
		{"identity of a compressible file", "/large.txt", nil, mdLarge, reprLarge},
		{"the edge's gzip of it", "/large.txt", []string{"Accept-Encoding", "gzip"}, "", ""},
		{"a range of it", "/large.txt", []string{"Range", "bytes=0-9"}, "", reprLarge},
		{"not stored, streamed as sent", "/file.bin", nil, mdLarge, reprLarge},
		{"a page with the notice in it", "/page.html", nil, "", ""},
		{"a page with the notice in it, the hit", "/page.html", nil, "", ""},
		{"a gzip body the edge decoded", "/gzipped.txt", nil, "", ""},
		{"a gzip body the edge encoded again", "/gzipped.txt", []string{"Accept-Encoding", "gzip"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A stored file's compressed variants are made in the
			// background after its miss; hits are asked for once they
			// are in.
			e.waitCompressed(t)
			w := e.get(tt.path, tt.hdr...)
			if w.Code != http.StatusOK && w.Code != http.StatusPartialContent {
				t.Fatalf("got status %d; want 200 or 206", w.Code)
			}
			if got := w.Header().Get("Content-MD5"); got != tt.md {
				t.Errorf("Content-MD5: got %q; want %q (Cache-Status %s)", got, tt.md, cacheStatusOf(w))
			}
			wantDigest := ""
			if tt.md != "" {
				wantDigest = "md5=" + tt.md
			}
			if got := w.Header().Get("Digest"); got != wantDigest {
				t.Errorf("Digest: got %q; want %q", got, wantDigest)
			}
			if got := w.Header().Get("Repr-Digest"); got != tt.repr {
				t.Errorf("Repr-Digest: got %q; want %q", got, tt.repr)
			}
		})
	}
}

// A 304 that confirms a page the edge rewrote must not give it the
// digest of the origin's bytes.
func TestDigestNotAddedBy304(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	body := []byte("<html><body><p>hello</p></body></html>")
	md, _ := digestHeaders(body)
	o.set("/page.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "no-cache")
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("Content-MD5", md)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write(body)
	})
	for i := range 2 {
		w := e.get("/page.html")
		if i == 1 && !strings.Contains(cacheStatusOf(w), "fwd-status=304") {
			t.Fatalf("got Cache-Status %q; want a revalidation answered 304", cacheStatusOf(w))
		}
		if got := w.Header().Get("Content-MD5"); got != "" {
			t.Errorf("visit %d: got Content-MD5 %q on a rewritten page; want none", i+1, got)
		}
	}
}

// only-if-cached gets a stored response or 504, and never reaches the
// origin (RFC 9111 §5.2.1.7).
func TestOnlyIfCached(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, func(opts *Options) { opts.CachePolicy.StaleIfError = 0 })
	o.set("/fresh", page("max-age=3600"))
	o.set("/stale", page("max-age=0"))
	o.set("/never", page("max-age=3600"))
	e.get("/fresh")
	e.get("/stale")
	oic := []string{"Cache-Control", "only-if-cached"}
	tests := []struct {
		name, path string
		hdr        []string
		want       int
	}{
		{"fresh and stored", "/fresh", oic, http.StatusOK},
		{"nothing stored", "/never", oic, http.StatusGatewayTimeout},
		{"stored but stale", "/stale", oic, http.StatusGatewayTimeout},
		{"stale, and the visitor takes stale", "/stale", []string{"Cache-Control", "only-if-cached, max-stale"}, http.StatusOK},
		{"a session the cache never answers", "/fresh", append([]string{"Cookie", "PHPSESSID=1"}, oic...), http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := o.count(tt.path)
			w := e.get(tt.path, tt.hdr...)
			if w.Code != tt.want {
				t.Fatalf("got status %d (Cache-Status %s); want %d", w.Code, cacheStatusOf(w), tt.want)
			}
			if n := o.count(tt.path) - before; n != 0 {
				t.Errorf("the origin was asked %d times; want never", n)
			}
			if tt.want == http.StatusGatewayTimeout && !strings.Contains(cacheStatusOf(w), "detail=only-if-cached") {
				t.Errorf("got Cache-Status %q; want detail=only-if-cached", cacheStatusOf(w))
			}
		})
	}
}

// A request with Authorization goes through the cache (RFC 9111 §3.5): it
// is answered from, and its answer stored in, the cache only when the
// stored response says public, s-maxage or must-revalidate, whichever
// request stored it; no forced rule applies to it; and what it is told
// never removes the copy stored for everyone else.
func TestAuthorizationThroughTheCache(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, func(opts *Options) {
		// override: private, so that the rule stores the origin's
		// no-store page for anonymous visitors: only Authorization keeps
		// it from applying.
		opts.CachePolicy.Rules = []cache.Rule{{Prefix: "/forced/", TTL: time.Hour, OverridePrivate: true}}
	})
	auth := []string{"Authorization", "Bearer secret"}
	// The origin's answer to a signed-in visitor, and to everyone else.
	byAuth := func(signedIn, anonymous string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			cc := anonymous
			if r.Header.Get("Authorization") != "" {
				cc = signedIn
			}
			page(cc)(w, r)
		}
	}
	o.set("/public", page("public, max-age=60"))
	o.set("/s-maxage", page("s-maxage=60"))
	o.set("/must-revalidate", page("max-age=60, must-revalidate"))
	o.set("/plain", byAuth("max-age=60", "max-age=60"))
	o.set("/personal", byAuth("private", "max-age=60"))
	o.set("/forced/page", page("no-store"))

	tests := []struct {
		name, path string
		// first and second are who asks; fetches is how often the origin
		// is asked for the two.
		first, second []string
		fetches       int
	}{
		{"public, stored from a signed-in request", "/public", auth, auth, 1},
		{"public, served to everyone after", "/public", nil, nil, 0},
		{"s-maxage", "/s-maxage", auth, auth, 1},
		{"must-revalidate", "/must-revalidate", auth, auth, 1},
		{"no explicit permission: not stored", "/plain", auth, auth, 2},
		{"an anonymous copy without permission is not served to a signed-in visitor", "/plain", nil, auth, 2},
		{"a forced rule does not apply", "/forced/page", auth, auth, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := o.count(tt.path)
			e.get(tt.path, tt.first...)
			w := e.get(tt.path, tt.second...)
			if w.Code != http.StatusOK {
				t.Fatalf("got status %d; want 200", w.Code)
			}
			if got := o.count(tt.path) - before; got != tt.fetches {
				t.Errorf("got %d origin requests; want %d (second Cache-Status %s)", got, tt.fetches, cacheStatusOf(w))
			}
		})
	}

	// The signed-in answers above were not stored, and did not remove
	// what anonymous visitors get.
	for _, path := range []string{"/plain", "/personal", "/forced/page"} {
		e.get(path)
		e.get(path, auth...)
		before := o.count(path)
		if w := e.get(path); !strings.Contains(cacheStatusOf(w), "hit") || o.count(path) != before {
			t.Errorf("%s: anonymous visitor after a signed-in one got Cache-Status %q; want a hit", path, cacheStatusOf(w))
		}
	}
}

// The edge obeys CDN-Cache-Control, and a configured targeted field
// before it, over Cache-Control (RFC 9213), and sends neither on.
func TestTargetedCacheControl(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, func(opts *Options) { opts.CachePolicy.Targeted = "ICPEdge-Cache-Control" })
	with := func(kv ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(kv); i += 2 {
				w.Header().Set(kv[i], kv[i+1])
			}
			page("")(w, r)
		}
	}
	o.set("/cdn", with("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600"))
	o.set("/cdn-no-store", with("Cache-Control", "max-age=600", "CDN-Cache-Control", "no-store"))
	o.set("/ours", with("Cache-Control", "max-age=600", "CDN-Cache-Control", "max-age=600", "ICPEdge-Cache-Control", "no-store"))
	o.set("/post", with("CDN-Cache-Control", "max-age=600", "ICPEdge-Cache-Control", "max-age=600"))
	// Revalidated on every request until a 304 gives it freshness.
	var revalidated atomic.Bool
	o.set("/revalidate", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("CDN-Cache-Control", "no-cache")
		if r.Header.Get("If-None-Match") == `"v1"` {
			revalidated.Store(true)
			w.Header().Set("CDN-Cache-Control", "max-age=600")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		page("")(w, r)
	})

	tests := []struct {
		path    string
		fetches int // for three requests
	}{
		{"/cdn", 1},
		{"/cdn-no-store", 3},
		{"/ours", 3},
		{"/revalidate", 2}, // the fill, a revalidation, then fresh
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			for i := range 3 {
				w := e.get(tt.path)
				for _, k := range []string{"CDN-Cache-Control", "ICPEdge-Cache-Control"} {
					if v := w.Header().Get(k); v != "" {
						t.Errorf("request %d: %s %q sent on; want it removed", i+1, k, v)
					}
				}
				if w.Header().Get("Cache-Control") == "" {
					t.Errorf("request %d: Cache-Control removed; want the origin's", i+1)
				}
			}
			if got := o.count(tt.path); got != tt.fetches {
				t.Errorf("got %d origin requests; want %d", got, tt.fetches)
			}
		})
	}
	if !revalidated.Load() {
		t.Error("the origin never answered a revalidation")
	}
	w := e.do(http.MethodPost, "/post", strings.NewReader("x"))
	if w.Header().Get("CDN-Cache-Control") != "" || w.Header().Get("ICPEdge-Cache-Control") != "" {
		t.Errorf("a forwarded POST kept its targeted fields: %v", w.Header())
	}
}

// interimClient sends a request to srv and returns the interim responses
// (status and Link) it got before the final one, and the final one.
func interimClient(t *testing.T, srv *httptest.Server, method, path string, hdr ...string) ([]string, *http.Response) {
	t.Helper()
	return interimClientNotify(t, srv, nil, method, path, hdr...)
}

// interimClientNotify is interimClient closing first, when not nil, as
// the first interim response arrives.
func interimClientNotify(t *testing.T, srv *httptest.Server, first chan struct{}, method, path string, hdr ...string) ([]string, *http.Response) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		if first != nil && len(got) == 0 {
			close(first)
		}
		got = append(got, fmt.Sprintf("%d %s", code, strings.Join(h["Link"], ", ")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, srv.URL+path, nil)
	req.Host = "icp.example.test"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		// Errorf, not Fatal: some callers run on goroutines of their own.
		t.Errorf("%s %s: %v", method, path, err)
		return nil, &http.Response{Header: http.Header{}}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	return got, resp
}

// The origin's interim responses (100, 102, 103) reach the visitor before
// the final response: on a miss, to every request waiting on the fill,
// when forwarded; never to an HTTP/1.0 client, and never from the cache.
func TestInterimResponses(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	early := func(cc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</site.css>; rel=preload; as=style")
			w.Header().Set("X-Interim-Only", "1")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.Header().Del("X-Interim-Only")
			w.WriteHeader(http.StatusProcessing)
			page(cc)(w, r)
		}
	}
	o.set("/page", early("max-age=60"))
	o.set("/form", early(""))
	o.set("/chatty", func(w http.ResponseWriter, r *http.Request) {
		for range 3 * maxInterim {
			w.WriteHeader(http.StatusProcessing)
		}
		page("no-store")(w, r)
	})
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	want := []string{"103 </site.css>; rel=preload; as=style", "102 "}

	t.Run("miss", func(t *testing.T) {
		got, resp := interimClient(t, srv, http.MethodGet, "/page")
		if !slices.Equal(got, want) {
			t.Errorf("got interim responses %q; want %q", got, want)
		}
		if resp.StatusCode != 200 || resp.Header.Get("X-Interim-Only") != "" || resp.Header.Get("Link") != "" {
			t.Errorf("final response: got %d with %v; want 200 without the interim fields", resp.StatusCode, resp.Header)
		}
	})
	t.Run("hit", func(t *testing.T) {
		got, resp := interimClient(t, srv, http.MethodGet, "/page")
		if len(got) != 0 || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Errorf("got interim responses %q, Cache-Status %q; want none, from the cache", got, resp.Header.Get("Cache-Status"))
		}
		if resp.Header.Get("Link") != "" || resp.Header.Get("X-Interim-Only") != "" {
			t.Errorf("the stored response has the interim fields: %v", resp.Header)
		}
	})
	t.Run("forwarded", func(t *testing.T) {
		got, _ := interimClient(t, srv, http.MethodPost, "/form")
		if !slices.Equal(got, want) {
			t.Errorf("got interim responses %q; want %q", got, want)
		}
	})
	t.Run("waiting on a fill", func(t *testing.T) {
		o.set("/shared", early("max-age=60"))
		release := o.hold()
		defer release()
		type result struct {
			got  []string
			resp *http.Response
		}
		results := make(chan result, 2)
		go func() { g, r := interimClient(t, srv, http.MethodGet, "/shared"); results <- result{g, r} }()
		o.waitArrivals(t, 1)
		go func() { g, r := interimClient(t, srv, http.MethodGet, "/shared"); results <- result{g, r} }()
		e.waitWaiters(t, "/shared", 1)
		release()
		for range 2 {
			r := <-results
			if !slices.Equal(r.got, want) || r.resp.StatusCode != 200 {
				t.Errorf("got interim responses %q, status %d; want %q, 200", r.got, r.resp.StatusCode, want)
			}
		}
		if n := o.count("/shared"); n != 1 {
			t.Errorf("origin asked %d times; want once", n)
		}
	})
	t.Run("over http/2", func(t *testing.T) {
		h2 := httptest.NewUnstartedServer(e.h)
		h2.EnableHTTP2 = true
		h2.StartTLS()
		defer h2.Close()
		got, resp := interimClient(t, h2, http.MethodPost, "/form")
		if resp.ProtoMajor != 2 || !slices.Equal(got, want) {
			t.Errorf("got %s with interim responses %q; want HTTP/2 with %q", resp.Proto, got, want)
		}
	})
	t.Run("no more than the limit", func(t *testing.T) {
		got, resp := interimClient(t, srv, http.MethodGet, "/chatty")
		if len(got) != maxInterim || resp.StatusCode != 200 {
			t.Errorf("got %d interim responses and status %d; want %d and 200", len(got), resp.StatusCode, maxInterim)
		}
	})
	t.Run("http/1.0", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /form HTTP/1.0\r\nHost: icp.example.test\r\nContent-Length: 0\r\n\r\n")
		raw, _ := io.ReadAll(conn)
		if !bytes.HasPrefix(raw, []byte("HTTP/1.0 200")) || bytes.Contains(raw, []byte(" 103")) || bytes.Contains(raw, []byte(" 102")) {
			t.Errorf("got %q; want a 200 and no interim response", abbrevTest(string(raw)))
		}
	})
}

// hintedPage is a page that loads style sheets, a font, a script and an
// image from its own host, from the origin's host (which the edge moves
// onto itself) and from another host.
func hintedPage(originHost string) string {
	return `<!DOCTYPE html><html><head><title>hinted</title>
<link rel="stylesheet" href="/site.css">
<link rel="stylesheet" href="http://` + originHost + `/theme.css">
<link rel="stylesheet" href="https://cdn.other.example/lib.css">
<link rel="stylesheet" href="/print.css" media="print">
<link rel="preload" href="fonts/body.woff2" as="font" type="font/woff2">
<script src="/app.js"></script>
<script src="/later.js" defer></script>
</head><body><p>hello</p><footer>f</footer></body></html>`
}

// When a stored page is fetched again, the edge sends 103 Early Hints
// with the sub-resources it loads from the edge's own host, before it
// asks the origin (RFC 8297).
func TestEarlyHintsFromTheCache(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	originHost := strings.TrimPrefix(o.srv.URL, "http://")
	serve := func(extra ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", `"v1"`)
			for i := 0; i+1 < len(extra); i += 2 {
				w.Header().Set(extra[i], extra[i+1])
			}
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			io.WriteString(w, hintedPage(originHost))
		}
	}
	o.set("/docs/page", serve())
	o.set("/old", serve("Age", "90000")) // more than a day old already
	o.set("/fresh", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, hintedPage(originHost))
	})
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	want := []string{"103 </site.css>; rel=preload; as=style, </theme.css>; rel=preload; as=style, " +
		"</docs/fonts/body.woff2>; rel=preload; as=font; crossorigin, </app.js>; rel=preload; as=script"}

	if got, resp := interimClient(t, srv, http.MethodGet, "/docs/page"); len(got) != 0 || resp.StatusCode != 200 {
		t.Fatalf("first visit: got %q and %d; want no hints (nothing stored yet) and 200", got, resp.StatusCode)
	}

	t.Run("sent before the origin answers", func(t *testing.T) {
		release := o.hold()
		defer release()
		type result struct {
			got  []string
			resp *http.Response
		}
		done := make(chan result, 1)
		hinted := make(chan struct{})
		go func() {
			g, r := interimClientNotify(t, srv, hinted, http.MethodGet, "/docs/page")
			done <- result{g, r}
		}()
		// The revalidation waits at the origin while the hints arrive.
		o.waitArrivals(t, 2)
		select {
		case <-hinted:
		case <-time.After(20 * time.Second):
			t.Fatal("no 103 while the origin holds the page")
		}
		release()
		r := <-done
		if !slices.Equal(r.got, want) {
			t.Errorf("got interim responses %q; want %q", r.got, want)
		}
		if r.resp.StatusCode != 200 || r.resp.Header.Get(markerHints) != "" || r.resp.Header.Get("Link") != "" {
			t.Errorf("final response: got %d, %v; want 200 without the hints", r.resp.StatusCode, r.resp.Header)
		}
	})
	t.Run("not from a hit", func(t *testing.T) {
		interimClient(t, srv, http.MethodGet, "/fresh")
		if got, resp := interimClient(t, srv, http.MethodGet, "/fresh"); len(got) != 0 || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Errorf("got %q, Cache-Status %q; want a hit without hints", got, resp.Header.Get("Cache-Status"))
		}
	})
	t.Run("not for a range or HEAD", func(t *testing.T) {
		for _, tc := range []struct{ method, rng string }{{http.MethodHead, ""}, {http.MethodGet, "bytes=0-9"}} {
			hdr := []string{}
			if tc.rng != "" {
				hdr = []string{"Range", tc.rng}
			}
			if got, _ := interimClient(t, srv, tc.method, "/docs/page", hdr...); len(got) != 0 {
				t.Errorf("%s %s: got %q; want no hints", tc.method, tc.rng, got)
			}
		}
	})
	t.Run("not from a page older than the limit", func(t *testing.T) {
		interimClient(t, srv, http.MethodGet, "/old")
		if got, _ := interimClient(t, srv, http.MethodGet, "/old"); len(got) != 0 {
			t.Errorf("got %q; want no hints from a page a day old", got)
		}
	})
	t.Run("not to http/1.0", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /docs/page HTTP/1.0\r\nHost: icp.example.test\r\n\r\n")
		raw, _ := io.ReadAll(conn)
		if !bytes.HasPrefix(raw, []byte("HTTP/1.0 200")) || bytes.Contains(raw, []byte("103")) {
			t.Errorf("got %q; want a 200 and no 103", abbrevTest(string(raw)))
		}
	})
	t.Run("off", func(t *testing.T) {
		off := newSafetyEdge(t, o, func(opts *Options) { opts.EarlyHintsMaxAge = -1 })
		offSrv := httptest.NewServer(off.h)
		defer offSrv.Close()
		interimClient(t, offSrv, http.MethodGet, "/docs/page")
		if got, _ := interimClient(t, offSrv, http.MethodGet, "/docs/page"); len(got) != 0 {
			t.Errorf("got %q; want no hints", got)
		}
	})
}

func TestPreloadLinks(t *testing.T) {
	edge := rewrite.Edge{Scheme: "https", Host: "icp.example.cn"}
	page, _ := url.Parse("/a/b/page.html?x=1")
	hints := []rewrite.Hint{
		{URL: "c.css", As: "style"},
		{URL: "../up.js", As: "script"},
		{URL: "//icp.example.cn:443/port.css", As: "style"},
		{URL: "https://ICP.example.cn/case.css", As: "style"},
		{URL: "http://icp.example.cn/insecure.css", As: "style"},
		{URL: "https://icp.example.cn:8443/port.css", As: "style"},
		{URL: "https://user@icp.example.cn/u.css", As: "style"},
		{URL: "https://evil.example/x.css", As: "style"},
		{URL: "/页面.css", As: "style"},
		{URL: "/q.css?a=<b>", As: "style"},
		{URL: " /spaced.css\n", As: "style"},
		{URL: "/c.css", As: "style"}, // twice: once is enough
		{URL: "/a/b/c.css", As: "style"},
		{URL: "javascript:alert(1)", As: "script"},
		{URL: "/f.woff2", As: "font", CrossOrigin: "anonymous"},
		{URL: "/cred.js", As: "script", CrossOrigin: "use-credentials"},
	}
	got := preloadLinks(edge, page, "", hints)
	want := []string{
		"</a/b/c.css>; rel=preload; as=style",
		"</a/up.js>; rel=preload; as=script",
		"</port.css>; rel=preload; as=style",
		"</case.css>; rel=preload; as=style",
		"</%E9%A1%B5%E9%9D%A2.css>; rel=preload; as=style",
		"</spaced.css>; rel=preload; as=style",
		"</c.css>; rel=preload; as=style",
		"</f.woff2>; rel=preload; as=font; crossorigin",
		"</cred.js>; rel=preload; as=script; crossorigin=use-credentials",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	// A <base> on another host takes relative URLs with it.
	if got := preloadLinks(edge, page, "https://cdn.other.example/", []rewrite.Hint{{URL: "c.css", As: "style"}}); len(got) != 0 {
		t.Errorf("with a foreign base: got %q; want none", got)
	}
	if got := preloadLinks(edge, page, "/static/", []rewrite.Hint{{URL: "c.css", As: "style"}}); !slices.Equal(got, []string{"</static/c.css>; rel=preload; as=style"}) {
		t.Errorf("with a base path: got %q", got)
	}
	var many []rewrite.Hint
	for i := range 40 {
		many = append(many, rewrite.Hint{URL: fmt.Sprintf("/%d.css", i), As: "style"})
	}
	if got := preloadLinks(edge, page, "", many); len(got) != maxEarlyHints {
		t.Errorf("got %d links; want %d", len(got), maxEarlyHints)
	}
}

// A 206 of a file that is not stored is kept as a part; later ranges
// within it are served from it, and once the parts cover the file they
// are combined into the whole, served like any stored file (RFC 9111
// §3.3, §3.4). HTML, weak validators and no-store are never kept.
func TestPartialContent(t *testing.T) {
	o := newSafetyOrigin(t)
	e := newSafetyEdge(t, o, nil)
	file := make([]byte, 300<<10)
	for i := range file {
		file[i] = byte(i*7 + i>>9)
	}
	serve := func(ctype, etag, cc string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("ETag", etag)
			w.Header().Set("Cache-Control", cc)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(file))
		}
	}
	o.set("/video.mp4", serve("video/mp4", `"v1"`, "max-age=3600"))
	o.set("/page.html", serve("text/html", `"v1"`, "max-age=3600"))
	o.set("/weak.bin", serve("application/octet-stream", `W/"v1"`, "max-age=3600"))
	o.set("/nostore.bin", serve("application/octet-stream", `"v1"`, "no-store"))

	get := func(t *testing.T, path, rng string, wantStatus int, wantBody []byte, wantOrigin int) *httptest.ResponseRecorder {
		t.Helper()
		before := o.count(path)
		var w *httptest.ResponseRecorder
		if rng == "" {
			w = e.get(path)
		} else {
			w = e.get(path, "Range", rng)
		}
		if w.Code != wantStatus || !bytes.Equal(w.Body.Bytes(), wantBody) {
			t.Fatalf("%s %s: got %d with %d bytes (Cache-Status %s); want %d with %d bytes",
				path, rng, w.Code, w.Body.Len(), cacheStatusOf(w), wantStatus, len(wantBody))
		}
		if n := o.count(path) - before; n != wantOrigin {
			t.Errorf("%s %s: the origin was asked %d times; want %d (Cache-Status %s)", path, rng, n, wantOrigin, cacheStatusOf(w))
		}
		return w
	}
	size := int64(len(file))

	t.Run("parts kept, served and combined", func(t *testing.T) {
		w := get(t, "/video.mp4", "bytes=0-99999", 206, file[:100000], 1)
		if got := w.Header().Get("Content-Range"); got != fmt.Sprintf("bytes 0-99999/%d", size) {
			t.Errorf("got Content-Range %q", got)
		}
		w = get(t, "/video.mp4", "bytes=1000-1999", 206, file[1000:2000], 0)
		if got := w.Header().Get("Content-Range"); got != fmt.Sprintf("bytes 1000-1999/%d", size) || !strings.Contains(cacheStatusOf(w), "hit") {
			t.Errorf("got Content-Range %q, Cache-Status %q; want the part, a hit", got, cacheStatusOf(w))
		}
		if w.Header().Get(markerParts) != "" || w.Header().Get(markerPartsSize) != "" || w.Header().Get("Etag") != `"v1"` {
			t.Errorf("got header %v; want the origin's, without the edge's markers", w.Header())
		}
		// Not within one kept part: the origin's.
		get(t, "/video.mp4", "bytes=99000-200000", 206, file[99000:200001], 1)
		get(t, "/video.mp4", "bytes=150000-150099", 206, file[150000:150100], 0)
		get(t, "/video.mp4", "bytes=-1000", 206, file[size-1000:], 1)
		get(t, "/video.mp4", "bytes=200001-", 206, file[200001:], 1) // now the whole file is kept
		w = get(t, "/video.mp4", "", 200, file, 0)
		if !strings.Contains(cacheStatusOf(w), "hit") || w.Header().Get("Content-Length") != strconv.FormatInt(size, 10) {
			t.Errorf("whole file: Cache-Status %q, Content-Length %q; want a hit of %d bytes", cacheStatusOf(w), w.Header().Get("Content-Length"), size)
		}
		get(t, "/video.mp4", "bytes=123-456", 206, file[123:457], 0)
	})
	t.Run("unsafe methods drop the parts", func(t *testing.T) {
		get(t, "/nostore.bin", "bytes=0-9", 206, file[:10], 1)
		o.set("/other.bin", serve("application/octet-stream", `"v1"`, "max-age=3600"))
		get(t, "/other.bin", "bytes=0-9", 206, file[:10], 1)
		get(t, "/other.bin", "bytes=0-9", 206, file[:10], 0)
		e.do(http.MethodPost, "/other.bin", nil)
		get(t, "/other.bin", "bytes=0-9", 206, file[:10], 1)
	})
	for _, path := range []string{"/page.html", "/weak.bin", "/nostore.bin"} {
		t.Run("never kept: "+path, func(t *testing.T) {
			get(t, path, "bytes=0-9", 206, file[:10], 1)
			get(t, path, "bytes=0-9", 206, file[:10], 1)
		})
	}
}
