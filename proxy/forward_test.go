package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/icpedge/icpedge/rewrite"
)

// Fields that name the client are believed only from trusted proxies;
// X-Real-IP always names the true client.
func TestClientIPHeaders(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	h, err := New(Options{
		Hosts:          []string{"icp.example.test"},
		Origin:         u,
		Rewrite:        rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	forged := map[string]string{
		"X-Real-IP":       "6.6.6.6",
		"True-Client-IP":  "6.6.6.7",
		"Client-IP":       "6.6.6.8",
		"X-Client-IP":     "6.6.6.9",
		"X-Forwarded-For": "6.6.6.10",
	}
	for _, tt := range []struct {
		name   string
		remote string
		hdr    map[string]string
		want   map[string]string // "" means absent
	}{
		{"visitor's forged fields dropped", "203.0.113.5:4000", forged, map[string]string{
			"X-Real-Ip": "203.0.113.5", "True-Client-Ip": "", "Client-Ip": "", "X-Client-Ip": "", "X-Forwarded-For": "203.0.113.5",
		}},
		{"plain visitor", "[2001:db8::1]:4000", nil, map[string]string{
			"X-Real-Ip": "2001:db8::1", "X-Forwarded-For": "2001:db8::1",
		}},
		{"trusted proxy's fields kept", "10.1.2.3:4000", forged, map[string]string{
			"X-Real-Ip": "6.6.6.6", "True-Client-Ip": "6.6.6.7", "Client-Ip": "6.6.6.8", "X-Client-Ip": "6.6.6.9", "X-Forwarded-For": "6.6.6.10, 10.1.2.3",
		}},
		{"trusted proxy without X-Real-IP: the last untrusted hop", "10.1.2.3:4000", map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.9.9.9"}, map[string]string{
			"X-Real-Ip": "198.51.100.7", "X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.9.9.9, 10.1.2.3",
		}},
		{"trusted proxy, nothing forwarded", "10.1.2.3:4000", nil, map[string]string{
			"X-Real-Ip": "10.1.2.3", "X-Forwarded-For": "10.1.2.3",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://icp.example.test/h", nil)
			r.RemoteAddr = tt.remote
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var got http.Header
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("origin echo: %v: %s", err, w.Body)
			}
			for k, want := range tt.want {
				if g := got.Get(k); g != want || len(got.Values(k)) > 1 {
					t.Errorf("origin got %s %q; want %q", k, got.Values(k), want)
				}
			}
		})
	}
}
