package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

// headerOrigin answers each path with the status and header lines its
// table gives, stamping Date with the test's clock, and counts requests.
type headerOrigin struct {
	now   func() time.Time
	pages map[string]originPage
	mu    sync.Mutex
	hits  map[string]int
}

type originPage struct {
	status int
	header [][2]string // in order, repeats kept
}

func (o *headerOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.URL.Path]++
	o.mu.Unlock()
	p, ok := o.pages[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Date", o.now().UTC().Format(http.TimeFormat))
	w.Header().Set("Content-Type", "text/plain")
	for _, kv := range p.header {
		w.Header().Add(kv[0], kv[1])
	}
	w.WriteHeader(p.status)
	io.WriteString(w, "body of "+r.URL.Path)
}

func (o *headerOrigin) count(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[p]
}

// TestCacheReadsHeadersStrictly sends each response twice through a
// caching Handler and counts how often the origin was asked: once when the
// first answer may be reused, twice when it may not. It covers what the
// edge must read exactly as RFC 9110 and 9111 write it: HTTP-dates, a
// listed Age, and statuses it does not know.
func TestCacheReadsHeadersStrictly(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	hour := func(d time.Duration) string { return clock.Add(d).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name        string
		page        originPage
		wantFetches int
	}{
		{"valid expires", originPage{200, [][2]string{{"Expires", hour(time.Hour)}}}, 1},
		// RFC 9111 §5.3: an Expires that is not an HTTP-date means
		// already expired. http.ParseTime reads all three.
		{"expires with a one-digit hour", originPage{200, [][2]string{{"Expires", "Mon, 02 Mar 2026 9:00:00 GMT"}}}, 2},
		{"expires with runs of spaces", originPage{200, [][2]string{{"Expires", "Sun, 01  Mar  2026 13:00:00 GMT"}}}, 2},
		{"expires with a tab", originPage{200, [][2]string{{"Expires", "Sun, 01 Mar 2026\t13:00:00 GMT"}}}, 2},
		{"expires with lower-case gmt", originPage{200, [][2]string{{"Expires", "Sun, 01 Mar 2026 13:00:00 gmt"}}}, 1},
		{"expires lines that disagree", originPage{200, [][2]string{{"Expires", hour(time.Hour)}, {"Expires", hour(2 * time.Hour)}}}, 2},
		// RFC 9111 §5.1: the first member of a listed Age.
		{"age list", originPage{200, [][2]string{{"Cache-Control", "max-age=3600"}, {"Age", "7200, 0"}}}, 2},
		{"age on two lines", originPage{200, [][2]string{{"Cache-Control", "max-age=3600"}, {"Age", "7200"}, {"Age", "0"}}}, 2},
		{"young age list", originPage{200, [][2]string{{"Cache-Control", "max-age=3600"}, {"Age", "60, 7200"}}}, 1},
		// RFC 9111 §4.2.1: max-age repeated with another value is stale.
		{"conflicting max-age", originPage{200, [][2]string{{"Cache-Control", "max-age=3600, max-age=1"}}}, 2},
		// RFC 9111 §3: unknown statuses are stored when explicitly fresh.
		{"299 with max-age", originPage{299, [][2]string{{"Cache-Control", "max-age=60"}}}, 1},
		{"499 with expires", originPage{499, [][2]string{{"Expires", hour(time.Hour)}}}, 1},
		{"599 with s-maxage", originPage{599, [][2]string{{"Cache-Control", "s-maxage=60"}}}, 1},
		{"599 without freshness", originPage{599, [][2]string{{"Last-Modified", hour(-1000 * time.Hour)}}}, 2},
		{"299 public only", originPage{299, [][2]string{{"Cache-Control", "public"}, {"Last-Modified", hour(-1000 * time.Hour)}}}, 2},
		{"299 must-understand", originPage{299, [][2]string{{"Cache-Control", "max-age=60, must-understand, no-store"}}}, 2},
	}
	o := &headerOrigin{now: now, pages: map[string]originPage{}, hits: map[string]int{}}
	for i, tt := range tests {
		o.pages["/"+string(rune('a'+i))] = tt.page
	}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	store, err := cache.Open(cache.Options{Dir: t.TempDir(), MaxSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := New(Options{
		Hosts:   []string{"icp.example.test"},
		Origin:  u,
		Rewrite: rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}},
		Cache:   store,
		Now:     now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/" + string(rune('a'+i))
			var last *httptest.ResponseRecorder
			for range 2 {
				last = get(h, "icp.example.test", path)
				if last.Code != tt.page.status {
					t.Fatalf("got status %d; want %d", last.Code, tt.page.status)
				}
				if body := last.Body.String(); body != "body of "+path {
					t.Fatalf("got body %q; want the origin's", body)
				}
			}
			if got := o.count(path); got != tt.wantFetches {
				t.Errorf("got %d origin requests for two visits; want %d (second Cache-Status: %s)",
					got, tt.wantFetches, last.Header().Get("Cache-Status"))
			}
			if tt.wantFetches == 1 && !strings.Contains(last.Header().Get("Cache-Status"), "hit") {
				t.Errorf("got Cache-Status %q on the second visit; want a hit", last.Header().Get("Cache-Status"))
			}
		})
	}
}
