package proxy

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

// benchPage returns a realistic HTML page of about size bytes with links
// on the origin host and a footer.
func benchPage(size int) []byte {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Bench</title>
<link rel="stylesheet" href="https://www.client.com/wp-content/themes/t/style.css">
<script src="https://www.client.com/wp-includes/js/jquery.min.js"></script></head><body><header><nav>`)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, `<a href="https://www.client.com/page-%d/">Page %d</a> `, i, i)
	}
	b.WriteString("</nav></header><main>")
	for i := 0; b.Len() < size-200; i++ {
		fmt.Fprintf(&b, `<article class="post"><h2><a href="https://www.client.com/%d/">Post %d</a></h2><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. <img src="https://www.client.com/img/%d.jpg" alt=""></p></article>`+"\n", i, i, i)
	}
	b.WriteString("</main><footer><p>© Client</p></footer></body></html>\n")
	return []byte(b.String())
}

// BenchmarkProxyMiss measures a whole proxied request: origin fetch over
// loopback, decode, rewrite and gzip to the visitor, for a 100 KB page.
func BenchmarkProxyMiss(b *testing.B) {
	for _, size := range []int{60 << 10, 100 << 10, 300 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			page := benchPage(size)
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Write(page)
			}))
			defer origin.Close()
			u, _ := url.Parse(origin.URL)
			h, err := New(Options{
				Hosts:   []string{"icp.client.com"},
				Origin:  u,
				Rewrite: rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}, RewriteHosts: []string{"www.client.com"}},
			})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", "http://icp.client.com/", nil)
				req.Header.Set("Accept-Encoding", "gzip")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkCacheMiss measures a cache miss through the whole handler: a
// never-seen URL fetched over loopback, rewritten, compressed for its
// visitor when it accepts that, and stored, for a 60 KB page. The
// Compressor is closed, so the background work that follows a miss is
// not counted here (see BenchmarkCompressor).
func BenchmarkCacheMiss(b *testing.B) {
	page := benchPage(60 << 10)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.Write(page)
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	for _, accept := range []string{"", "gzip, deflate, br"} {
		name := "identity"
		if accept != "" {
			name = "browser"
		}
		b.Run(name, func(b *testing.B) {
			store, err := cache.Open(cache.Options{Dir: b.TempDir(), MaxSize: 8 << 30, Memory: 16 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			c := NewCompressor(1)
			c.Close()
			h, err := New(Options{
				Hosts:      []string{"icp.client.com"},
				Origin:     u,
				Rewrite:    rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}, RewriteHosts: []string{"www.client.com"}},
				Cache:      store,
				Compressor: c,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				req := httptest.NewRequest("GET", "http://icp.client.com/p/"+strconv.Itoa(i), nil)
				if accept != "" {
					req.Header.Set("Accept-Encoding", accept)
				}
				w := &discardWriter{h: http.Header{}}
				h.ServeHTTP(w, req)
				if cs := w.h.Get("Cache-Status"); cs != "icpedge; fwd=miss; stored" {
					b.Fatalf("Cache-Status %q", cs)
				}
			}
		})
	}
}

// BenchmarkCompressor measures the background work that follows a miss:
// the stored variants of a 60 KB page made and swapped in.
func BenchmarkCompressor(b *testing.B) {
	page := benchPage(60 << 10)
	store, err := cache.Open(cache.Options{Dir: b.TempDir(), Memory: 16 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	c := newCompressor(0, 1)
	cw := newCompressWriters()
	budget := NewBudget(0)
	log := slog.New(slog.DiscardHandler)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		e := &cache.Entry{Key: "k", Status: 200, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}}
		e.SetBody(cache.Identity, page)
		if err := store.Put(e); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c.run(compressJob{compressKey: compressKey{store: store, key: "k"}, budget: budget, log: log}, cw)
	}
	if c.done.Load() == 0 {
		b.Fatal("nothing swapped in")
	}
}
