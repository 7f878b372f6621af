package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// purgeEdge is an edge whose cache holds /a, /blog/x, /blog/y and /?p=1,
// and its admin API.
func purgeEdge(t *testing.T) (*safetyEdge, http.Handler) {
	t.Helper()
	o := newSafetyOrigin(t)
	e := originHostEdge(t, o, nil)
	for _, p := range []string{"/a", "/blog/x", "/blog/y", "/"} {
		o.set(p, page("max-age=600"))
	}
	for _, target := range []string{"/a", "/blog/x", "/blog/y", "/?p=1"} {
		if w := e.get(target); !strings.HasSuffix(cacheStatusOf(w), "stored") {
			t.Fatalf("%s: Cache-Status %q; want stored", target, cacheStatusOf(w))
		}
	}
	return e, e.h.Admin(AdminOptions{Token: "tok"})
}

func adminDo(admin http.Handler, method, target, host string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://127.0.0.1:9080"+target, body)
	r.Host = host
	r.Header.Set("Authorization", "Bearer tok")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, r)
	return w
}

// The requests WordPress's purge plugins send are understood, behind the
// same token as every purge.
func TestAdminPurgeForms(t *testing.T) {
	tests := []struct {
		name, method, target, host string
		body                       string
		hdr                        []string
		purged                     string // the answer
		gone                       []string
	}{
		{"PURGE one page (Proxy Cache Purge)", "PURGE", "/a", "www.example.test", "", []string{"X-Purge-Method", "default"}, `{"purged":1}`, []string{"/a"}},
		{"PURGE with a query", "PURGE", "/?p=1", "icp.example.test", "", nil, `{"purged":1}`, []string{"/?p=1"}},
		{"PURGE regex under a path", "PURGE", "/blog/.*", "www.example.test", "", []string{"X-Purge-Method", "regex"}, `{"purged":2}`, []string{"/blog/x", "/blog/y"}},
		{"PURGE regex everything", "PURGE", "/.*", "www.example.test", "", []string{"X-Purge-Method", "regex"}, `{"purged":4}`, []string{"/a", "/blog/x", "/?p=1"}},
		{"GET /purge/path (Nginx Helper)", "GET", "/purge/blog/x", "127.0.0.1:9080", "", nil, `{"purged":1}`, []string{"/blog/x"}},
		{"POST form with two URLs", "POST", "/purge", "127.0.0.1:9080", "url=http%3A%2F%2Fwww.example.test%2Fa&url=%2Fblog%2Fy", []string{"Content-Type", "application/x-www-form-urlencoded"}, `{"purged":2}`, []string{"/a", "/blog/y"}},
		{"POST JSON", "POST", "/purge", "127.0.0.1:9080", `{"urls":["http://www.example.test/blog/x","/a"]}`, []string{"Content-Type", "application/json"}, `{"purged":2}`, []string{"/a", "/blog/x"}},
		{"POST JSON prefix", "POST", "/purge", "127.0.0.1:9080", `{"prefix":"/blog/"}`, []string{"Content-Type", "application/json"}, `{"purged":2}`, []string{"/blog/x"}},
		{"POST query, the origin's own URL", "POST", "/purge?url=http://www.example.test/a", "127.0.0.1:9080", "", nil, `{"purged":1}`, []string{"/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, admin := purgeEdge(t)
			w := adminDo(admin, tt.method, tt.target, tt.host, strings.NewReader(tt.body), tt.hdr...)
			if w.Code != 200 || strings.TrimSpace(w.Body.String()) != tt.purged {
				t.Fatalf("got %d %s; want 200 %s", w.Code, w.Body.String(), tt.purged)
			}
			for _, target := range tt.gone {
				if cs := cacheStatusOf(e.get(target)); !strings.Contains(cs, "fwd=miss") {
					t.Errorf("%s after the purge: Cache-Status %q; want a miss", target, cs)
				}
			}
		})
	}
}

func TestAdminPurgeRefusals(t *testing.T) {
	e, admin := purgeEdge(t)
	for _, tt := range []struct {
		name, method, target string
		body                 string
		hdr                  []string
		code                 int
		msg                  string
	}{
		{"a regex other than path.*", "PURGE", "/blog/(x|y)", "", []string{"X-Purge-Method", "regex"}, 400, "only a path followed by .* is understood"},
		{"a regex with a query", "PURGE", "/blog/.*?a=1", "", []string{"X-Purge-Method", "regex"}, 400, "only a path followed by .* is understood"},
		{"bad JSON", "POST", "/purge", `{"url":`, []string{"Content-Type", "application/json"}, 400, "reading the JSON body"},
		{"nothing named", "POST", "/purge", `{}`, []string{"Content-Type", "application/json"}, 400, "nothing to purge"},
		{"a body too large", "POST", "/purge", "url=" + strings.Repeat("a", maxPurgeBody), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, "reading the form"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host := "www.example.test" // as Proxy Cache Purge sends a PURGE
			if tt.method != "PURGE" {
				host = "127.0.0.1:9080"
			}
			w := adminDo(admin, tt.method, tt.target, host, strings.NewReader(tt.body), tt.hdr...)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.msg) {
				t.Errorf("got %d %s; want %d with %q", w.Code, w.Body.String(), tt.code, tt.msg)
			}
		})
	}
	// Without the token, none of the forms changes anything.
	for _, m := range []struct{ method, target string }{{"PURGE", "/a"}, {"GET", "/purge/a"}, {"POST", "/purge?all=1"}} {
		r := httptest.NewRequest(m.method, "http://127.0.0.1:9080"+m.target, nil)
		r.Header.Set("Authorization", "Bearer wrong")
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d; want 401", m.method, m.target, w.Code)
		}
	}
	if cs := cacheStatusOf(e.get("/a")); !strings.HasPrefix(cs, "icpedge; hit") {
		t.Errorf("/a after refused purges: %q; want still a hit", cs)
	}
}

// A PURGE names its site in Host, which picks the client in a process
// serving several; an IP address or loopback name picks none. Only a
// purge request may name a site in Host, and only a site this process
// knows: any other name is a rebinding page's, refused with 421 like
// every admin request on a name.
func TestAdminPurgeHost(t *testing.T) {
	var hosts []string
	admin := NewAdmin(AdminOptions{Token: "tok", Purge: func(p Purge, host string) (int, error) {
		hosts = append(hosts, host)
		return 0, nil
	}, Site: func(host string) bool { return host == "www.example.test" || host == "icp.example.test" },
		Metrics: http.NotFoundHandler()})
	for _, h := range []string{"www.example.test", "WWW.Example.Test:80", "127.0.0.1:9080", "[::1]:9080", "localhost:9080"} {
		if w := adminDo(admin, "PURGE", "/a", h, nil); w.Code != 200 {
			t.Errorf("PURGE with Host %s: %d; want 200", h, w.Code)
		}
	}
	if w := adminDo(admin, "GET", "/purge/a", "icp.example.test", nil); w.Code != 200 {
		t.Errorf("GET /purge/a with the edge's host: %d; want 200", w.Code)
	}
	adminDo(admin, "POST", "/purge?url=/a&host=icp.example.test", "127.0.0.1", nil)
	want := []string{"www.example.test", "www.example.test", "", "", "", "icp.example.test", "icp.example.test"}
	if strings.Join(hosts, ",") != strings.Join(want, ",") {
		t.Errorf("hosts %q; want %q", hosts, want)
	}
	hosts = nil
	for _, tt := range []struct{ method, target, host string }{
		{"PURGE", "/a", "evil.example"},
		{"GET", "/purge/a", "www.example.test.evil.example"},
		{"POST", "/purge?all=1", "www.example.test"},
		{"GET", "/metrics", "www.example.test"},
		{"GET", "/healthz", "icp.example.test"},
	} {
		if w := adminDo(admin, tt.method, tt.target, tt.host, nil); w.Code != http.StatusMisdirectedRequest {
			t.Errorf("%s %s with Host %s: %d; want 421", tt.method, tt.target, tt.host, w.Code)
		}
	}
	if len(hosts) > 0 {
		t.Errorf("refused requests purged for %q", hosts)
	}
}
