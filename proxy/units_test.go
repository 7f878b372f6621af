package proxy

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestNegotiateEncoding(t *testing.T) {
	for _, tc := range []struct {
		accept   string
		br, gzip bool // available
		want     string
	}{
		{"", true, true, ""},
		{"gzip", true, true, "gzip"},
		{"x-gzip", true, true, "gzip"},
		{"gzip, deflate, br", true, true, "br"},
		{"br;q=0, gzip", true, true, "gzip"},
		{"BR;Q=0.5", true, true, "br"},
		{"*", true, true, "br"},
		{"*;q=0", true, true, ""},
		{"br;q=0, *", true, true, "gzip"},
		{"identity", true, true, ""},
		{"deflate", true, true, ""},
		{"gzip;q=0", true, true, ""},
		// Before the br variant is made, a br visitor gets gzip; and
		// identity where nothing accepted is there.
		{"gzip, deflate, br", false, true, "gzip"},
		{"br", false, true, ""},
		{"gzip, br", false, false, ""},
		{"*", false, true, "gzip"},
	} {
		if got := negotiateEncoding(tc.accept, tc.br, tc.gzip); got != tc.want {
			t.Errorf("negotiateEncoding(%q, br %v, gzip %v) = %q; want %q", tc.accept, tc.br, tc.gzip, got, tc.want)
		}
	}
}

func TestFastCoding(t *testing.T) {
	for accept, want := range map[string]string{
		"":                  "",
		"gzip, deflate, br": "gzip",
		"br":                "br",
		"br, gzip;q=0":      "br",
		"identity":          "",
		"*":                 "gzip",
	} {
		if got := fastCoding(accept); got != want {
			t.Errorf("fastCoding(%q) = %q; want %q", accept, got, want)
		}
	}
}

func TestRemoveHopHeaders(t *testing.T) {
	h := http.Header{
		"Connection":        {"X-A, x-b", "close"},
		"X-A":               {"1"},
		"X-B":               {"2"},
		"Keep-Alive":        {"timeout=5"},
		"Te":                {"trailers"},
		"Transfer-Encoding": {"chunked"},
		"Upgrade":           {"h2c"},
		"Proxy-Connection":  {"keep-alive"},
		"X-Keep":            {"yes"},
	}
	removeHopHeaders(h)
	want := http.Header{"X-Keep": {"yes"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %v; want %v", h, want)
	}
}

func TestCanonicalHost(t *testing.T) {
	for in, want := range map[string]string{
		"ICP.Example.COM":      "icp.example.com",
		"icp.example.com:8443": "icp.example.com",
		"icp.example.com.":     "icp.example.com",
		"[::1]:80":             "::1",
		"[::1]":                "::1",
		"127.0.0.1:80":         "127.0.0.1",
		"icp.example.com":      "icp.example.com",
		"127.0.0.1":            "127.0.0.1",
		"ÉDGE.example.com":     "édge.example.com",
	} {
		if got := canonicalHost(in); got != want {
			t.Errorf("canonicalHost(%q) = %q; want %q", in, got, want)
		}
	}
	// A host already canonical comes back as it is, with no allocation.
	if n := testing.AllocsPerRun(100, func() { canonicalHost("icp.example.com") }); n != 0 {
		t.Errorf("canonicalHost of a bare host: %v allocations", n)
	}
}

func TestEdgeHost(t *testing.T) {
	for _, tt := range []struct{ in, scheme, want string }{
		{"icp.example.com", "https", "icp.example.com"},
		{"ICP.example.com.", "https", "icp.example.com"},
		{"icp.example.com:443", "https", "icp.example.com"},
		{"icp.example.com:443", "http", "icp.example.com:443"},
		{"icp.example.com:80", "http", "icp.example.com"},
		{"[::1]:8443", "https", "[::1]:8443"},
		{"[::1]", "https", "[::1]"},
	} {
		if got := edgeHost(tt.in, tt.scheme); got != tt.want {
			t.Errorf("edgeHost(%q, %q) = %q; want %q", tt.in, tt.scheme, got, tt.want)
		}
	}
}

func TestRewriteCookieDomain(t *testing.T) {
	h := &Handler{rewriteHosts: map[string]bool{"www.client.com": true}}
	for _, tc := range []struct{ in, want string }{
		{"a=1; Domain=www.client.com; Path=/", "a=1; Domain=icp.client.com; Path=/"},
		{"a=1; domain=.WWW.client.com", "a=1; Domain=icp.client.com"},
		{"a=1; Domain=client.com", "a=1; Domain=client.com"},
		{"a=1; Path=/", "a=1; Path=/"},
		{"a=www.client.com; Path=/", "a=www.client.com; Path=/"},
	} {
		if got := h.rewriteCookieDomain(tc.in, "icp.client.com"); got != tc.want {
			t.Errorf("rewriteCookieDomain(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestOriginURL(t *testing.T) {
	for _, tc := range []struct{ origin, in, want string }{
		{"https://o.example", "/a/b?q=1", "https://o.example/a/b?q=1"},
		{"https://o.example/", "/a%2Fb", "https://o.example/a%2Fb"},
		{"https://o.example:8443/base/", "/a?x", "https://o.example:8443/base/a?x"},
		{"http://o.example/base", "/", "http://o.example/base/"},
	} {
		o, _ := url.Parse(tc.origin)
		in, _ := url.ParseRequestURI(tc.in)
		h := &Handler{opts: Options{Origin: o}}
		if got := h.originURL(in).String(); got != tc.want {
			t.Errorf("originURL(%s, %s) = %s; want %s", tc.origin, tc.in, got, tc.want)
		}
	}
}

func TestDecodeDeflateBothForms(t *testing.T) {
	text := bytes.Repeat([]byte("deflate me "), 100)
	var z, raw bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(text)
	zw.Close()
	fw, _ := flate.NewWriter(&raw, flate.DefaultCompression)
	fw.Write(text)
	fw.Close()
	for name, b := range map[string][]byte{"zlib": z.Bytes(), "raw": raw.Bytes()} {
		r, err := decodeBody(bytes.NewReader(b), "deflate")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, text) {
			t.Errorf("%s: got %d bytes, %v; want the original %d", name, len(got), err, len(text))
		}
	}
	if _, err := decodeBody(bytes.NewReader(nil), "compress"); err == nil {
		t.Error("decodeBody with an unknown coding: got nil error; want one")
	}
}

func TestStatusForError(t *testing.T) {
	if got := statusForError(io.ErrUnexpectedEOF); got != http.StatusBadGateway {
		t.Errorf("got %d; want 502", got)
	}
}

// TestMediaType checks mediaType against mime.ParseMediaType, with the
// lenient reading of a type it refuses.
func TestMediaType(t *testing.T) {
	for _, ctype := range []string{
		"text/html", "text/html; charset=utf-8", "TEXT/HTML;charset=GBK", " text/css ", "text/html;",
		"application/json; charset=", "text/html; charset=\"unterminated", "text/html; a=1; a=2",
		"html", "", ";", "text/ html", "text/html ;q", "multipart/byteranges; boundary=x",
	} {
		want, _, err := mime.ParseMediaType(ctype)
		if err != nil {
			want = strings.ToLower(strings.TrimSpace(strings.Split(ctype, ";")[0]))
		}
		if got := mediaType(ctype); got != want {
			t.Errorf("mediaType(%q) = %q; want %q", ctype, got, want)
		}
	}
}
