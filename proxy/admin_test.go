package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAdminHostAndBearer(t *testing.T) {
	purged := 0
	h := NewAdmin(AdminOptions{
		Token: "s3cret-token",
		Purge: func(Purge, string) (int, error) { purged++; return 1, nil },
	})
	tests := []struct {
		name, host, auth string
		want             int
	}{
		{"IPv4 with port", "127.0.0.1:9080", "Bearer s3cret-token", 200},
		{"IPv6 with port", "[::1]:9080", "Bearer s3cret-token", 200},
		{"IPv6 without port", "[::1]", "Bearer s3cret-token", 200},
		{"another IP (a LAN scrape)", "10.0.0.5:9080", "Bearer s3cret-token", 200},
		{"localhost", "localhost:9080", "Bearer s3cret-token", 200},
		{"localhost upper case with a dot", "LocalHost.:9080", "Bearer s3cret-token", 200},
		{"under .localhost", "edge.localhost:9080", "Bearer s3cret-token", 200},
		{"scheme in lower case", "127.0.0.1:9080", "bearer s3cret-token", 200},
		{"scheme in upper case, two spaces", "127.0.0.1:9080", "BEARER  s3cret-token", 200},
		{"DNS rebinding", "evil.example:9080", "Bearer s3cret-token", 421},
		{"a name that looks local", "localhost.evil.example", "Bearer s3cret-token", 421},
		{"a name ending in an IP", "127.0.0.1.evil.example:9080", "Bearer s3cret-token", 421},
		{"wrong token", "127.0.0.1:9080", "Bearer s3cret", 401},
		{"token without a scheme", "127.0.0.1:9080", "s3cret-token", 401},
		{"other scheme", "127.0.0.1:9080", "Basic s3cret-token", 401},
		{"scheme run into the token", "127.0.0.1:9080", "Bearers3cret-token", 401},
		{"empty token", "127.0.0.1:9080", "Bearer ", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := purged
			req := httptest.NewRequest(http.MethodPost, "http://x/purge?all=1", nil)
			req.Host = tt.host
			req.Header.Set("Authorization", tt.auth)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("POST /purge with Host %q, Authorization %q: got %d; want %d", tt.host, tt.auth, rec.Code, tt.want)
			}
			if did := purged > before; did != (tt.want == 200) {
				t.Errorf("purge ran: %v; want %v", did, tt.want == 200)
			}
		})
	}
	// Health checks answer on an IP address and are refused on a name
	// like everything else.
	for host, want := range map[string]int{"127.0.0.1:9080": 200, "evil.example": 421} {
		req := httptest.NewRequest(http.MethodGet, "http://x/healthz", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("GET /healthz with Host %q: got %d; want %d", host, rec.Code, want)
		}
	}
}

// The status page is mounted at / only, behind the same Host check as
// the rest of the API: a rebound DNS name gets nothing.
func TestAdminStatusPage(t *testing.T) {
	status := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("status page")) })
	h := NewAdmin(AdminOptions{Token: "s3cret-token", Status: status})
	for _, tt := range []struct {
		method, path, host string
		want               int
	}{
		{http.MethodGet, "/", "127.0.0.1:9080", 200},
		{http.MethodHead, "/", "127.0.0.1:9080", 200},
		{http.MethodPost, "/", "127.0.0.1:9080", 200},
		{http.MethodGet, "/", "evil.example:9080", 421},
		{http.MethodPost, "/", "evil.example:9080", 421},
		{http.MethodGet, "/other", "127.0.0.1:9080", 404},
		{http.MethodDelete, "/", "127.0.0.1:9080", 405},
	} {
		req := httptest.NewRequest(tt.method, "http://x"+tt.path, nil)
		req.Host = tt.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s %s with Host %s: got %d; want %d", tt.method, tt.path, tt.host, rec.Code, tt.want)
		}
		if served := rec.Body.String() == "status page"; served != (tt.want == 200) && tt.method != http.MethodHead {
			t.Errorf("%s %s with Host %s: status page served: %v", tt.method, tt.path, tt.host, served)
		}
	}
	// Without a Status handler there is no page.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9080/", nil)
	NewAdmin(AdminOptions{Token: "s3cret-token"}).ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("no Status: GET / got %d; want 404", rec.Code)
	}
}

// TestAdminSpreadDegradedRoutes: a spread purge lists the nodes, or says
// it reached this node only; /readyz stays 200 with the reason when
// degraded; extra routes need the token.
func TestAdminSpreadDegradedRoutes(t *testing.T) {
	var spreadErr error
	var nodes []string
	degraded := ""
	h := NewAdmin(AdminOptions{
		Token: "tok",
		Purge: func(Purge, string) (int, error) { return 2, nil },
		Spread: func(_ context.Context, p Purge, host string) ([]string, error) {
			return nodes, spreadErr
		},
		Degraded: func() string { return degraded },
		Routes:   map[string]http.Handler{"/cluster": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("nodes")) })},
	})
	do := func(method, path, auth string) (int, string) {
		req := httptest.NewRequest(method, "http://127.0.0.1:9080"+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	for _, tt := range []struct {
		name     string
		nodes    []string
		err      error
		code     int
		wantBody string
	}{
		{"no cluster", nil, nil, 200, `{"purged":2}`},
		{"two nodes", []string{"edge-a", "edge-b"}, nil, 200, `{"nodes":["edge-a","edge-b"],"purged":2}`},
		{"redis down", []string{"edge-a"}, errors.New("applied on this node only"), 503, `{"error":"applied on this node only","nodes":["edge-a"],"purged":2}`},
	} {
		nodes, spreadErr = tt.nodes, tt.err
		if code, body := do("POST", "/purge?url=/a", "tok"); code != tt.code || body != tt.wantBody {
			t.Errorf("%s: purge answered %d %s; want %d %s", tt.name, code, body, tt.code, tt.wantBody)
		}
	}
	if code, body := do("GET", "/readyz", ""); code != 200 || body != "ready" {
		t.Errorf("/readyz: %d %q; want 200 ready", code, body)
	}
	degraded = "cluster: redis unreachable: dial tcp: refused"
	if code, body := do("GET", "/readyz", ""); code != 200 || body != "ready, degraded: cluster: redis unreachable: dial tcp: refused" {
		t.Errorf("/readyz degraded: %d %q; want 200 with the reason", code, body)
	}
	if code, _ := do("GET", "/cluster", ""); code != 401 {
		t.Errorf("/cluster without the token: %d; want 401", code)
	}
	if code, body := do("GET", "/cluster", "tok"); code != 200 || body != "nodes" {
		t.Errorf("/cluster: %d %q; want 200 nodes", code, body)
	}
}
