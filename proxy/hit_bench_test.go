package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the handler, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkCacheHit measures a memory-tier hit on a 60 KB page through
// the whole handler, as a visitor's br request.
func BenchmarkCacheHit(b *testing.B) {
	page := benchPage(60 << 10)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(page)
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	store, err := cache.Open(cache.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h, err := New(Options{
		Hosts:   []string{"icp.client.com"},
		Origin:  u,
		Rewrite: rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}, RewriteHosts: []string{"www.client.com"}},
		Cache:   store,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	req := httptest.NewRequest("GET", "http://icp.client.com/", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	// The br variant is made in the background.
	for deadline := time.Now().Add(20 * time.Second); !h.compressor.idle(); {
		if time.Now().After(deadline) {
			b.Fatal("compressor not idle within 20s")
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.h.Get("Content-Encoding") != "br" {
			b.Fatalf("not a br hit: %v", w.h)
		}
	}
}

// BenchmarkBypassCookies measures the session-cookie check a hit makes for
// a visitor with typical analytics and consent cookies and none of the
// default list's.
func BenchmarkBypassCookies(b *testing.B) {
	m := newCookieMatcher(DefaultBypassCookies())
	h := http.Header{"Cookie": {"_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; _fbp=fb.1.1700000000000.123456789; cookieconsent_status=dismiss; _gcl_au=1.1.1234567890.1700000000; wp-settings-time-1=1700000000"}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if m.match(h) {
			b.Fatal("matched")
		}
	}
}
