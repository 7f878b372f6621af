package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// warmOrigin is a client's origin with a sitemap index of two sitemaps,
// one gzip'ed, listing its pages on its own domain. It counts the
// requests for each path.
type warmOrigin struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

var warmPages = []string{"/", "/about/", "/contact/", "/posts/1", "/posts/2"}

func newWarmOrigin(t *testing.T) *warmOrigin {
	t.Helper()
	o := &warmOrigin{hits: map[string]int{}}
	urlset := func(paths ...string) []byte {
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
		for _, p := range paths {
			fmt.Fprintf(&b, "<url><loc>https://%s%s</loc></url>", originName, p)
		}
		b.WriteString("</urlset>")
		return b.Bytes()
	}
	var posts bytes.Buffer
	zw := gzip.NewWriter(&posts)
	zw.Write(urlset(warmPages[3:]...))
	zw.Close()
	files := map[string][]byte{
		"/sitemap.xml": []byte(`<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` +
			`<sitemap><loc>https://` + originName + `/sitemap-pages.xml</loc></sitemap>` +
			`<sitemap><loc>https://` + originName + `/sitemap-posts.xml.gz</loc></sitemap></sitemapindex>`),
		"/sitemap-pages.xml":    urlset(warmPages[:3]...),
		"/sitemap-posts.xml.gz": posts.Bytes(),
		"/bad-sitemap.xml":      urlset("/about/", "/missing"),
	}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.hits[r.URL.Path]++
		o.mu.Unlock()
		if b, ok := files[r.URL.Path]; ok {
			if strings.HasSuffix(r.URL.Path, ".gz") {
				w.Header().Set("Content-Type", "application/gzip")
			} else {
				w.Header().Set("Content-Type", "application/xml")
			}
			w.Write(b)
			return
		}
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>%s</title></head><body><h1>page %s</h1></body></html>", r.URL.Path, r.URL.Path)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *warmOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

// runWarm runs "icpedge warm args..." and returns its exit status,
// stdout and stderr.
func runWarm(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"warm"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// TestWarmE2E: icpedge warm reads the sitemap index the origin publishes
// (through the edge, one sitemap gzip'ed, URLs on the client's own
// domain), fetches each page once through the edge, and then every page
// is served from the edge's cache, with the notice, after the origin has
// gone away.
func TestWarmE2E(t *testing.T) {
	origin := newWarmOrigin(t)
	path := writeConfig(t, fmt.Sprintf(`hosts: [%s]
origin: %s
origin_host: %s
listen:
  http: %s
state_dir: state
notice:
  icp: %s
timeouts:
  connect: 2s
  response: 5s
admin:
  listen: %s
`, testHost, origin.srv.URL, originName, freePort(t), testICP, freePort(t)))
	e := startEdgeArgs(t, "", 2, []string{"serve", "--config", path})

	code, out, errOut := runWarm(t, "--config", path)
	if code != 0 {
		t.Fatalf("warm: exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	mustContain(t, out, "sitemap http://"+testHost+"/sitemap.xml: an index of 2 sitemaps")
	// The edge moved the index's URLs onto itself; the gzipped sitemap
	// it doesn't rewrite names the origin's, which warm maps onto the
	// edge (the posts' lines below).
	mustContain(t, out, "sitemap http://"+testHost+"/sitemap-posts.xml.gz: 2 pages")
	mustContain(t, out, " stored http://"+testHost+"/posts/2\n")
	mustContain(t, out, "/5 200 stored http://"+testHost+"/about/\n") // plain lines: stdout is not a terminal
	mustContain(t, out, "warmed 5 of 5 pages")
	mustContain(t, out, "5 stored, 0 already cached, 0 not stored, 0 failed")
	mustContain(t, out, "the edge's cache now holds ")
	for _, p := range warmPages {
		if n := origin.count(p); n != 1 {
			t.Errorf("origin saw %d requests for %s; want 1", n, p)
		}
	}

	// Again: everything is in the cache already, and the origin sees no page.
	code, out, _ = runWarm(t, "--config", path, "--rate", "50")
	if code != 0 || !strings.Contains(out, "0 stored, 5 already cached") {
		t.Fatalf("second warm: exit %d; want 0 and every page already cached:\n%s", code, out)
	}
	for _, p := range warmPages {
		if n := origin.count(p); n != 1 {
			t.Errorf("after the second warm the origin saw %d requests for %s; want still 1", n, p)
		}
	}

	// A page that fails makes the exit status 1 and is named.
	code, out, _ = runWarm(t, "--config", path, "--sitemap", "https://"+originName+"/bad-sitemap.xml")
	if code != 1 {
		t.Fatalf("warm with a missing page: exit %d; want 1:\n%s", code, out)
	}
	mustContain(t, out, "1 failed")
	mustContain(t, out, "http://"+testHost+"/missing: 404 Not Found")

	// The origin goes away: every page of the sitemap is still served,
	// from the cache, with the notice; a page that was not warmed is not.
	origin.srv.Close()
	c := clientFor(e.Addr("http"))
	for _, p := range warmPages {
		resp, err := c.Get("http://" + testHost + p)
		if err != nil {
			t.Fatalf("%s with the origin down: %v", p, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
			t.Errorf("%s with the origin down: %d, Cache-Status %q; want 200 from the cache", p, resp.StatusCode, resp.Header.Get("Cache-Status"))
		}
		if countNotices(string(body)) != 1 || !strings.Contains(html.UnescapeString(string(body)), testICP) || !strings.Contains(string(body), "page "+p) {
			t.Errorf("%s with the origin down: body %q; want the page with the notice", p, abbrev(string(body)))
		}
	}
	resp, err := c.Get("http://" + testHost + "/never-warmed/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Errorf("a page not in the sitemap: 200 with the origin down; want an error, as nothing was stored for it")
	}
}
