package demo

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestVisitAddr(t *testing.T) {
	for _, tt := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "localhost:8080"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "localhost:8080"},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, "localhost:80"},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 8080}, "192.0.2.1:8080"},
		{&net.UnixAddr{Name: "/run/edge.sock", Net: "unix"}, "/run/edge.sock"},
	} {
		if got := VisitAddr(tt.addr); got != tt.want {
			t.Errorf("VisitAddr(%v) = %q; want %q", tt.addr, got, tt.want)
		}
	}
}

// The tour shows pages under the edge's URL, each one the sample origin
// serves.
func TestWriteTour(t *testing.T) {
	var b bytes.Buffer
	WriteTour(&b, "http://localhost:8080")
	for _, p := range []string{"/", "/gbk", "/about", "/plain"} {
		if !strings.Contains(b.String(), "  http://localhost:8080"+p+" ") {
			t.Errorf("tour lacks %s:\n%s", p, b.String())
		}
		rec := httptest.NewRecorder()
		Origin().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("the sample origin answers %s with %d; want 200", p, rec.Code)
		}
	}
	if !strings.HasPrefix(b.String(), "icpedge demo: try\n") || !strings.Contains(b.String(), "curl -I http://localhost:8080/ ") {
		t.Errorf("tour lacks its heading or the curl line:\n%s", b.String())
	}
}
