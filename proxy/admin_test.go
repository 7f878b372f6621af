package proxy

import (
	"net/http"
	"net/http/httptest"
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
