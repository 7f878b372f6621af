package proxy

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
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
		opts.CachePolicy.Rules = []cache.Rule{{Prefix: "/forced/", TTL: time.Hour}}
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
