package proxy

import (
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
)

// originHostEdge is an edge whose origin calls itself www.example.test,
// as a WordPress site does in every URL it writes.
func originHostEdge(t *testing.T, o *safetyOrigin, tweak func(*Options)) *safetyEdge {
	return newSafetyEdge(t, o, func(opts *Options) {
		opts.Rewrite.RewriteHosts = []string{"www.example.test"}
		if tweak != nil {
			tweak(opts)
		}
	})
}

// The headers a browser follows move onto the edge: Location, Link and
// Refresh, cached or not.
func TestHeadersOnTheEdge(t *testing.T) {
	o := newSafetyOrigin(t)
	e := originHostEdge(t, o, nil)
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Link", `<http://www.example.test/wp-json/>; rel="https://api.w.org/"`)
		w.Header().Add("Link", `<http://www.example.test/wp-json/wp/v2/pages/2>; rel="alternate"; type="application/json", <http://www.example.test/?p=2>; rel=shortlink`)
		w.Header().Set("Refresh", "30; url=http://www.example.test/next/")
		w.Header().Set("Cache-Control", "max-age=60")
		page("")(w, r)
	}
	o.set("/about/", handler)
	o.set("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://www.example.test/new/", http.StatusMovedPermanently)
	})
	want := map[string][]string{
		"Link": {`<http://icp.example.test/wp-json/>; rel="https://api.w.org/"`,
			`<http://icp.example.test/wp-json/wp/v2/pages/2>; rel="alternate"; type="application/json", <http://icp.example.test/?p=2>; rel=shortlink`},
		"Refresh": {"30; url=http://icp.example.test/next/"},
	}
	for i, wantStatus := range []string{"icpedge; fwd=miss; stored", "icpedge; hit"} {
		w := e.get("/about/")
		if cs := cacheStatusOf(w); !strings.HasPrefix(cs, wantStatus) {
			t.Errorf("request %d: Cache-Status %q; want %s", i+1, cs, wantStatus)
		}
		for name, v := range want {
			if got := w.Header().Values(name); strings.Join(got, "\n") != strings.Join(v, "\n") {
				t.Errorf("request %d: %s %q; want %q", i+1, name, got, v)
			}
		}
	}
	if w := e.get("/old"); w.Header().Get("Location") != "http://icp.example.test/new/" {
		t.Errorf("Location %q; want http://icp.example.test/new/", w.Header().Get("Location"))
	}
	// Not through the cache: a POST's answer too.
	if w := e.do("POST", "/about/", strings.NewReader("a=1")); w.Header().Values("Link")[0] != want["Link"][0] {
		t.Errorf("POST: Link %q; want %q", w.Header().Values("Link"), want["Link"][0])
	}
}

const wpJSON = `{"id":1,"link":"http:\/\/www.example.test\/hello-world\/","guid":{"rendered":"http:\/\/www.example.test\/?p=1"},` +
	`"content":{"rendered":"<p><img src=\"http:\/\/www.example.test\/wp-content\/uploads\/a.jpg\"><\/p>"},` +
	`"_links":{"self":[{"href":"http:\/\/www.example.test\/wp-json\/wp\/v2\/posts\/1"}]},"avatar":"https:\/\/secure.gravatar.com\/avatar\/x"}`

const wpJSONOnEdge = `{"id":1,"link":"http:\/\/icp.example.test\/hello-world\/","guid":{"rendered":"http:\/\/icp.example.test\/?p=1"},` +
	`"content":{"rendered":"<p><img src=\"http:\/\/icp.example.test\/wp-content\/uploads\/a.jpg\"><\/p>"},` +
	`"_links":{"self":[{"href":"http:\/\/icp.example.test\/wp-json\/wp\/v2\/posts\/1"}]},"avatar":"https:\/\/secure.gravatar.com\/avatar\/x"}`

// documentServer returns origin handlers of body with ETag "v1", the
// Cache-Control cc (none for ""), gzip-encoded when gz, as ctype.
func documentServer(t *testing.T, body string) func(cc string, gz bool, ctype string) http.HandlerFunc {
	return func(cc string, gz bool, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("ETag", `"v1"`)
			if cc != "" {
				w.Header().Set("Cache-Control", cc)
			}
			b := []byte(body)
			if gz {
				w.Header().Set("Content-Encoding", "gzip")
				b = gzipOf(t, b)
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b)
		}
	}
}

// checkDocuments gets each target from e and checks that the body is
// want, with its length, and the origin's ETag "v1" weakened.
func checkDocuments(t *testing.T, e *safetyEdge, want string, targets ...string) {
	t.Helper()
	for _, target := range targets {
		w := e.get(target)
		body := w.Body.String()
		if body != want {
			t.Errorf("%s (%s): got\n%s\nwant\n%s", target, cacheStatusOf(w), body, want)
		}
		if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(len(body)) {
			t.Errorf("%s: Content-Length %s for %d bytes", target, cl, len(body))
		}
		if et := w.Header().Get("Etag"); et != `W/"v1"` {
			t.Errorf("%s: ETag %q; want the origin's, weakened", target, et)
		}
	}
}

// JSON responses (the REST API the block editor talks to) have their
// origin URLs moved onto the edge, whether they are cached, streamed
// from the origin, compressed or not.
func TestJSONOnTheEdge(t *testing.T) {
	o := newSafetyOrigin(t)
	e := originHostEdge(t, o, nil)
	serve := documentServer(t, wpJSON)
	o.set("/cached", serve("max-age=60", true, "application/json; charset=UTF-8"))
	o.set("/uncached", serve("no-store", false, "application/json; charset=UTF-8"))
	o.set("/ld", serve("max-age=60", false, "application/ld+json"))
	o.set("/oembed", serve("no-store", true, "application/json+oembed"))
	checkDocuments(t, e, wpJSONOnEdge, "/cached", "/cached", "/uncached", "/ld", "/oembed")
	// Compressed for the visitor who asks, and the same underneath: the
	// stored document's variants are made in the background after its
	// miss, so the hit is asked for once they are in.
	e.waitCompressed(t)
	w := e.get("/cached", "Accept-Encoding", "gzip")
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatalf("gzip: %v (Content-Encoding %q)", err, w.Header().Get("Content-Encoding"))
	}
	if got, _ := io.ReadAll(zr); string(got) != wpJSONOnEdge {
		t.Errorf("gzip: got %s", got)
	}
}

const wpFeed = `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><link>http://www.example.test</link>` +
	`<item><link>http://www.example.test/hello-world/</link>` +
	`<description>&lt;img src=&quot;http://www.example.test/a.jpg&quot;&gt;</description>` +
	`<content:encoded><![CDATA[<a href="http://www.example.test/x/">x</a>]]></content:encoded>` +
	`<enclosure url="https://cdn.example.net/a.mp3"/></item></channel></rss>`

// Feeds and sitemaps have their origin URLs moved onto the edge, as JSON
// does, whether they are cached, streamed from the origin, compressed or
// not: a feed reader's links, and the pages a crawler finds in a
// sitemap, stay on the edge.
func TestXMLOnTheEdge(t *testing.T) {
	o := newSafetyOrigin(t)
	e := originHostEdge(t, o, nil)
	serve := documentServer(t, wpFeed)
	o.set("/feed/", serve("max-age=60", true, "application/rss+xml; charset=UTF-8"))
	o.set("/atom", serve("no-store", false, "application/atom+xml"))
	o.set("/sitemap.xml", serve("max-age=60", false, "application/xml"))
	o.set("/text.xml", serve("no-store", true, "text/xml; charset=utf-8"))
	want := strings.ReplaceAll(wpFeed, "http://www.example.test", "http://icp.example.test")
	checkDocuments(t, e, want, "/feed/", "/feed/", "/atom", "/sitemap.xml", "/sitemap.xml", "/text.xml")
	if cs := cacheStatusOf(e.get("/feed/")); !strings.Contains(cs, "hit") {
		t.Errorf("/feed/ again: Cache-Status %q; want a hit", cs)
	}
}

// JSON larger than html.max_size streams through as the origin sent it.
func TestJSONLimits(t *testing.T) {
	o := newSafetyOrigin(t)
	big := `{"u":"http:\/\/www.example.test\/","pad":"` + strings.Repeat("x", 4096) + `"}`
	o.set("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(big))
	})
	e := originHostEdge(t, o, func(opts *Options) { opts.MaxHTMLSize = 1024 })
	if w := e.get("/big"); w.Body.String() != big {
		t.Errorf("JSON over the limit: got %d bytes differing from the origin's %d", w.Body.Len(), len(big))
	}
	if !strings.Contains(e.log.String(), "large json passed through unchanged") {
		t.Errorf("no warning logged for the large JSON; log:\n%s", e.log.String())
	}
}

// An inline script's URLs, as WordPress writes them for its emoji loader
// and the block editor, move onto the edge in the stored page too.
func TestInlineScriptsOnTheEdge(t *testing.T) {
	o := newSafetyOrigin(t)
	e := originHostEdge(t, o, func(opts *Options) {
		opts.CachePolicy = cache.Policy{Rules: []cache.Rule{{Prefix: "/", Type: "text/html", TTL: time.Minute}}}
	})
	o.set("/post.php", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.Write([]byte(`<html><head><script>var s={"concatemoji":"http:\/\/www.example.test\/wp-includes\/js\/wp-emoji-release.min.js"};` +
			`wp.apiFetch.use( wp.apiFetch.createRootURLMiddleware( "http://www.example.test/wp-json/" ) );</script></head>` +
			`<body><img data-src="http://www.example.test/a.jpg"><footer>f</footer></body></html>`))
	})
	for range 2 {
		w := e.get("/post.php")
		body := w.Body.String()
		if strings.Contains(body, "www.example.test") {
			t.Errorf("%s: the origin host is left in %s", cacheStatusOf(w), body)
		}
		for _, want := range []string{`"http:\/\/icp.example.test\/wp-includes\/js\/wp-emoji-release.min.js"`,
			`createRootURLMiddleware( "http://icp.example.test/wp-json/" )`, `data-src="http://icp.example.test/a.jpg"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: body lacks %s", cacheStatusOf(w), want)
			}
		}
	}
	if n := o.count("/post.php"); n != 1 {
		t.Errorf("origin saw %d requests; want 1", n)
	}
}
