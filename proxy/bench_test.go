package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
