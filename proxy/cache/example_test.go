package cache_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
)

func Example() {
	dir, err := os.MkdirTemp("", "cache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := cache.Open(cache.Options{Dir: dir, MaxSize: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// The operator forces a day on /static/, whatever the origin says;
	// stale pages may be served for a week if the origin is down.
	policy := cache.Policy{
		Rules:        []cache.Rule{{Prefix: "/static/", TTL: 24 * time.Hour}},
		StaleIfError: 7 * 24 * time.Hour,
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	req := httptest.NewRequest("GET", "https://www.example.cn/static/app.css", nil)
	header := http.Header{"Cache-Control": {"no-cache"}, "Content-Type": {"text/css"}}
	if ok, reason := policy.Storable(req, 200, header); !ok {
		fmt.Println("not stored:", reason)
		return
	}
	e := &cache.Entry{Key: "www.example.cn/static/app.css", Status: 200, Header: header, RequestTime: now, ResponseTime: now}
	e.SetBody(cache.Identity, []byte("body{margin:0}"))
	if err := store.Put(e); err != nil {
		log.Fatal(err) // the handler would log it and serve without caching
	}

	got, err := store.Get("www.example.cn/static/app.css")
	if err != nil {
		log.Fatal(err)
	}
	defer got.Close()
	for _, at := range []time.Duration{time.Hour, 25 * time.Hour} {
		d := policy.Decide(req, got, now.Add(at))
		fmt.Printf("after %v: %v, serve on error %v\n", at, d.Action, d.ServeOnError)
	}
	body, _ := got.Body(cache.Identity)
	b, _ := io.ReadAll(body)
	fmt.Printf("%s\n", b)
	// Output:
	// after 1h0m0s: serve, serve on error true
	// after 25h0m0s: revalidate, serve on error true
	// body{margin:0}
}
