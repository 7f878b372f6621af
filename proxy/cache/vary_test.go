package cache

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func TestSecondaryKey(t *testing.T) {
	tests := []struct {
		name   string
		resp   http.Header
		a, b   http.Header
		ignore []string
		match  bool
		ok     bool
	}{
		{"no vary", hdr(), hdr("Accept-Language", "en"), hdr("Accept-Language", "fr"), nil, true, true},
		{"same value", hdr("Vary", "Accept-Language"), hdr("Accept-Language", "en"), hdr("accept-language", "en"), nil, true, true},
		{"different value", hdr("Vary", "Accept-Language"), hdr("Accept-Language", "en"), hdr("Accept-Language", "fr"), nil, false, true},
		{"names case and order", hdr("Vary", "X-A, x-b"), hdr("X-A", "1", "X-B", "2"), hdr("X-B", "2", "X-A", "1"), nil, true, true},
		{"combined lines equal one line", hdr("Vary", "Accept"), hdr("Accept", "text/html", "Accept", "*/*"), hdr("Accept", "text/html ,  */*"), nil, true, true},
		{"absent differs from empty", hdr("Vary", "X-A"), hdr(), hdr("X-A", ""), nil, false, true},
		{"both absent", hdr("Vary", "X-A"), hdr(), hdr(), nil, true, true},
		{"ignored accept-encoding", hdr("Vary", "Accept-Encoding"), hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "br"), []string{"accept-encoding"}, true, true},
		{"accept-encoding counts unless ignored", hdr("Vary", "Accept-Encoding"), hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "br"), nil, false, true},
		{"multiple vary lines", hdr("Vary", "X-A", "Vary", "X-B"), hdr("X-A", "1", "X-B", "2"), hdr("X-A", "1", "X-B", "3"), nil, false, true},
		{"star", hdr("Vary", "X-A, *"), hdr(), hdr(), nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, oka := SecondaryKey(tt.resp, tt.a, tt.ignore...)
			kb, okb := SecondaryKey(tt.resp, tt.b, tt.ignore...)
			if oka != tt.ok || okb != tt.ok {
				t.Fatalf("got ok %v, %v; want %v", oka, okb, tt.ok)
			}
			if tt.ok && (ka == kb) != tt.match {
				t.Errorf("got keys %q and %q (equal %v); want equal %v", ka, kb, ka == kb, tt.match)
			}
		})
	}
}

func TestInvalidations(t *testing.T) {
	target, _ := url.Parse("https://www.example.cn/posts/1?x=1")
	tests := []struct {
		name   string
		method string
		status int
		h      http.Header
		want   []string
	}{
		{"get", "GET", 200, hdr(), nil},
		{"head", "HEAD", 200, hdr(), nil},
		{"post", "POST", 201, hdr(), []string{"https://www.example.cn/posts/1?x=1"}},
		{"post error", "POST", 500, hdr(), nil},
		{"post 4xx", "DELETE", 404, hdr(), nil},
		{"post redirect", "POST", 303, hdr("Location", "/posts/1#c"), []string{"https://www.example.cn/posts/1?x=1", "https://www.example.cn/posts/1"}},
		{"content-location relative", "PUT", 200, hdr("Content-Location", "2"), []string{"https://www.example.cn/posts/1?x=1", "https://www.example.cn/posts/2"}},
		{"other host ignored", "PATCH", 200, hdr("Location", "https://evil.example/"), []string{"https://www.example.cn/posts/1?x=1"}},
		{"host case-insensitive", "POST", 200, hdr("Location", "HTTPS://WWW.Example.CN/a"), []string{"https://www.example.cn/posts/1?x=1", "https://WWW.Example.CN/a"}},
		{"duplicate removed", "POST", 200, hdr("Location", "/posts/1?x=1", "Content-Location", "/posts/1?x=1"), []string{"https://www.example.cn/posts/1?x=1"}},
		{"unparsable location ignored", "POST", 200, hdr("Location", "%zz"), []string{"https://www.example.cn/posts/1?x=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, u := range Invalidations(tt.method, target, tt.status, tt.h) {
				got = append(got, u.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}
