package cache

import (
	"net/http"
	"testing"
	"time"
)

func TestNotModified(t *testing.T) {
	lm := httpDate(t0.Add(-time.Hour))
	stored := &Entry{Status: 200, Header: hdr("ETag", `"v1"`, "Last-Modified", lm, "Date", httpDate(t0)), ResponseTime: t0}
	weakStored := &Entry{Status: 200, Header: hdr("ETag", `W/"v1"`), ResponseTime: t0}
	noValidators := &Entry{Status: 200, Header: hdr("Date", httpDate(t0)), ResponseTime: t0}
	tests := []struct {
		name string
		r    *http.Request
		e    *Entry
		want bool
	}{
		{"no conditions", req("GET", "/"), stored, false},
		{"inm match", req("GET", "/", "If-None-Match", `"v1"`), stored, true},
		{"inm weak match", req("GET", "/", "If-None-Match", `W/"v1"`), stored, true},
		{"inm weak stored", req("GET", "/", "If-None-Match", `"v1"`), weakStored, true},
		{"inm list", req("GET", "/", "If-None-Match", `"a", "v1"`), stored, true},
		{"inm lines", req("GET", "/", "If-None-Match", `"a"`, "If-None-Match", `"v1"`), stored, true},
		{"inm comma in tag", req("GET", "/", "If-None-Match", `"a,b", "v1"`), stored, true},
		{"inm no match", req("GET", "/", "If-None-Match", `"v2"`), stored, false},
		{"inm star", req("GET", "/", "If-None-Match", `*`), stored, true},
		{"inm malformed", req("GET", "/", "If-None-Match", `v1`), stored, false},
		{"inm beats ims", req("GET", "/", "If-None-Match", `"v2"`, "If-Modified-Since", httpDate(t0)), stored, false},
		{"inm without stored etag", req("GET", "/", "If-None-Match", `"v1"`), noValidators, false},
		{"ims equal", req("GET", "/", "If-Modified-Since", lm), stored, true},
		{"ims later", req("GET", "/", "If-Modified-Since", httpDate(t0)), stored, true},
		{"ims earlier", req("GET", "/", "If-Modified-Since", httpDate(t0.Add(-2*time.Hour))), stored, false},
		{"ims invalid", req("GET", "/", "If-Modified-Since", "yesterday"), stored, false},
		// RFC 9110 §13.1.3: an If-Modified-Since that is not an HTTP-date
		// (§5.6.7) is ignored, though http.ParseTime reads these.
		{"ims one-digit hour ignored", req("GET", "/", "If-Modified-Since", "Mon, 02 Mar 2026 9:00:00 GMT"), stored, false},
		{"ims runs of spaces ignored", req("GET", "/", "If-Modified-Since", "Sun,  01 Mar 2026 12:00:00 GMT"), stored, false},
		{"ims lower-case gmt", req("GET", "/", "If-Modified-Since", "Sun, 01 Mar 2026 12:00:00 gmt"), stored, true},
		{"ims rfc850", req("GET", "/", "If-Modified-Since", "Sunday, 01-Mar-26 12:00:00 GMT"), stored, true},
		{"ims asctime", req("GET", "/", "If-Modified-Since", "Sun Mar  1 12:00:00 2026"), stored, true},
		{"ims two lines ignored", req("GET", "/", "If-Modified-Since", httpDate(t0), "If-Modified-Since", httpDate(t0)), stored, false},
		{"ims uses date without last-modified", req("GET", "/", "If-Modified-Since", httpDate(t0)), noValidators, true},
		{"ims before date", req("GET", "/", "If-Modified-Since", httpDate(t0.Add(-time.Second))), noValidators, false},
		{"head", req("HEAD", "/", "If-None-Match", `"v1"`), stored, true},
		{"post", req("POST", "/", "If-None-Match", `"v1"`), stored, false},
		{"ims not for 404", req("GET", "/", "If-Modified-Since", httpDate(t0)), &Entry{Status: 404, Header: hdr(), ResponseTime: t0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NotModified(tt.r, tt.e); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestRevalidationHeaders(t *testing.T) {
	lm := httpDate(t0)
	tests := []struct {
		name     string
		stored   http.Header
		inm, ims string
	}{
		{"both", hdr("ETag", `"x"`, "Last-Modified", lm), `"x"`, lm},
		{"weak etag", hdr("ETag", `W/"x"`), `W/"x"`, ""},
		{"bad etag and date", hdr("ETag", `x`, "Last-Modified", "never"), "", ""},
		{"none", hdr(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := RevalidationHeaders(tt.stored)
			if got := h.Get("If-None-Match"); got != tt.inm {
				t.Errorf("got If-None-Match %q; want %q", got, tt.inm)
			}
			if got := h.Get("If-Modified-Since"); got != tt.ims {
				t.Errorf("got If-Modified-Since %q; want %q", got, tt.ims)
			}
		})
	}
}

func TestMergeNotModified(t *testing.T) {
	stored := hdr("ETag", `"v1"`, "Content-Type", "text/html", "Content-Length", "100",
		"Cache-Control", "max-age=60", "Date", httpDate(t0), "Age", "30", "X-Old", "1")
	t.Run("updates", func(t *testing.T) {
		nm := hdr("ETag", `"v1"`, "Cache-Control", "max-age=600", "Date", httpDate(t0.Add(time.Hour)),
			"Content-Length", "0", "Connection", "X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5",
			"Content-Encoding", "gzip")
		got, ok := MergeNotModified(stored, nm)
		if !ok {
			t.Fatalf("got ok false; want true")
		}
		for name, want := range map[string]string{
			"Cache-Control":    "max-age=600",
			"Date":             httpDate(t0.Add(time.Hour)),
			"Content-Length":   "100",
			"Content-Type":     "text/html",
			"X-Old":            "1",
			"Age":              "",
			"X-Hop":            "",
			"Keep-Alive":       "",
			"Content-Encoding": "",
			"Connection":       "",
		} {
			if g := got.Get(name); g != want {
				t.Errorf("got %s %q; want %q", name, g, want)
			}
		}
		if stored.Get("Cache-Control") != "max-age=60" {
			t.Errorf("stored header was modified")
		}
	})
	tests := []struct {
		name   string
		stored http.Header
		nm     http.Header
		ok     bool
	}{
		{"weak etag matches", stored, hdr("ETag", `W/"v1"`), true},
		{"different etag", stored, hdr("ETag", `"v2"`), false},
		{"etag stored lacks", hdr("Last-Modified", httpDate(t0)), hdr("ETag", `"v2"`), false},
		{"different last-modified", hdr("Last-Modified", httpDate(t0)), hdr("Last-Modified", httpDate(t0.Add(time.Second))), false},
		{"same last-modified", hdr("Last-Modified", httpDate(t0)), hdr("Last-Modified", httpDate(t0)), true},
		{"no validators", hdr(), hdr("Date", httpDate(t0)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := MergeNotModified(tt.stored, tt.nm); ok != tt.ok {
				t.Errorf("got %v; want %v", ok, tt.ok)
			}
		})
	}
}
