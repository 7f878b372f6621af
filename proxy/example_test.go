package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/icpedge/icpedge/proxy"
	"github.com/icpedge/icpedge/rewrite"
)

// An edge in front of an origin: the page comes back with the ICP notice
// and the origin's links moved onto the edge.
func ExampleNew() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<html><body><a href="https://www.client.com/about">About</a><footer>© Client</footer></body></html>`)
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)

	edge, err := proxy.New(proxy.Options{
		Hosts:  []string{"icp.client.com"},
		Origin: u,
		Rewrite: rewrite.Options{
			Notice:       rewrite.Notice{ICP: "京ICP备12345678号-1"},
			RewriteHosts: []string{"www.client.com"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer edge.Close()

	rec := httptest.NewRecorder()
	edge.ServeHTTP(rec, httptest.NewRequest("GET", "http://icp.client.com/", nil))
	body := rec.Body.String()
	fmt.Println(rec.Code)
	fmt.Println(strings.Contains(body, `href="http://icp.client.com/about"`))
	fmt.Println(strings.Count(body, `id="`+rewrite.NoticeID+`"`))

	rec = httptest.NewRecorder()
	edge.ServeHTTP(rec, httptest.NewRequest("GET", "http://evil.example/", nil))
	fmt.Println(rec.Code)
	// Output:
	// 200
	// true
	// 1
	// 421
}
