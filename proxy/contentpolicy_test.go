package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

func TestMatchRules(t *testing.T) {
	rules := append(DefaultBlockRules(),
		BlockRule{Name: "dl", Path: "/downloads/"},
		BlockRule{Name: "films", Path: "/films/*.mp4"},
		BlockRule{Name: "zip-big", Path: "*.zip", MaxSize: 100})
	tests := []struct {
		path, ctype string
		size        int64
		want        string // rule name, "" for none
	}{
		{"/a/b/Movie.TORRENT", "", -1, "default:torrent-file"},
		{"/x", "application/x-bittorrent; charset=binary", 10, "default:torrent-type"},
		{"/clip.mp4", "video/mp4", 50 << 20, ""},
		{"/film", "video/mp4", 2 << 30, "default:video-over-1GiB"},
		{"/film.mkv", "application/octet-stream", 2 << 30, "default:mkv-over-1GiB"},
		{"/film.mkv", "application/octet-stream", -1, ""},
		{"/setup.exe", "application/octet-stream", 3 << 30, ""},
		{"/downloads/x/y.pdf", "application/pdf", 1, "dl"},
		{"/Downloads", "text/html", 1, ""},
		{"/films/a.mp4", "video/mp4", 1, "films"},
		{"/films/sub/a.mp4", "video/mp4", 1, ""},
		{"/a.zip", "application/zip", 101, "zip-big"},
		{"/a.zip", "application/zip", 100, ""},
		{"/", "text/html", 5, ""},
		// A file under a trailing slash, with path info, parameters or
		// the trailing dots Windows servers drop.
		{"/a.torrent/", "text/html", 5, "default:torrent-file"},
		{"/a.torrent/details", "text/html", 5, "default:torrent-file"},
		{"/get/a.TORRENT;jsessionid=1", "text/html", 5, "default:torrent-file"},
		{"/a.torrent.. ", "text/html", 5, "default:torrent-file"},
		{"/downloads;x=1/a.pdf", "application/pdf", 1, "dl"},
		{"/films/a.mp4;x", "video/mp4", 1, "films"},
		{"/torrent/x.html", "text/html", 5, ""},
	}
	for _, tt := range tests {
		r, ok := Match(rules, tt.path, tt.ctype, tt.size)
		if got := r.Name; !ok && got != "" || ok && got != tt.want || !ok && tt.want != "" {
			t.Errorf("Match(%q, %q, %d) = %q, %v; want %q", tt.path, tt.ctype, tt.size, got, ok, tt.want)
		}
	}
	if r, ok := MatchPath(rules, "/a/x.torrent"); !ok || r.Name != "default:torrent-file" {
		t.Errorf("MatchPath(x.torrent) = %v, %v; want the torrent-file rule", r, ok)
	}
	if r, ok := MatchPath(rules, "/film.mkv"); ok {
		t.Errorf("MatchPath(film.mkv) = %v; want no match: the size is not known yet", r)
	}
}

func TestRepresentationSize(t *testing.T) {
	for _, tt := range []struct {
		status int
		hdr    http.Header
		want   int64
	}{
		{200, http.Header{"Content-Length": {"42"}}, 42},
		{200, http.Header{}, -1},
		{206, http.Header{"Content-Range": {"bytes 0-99/5000"}, "Content-Length": {"100"}}, 5000},
		{206, http.Header{"Content-Range": {"bytes 0-99/*"}, "Content-Length": {"100"}}, -1},
	} {
		if got := representationSize(tt.status, tt.hdr); got != tt.want {
			t.Errorf("representationSize(%d, %v) = %d; want %d", tt.status, tt.hdr, got, tt.want)
		}
	}
}

// policyOrigin serves a few kinds of content and counts requests per path.
type policyOrigin struct {
	mu   sync.Mutex
	hits map[string]int
}

func (o *policyOrigin) count(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[p]
}

func (o *policyOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.URL.Path]++
	o.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=600")
	switch r.URL.Path {
	case "/get.torrent", "/t":
		w.Header().Set("Content-Type", "application/x-bittorrent")
		io.WriteString(w, "d8:announce...e")
	case "/big.mp4":
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(3000))
		w.Write(bytes.Repeat([]byte{0}, 3000))
	case "/chunked.mp4":
		w.Header().Set("Content-Type", "video/mp4")
		for range 4 {
			w.Write(bytes.Repeat([]byte{0}, 1000))
			w.(http.Flusher).Flush()
		}
	case "/small.mp4":
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(bytes.Repeat([]byte{0}, 500))
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html><body><p>hello</p></body></html>")
	}
}

func newPolicyEdge(t *testing.T, withCache bool, rules []BlockRule, landing *Landing) (*Handler, *policyOrigin, *cache.Store) {
	t.Helper()
	o := &policyOrigin{hits: map[string]int{}}
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	opts := Options{
		Hosts:   []string{"icp.example.test"},
		Origin:  u,
		Rewrite: rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1", Company: "示例公司"}},
		Block:   rules,
		Landing: landing,
	}
	var store *cache.Store
	if withCache {
		var err error
		store, err = cache.Open(cache.Options{Dir: t.TempDir(), MaxSize: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		opts.Cache = store
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, o, store
}

func get(h http.Handler, host, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
	w := httptest.NewRecorder()
	func() {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				panic(v)
			}
		}()
		h.ServeHTTP(w, r)
	}()
	return w
}

func TestPolicyBlocks(t *testing.T) {
	rules := append(DefaultBlockRules(), BlockRule{Name: "video-2k", Type: "video/*", MaxSize: 2000})
	for _, withCache := range []bool{false, true} {
		t.Run("cache="+strconv.FormatBool(withCache), func(t *testing.T) {
			h, o, store := newPolicyEdge(t, withCache, rules, nil)
			for _, tt := range []struct {
				path   string
				status int
				origin int // origin requests expected after two tries
			}{
				{"/get.torrent", 451, 0}, // path rule: never asks the origin
				{"/t", 451, 2},           // type rule
				{"/big.mp4", 451, 2},     // Content-Length over the limit
				{"/small.mp4", 200, 1},
				{"/", 200, 1},
			} {
				for i := range 2 {
					w := get(h, "icp.example.test", tt.path)
					if w.Code != tt.status {
						t.Fatalf("GET %s #%d: status %d; want %d", tt.path, i, w.Code, tt.status)
					}
					if tt.status == 451 {
						mustHave(t, w.Body.String(), "beian.miit.gov.cn")
						if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
							t.Errorf("GET %s: Cache-Control %q; want no-store", tt.path, cc)
						}
					}
				}
				want := tt.origin
				if !withCache && tt.status == 200 {
					want = 2
				}
				if got := o.count(tt.path); got != want {
					t.Errorf("%s: origin saw %d requests; want %d", tt.path, got, want)
				}
			}
			// A body of unknown length is cut once it passes the limit.
			w := get(h, "icp.example.test", "/chunked.mp4")
			if w.Code != 451 && w.Body.Len() > 2000 {
				t.Errorf("chunked video: status %d, %d bytes sent; want 451 or the transfer cut", w.Code, w.Body.Len())
			}
			if store != nil {
				n, _ := store.DeleteFunc(func(k string) bool {
					return strings.Contains(k, ".torrent") || strings.HasSuffix(k, "/t") || strings.Contains(k, "big.mp4") || strings.Contains(k, "chunked")
				})
				if n != 0 {
					t.Errorf("%d blocked responses were stored; want none", n)
				}
			}
		})
	}
}

// A response stored before a rule existed is not served once the rule does:
// the rules are part of the stored entries' fingerprint, so the old copy
// is a miss and the origin's fresh answer is refused.
func TestPolicyBlocksStoredEntry(t *testing.T) {
	h, o, store := newPolicyEdge(t, true, nil, nil)
	if w := get(h, "icp.example.test", "/small.mp4"); w.Code != 200 {
		t.Fatalf("status %d; want 200", w.Code)
	}
	h.Close()
	h2, err := New(Options{Hosts: h.opts.Hosts, Origin: h.opts.Origin, Rewrite: h.opts.Rewrite, Cache: store,
		Block: []BlockRule{{Name: "no-video", Type: "video/*"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if w := get(h2, "icp.example.test", "/small.mp4"); w.Code != 451 {
		t.Fatalf("status %d; want 451 instead of the stored copy", w.Code)
	}
	if got := o.count("/small.mp4"); got != 2 {
		t.Errorf("origin saw %d requests; want 2 (the stored copy is a miss under the new rules)", got)
	}
	if w := get(h2, "icp.example.test", "/small.mp4"); w.Code != 451 {
		t.Fatalf("second request: status %d; want 451", w.Code)
	}
}

func TestLanding(t *testing.T) {
	h, o, _ := newPolicyEdge(t, false, nil, &Landing{Host: "Example.test", Company: "示例公司", SiteURL: "https://icp.example.test/"})
	w := get(h, "example.test", "/")
	if w.Code != 200 {
		t.Fatalf("status %d; want 200", w.Code)
	}
	body := w.Body.String()
	for _, want := range []string{"<h1>示例公司</h1>", `href="https://icp.example.test/"`, `id="icpedge-notice"`, "京ICP备12345678号-1"} {
		mustHave(t, body, want)
	}
	if w := get(h, "example.test", "/about"); w.Code != 404 || !strings.Contains(w.Body.String(), `id="icpedge-notice"`) {
		t.Errorf("GET /about: status %d; want 404 with the notice", w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, "http://example.test/", nil)
	pw := httptest.NewRecorder()
	h.ServeHTTP(pw, r)
	if pw.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d; want 405", pw.Code)
	}
	if w := get(h, "icp.example.test", "/"); w.Code != 200 || o.count("/") != 1 {
		t.Errorf("main host: status %d, origin hits %d; want 200 from the origin", w.Code, o.count("/"))
	}
	if o.count("/about") != 0 {
		t.Errorf("the landing host reached the origin")
	}
}

func mustHave(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("got %q; want it to contain %q", got, want)
	}
}
