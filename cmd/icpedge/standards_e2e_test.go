package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// hintsOrigin serves a page that must be revalidated on every request and
// loads style sheets, a script and a font, on its own host and another.
func hintsOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page", "/old":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", `"v1"`)
			if r.URL.Path == "/old" {
				w.Header().Set("Age", "100000") // older than a day on arrival
			}
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			io.WriteString(w, `<!DOCTYPE html><html><head><title>hints</title>
<link rel="stylesheet" href="/site.css">
<link rel="stylesheet" href="https://cdn.other.example/lib.css">
<link rel="preload" href="/fonts/body.woff2" as="font" type="font/woff2" crossorigin>
<script src="/app.js"></script>
</head><body><p>hello</p></body></html>`)
		case "/big.bin":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", "max-age=600")
			w.Header().Set("ETag", `"b1"`)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(bigFile))
		case "/targeted":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("ICPEdge-Cache-Control", "max-age=600")
			w.Header().Set("CDN-Cache-Control", "no-store")
			io.WriteString(w, "for the edge's eyes")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// bigFile is what /big.bin serves: 1 MiB that no two ranges share.
var bigFile = func() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i ^ i>>8 ^ i>>16)
	}
	return b
}()

// getInterims GETs path from the edge at addr and returns each interim
// response it got, as "status Link…", and the final status.
func getInterims(t *testing.T, addr, path string) ([]string, int) {
	t.Helper()
	var mu sync.Mutex
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%d %s", code, strings.Join(h["Link"], ", ")))
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodGet, "http://"+testHost+":"+portOf(addr)+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := clientFor(addr).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	return got, resp.StatusCode
}

// The binary sends 103 Early Hints from what a stored page loads, when it
// fetches the page again, as Go's client sees them; keeps the parts of a
// file it is asked ranges of, and combines them; and obeys a targeted
// cache field named in the config.
func TestStandardsE2E(t *testing.T) {
	origin := hintsOrigin(t)
	e, c := startCacheEdge(t, origin.URL, t.TempDir(), "cache:\n  targeted: ICPEdge-Cache-Control\n")
	addr := e.Addr("http")

	t.Run("early hints", func(t *testing.T) {
		if got, status := getInterims(t, addr, "/page"); len(got) != 0 || status != 200 {
			t.Fatalf("first visit: got %q, %d; want no interim response and 200", got, status)
		}
		got, status := getInterims(t, addr, "/page")
		want := "103 </site.css>; rel=preload; as=style, </fonts/body.woff2>; rel=preload; as=font; crossorigin, </app.js>; rel=preload; as=script"
		if len(got) != 1 || got[0] != want || status != 200 {
			t.Errorf("revalidation: got %q, %d; want [%q], 200", got, status, want)
		}
	})
	t.Run("no early hints from a page older than early_hints_max_age", func(t *testing.T) {
		getInterims(t, addr, "/old")
		if got, _ := getInterims(t, addr, "/old"); len(got) != 0 {
			t.Errorf("got %q; want none", got)
		}
	})
	t.Run("no early hints to http/1.0", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /page HTTP/1.0\r\nHost: %s\r\n\r\n", testHost)
		status, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.HasPrefix(status, "HTTP/1.0 200") {
			t.Errorf("got status line %q (%v); want HTTP/1.0 200 first", status, err)
		}
	})
	t.Run("ranges kept and combined", func(t *testing.T) {
		for _, tc := range []struct {
			rng         string
			first, last int
			status      string
		}{
			{"bytes=0-524287", 0, 524287, "fwd=miss; stored"},
			{"bytes=1000-1999", 1000, 1999, "hit"},
			{"bytes=524288-", 524288, len(bigFile) - 1, "fwd=miss; stored"},
		} {
			resp, body := c.get("/big.bin", map[string]string{"Range": tc.rng})
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, bigFile[tc.first:tc.last+1]) {
				t.Fatalf("%s: got %d with %d bytes; want 206 with bytes %d-%d", tc.rng, resp.StatusCode, len(body), tc.first, tc.last)
			}
			wantStatus(t, resp, tc.status)
		}
		resp, body := c.get("/big.bin", nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, bigFile) {
			t.Fatalf("whole file: got %d with %d bytes; want 200 with all %d", resp.StatusCode, len(body), len(bigFile))
		}
		wantStatus(t, resp, "hit")
	})
	t.Run("targeted field", func(t *testing.T) {
		c.get("/targeted", nil)
		resp, _ := c.get("/targeted", nil)
		wantStatus(t, resp, "hit")
		for _, k := range []string{"ICPEdge-Cache-Control", "CDN-Cache-Control"} {
			if v := resp.Header.Get(k); v != "" {
				t.Errorf("%s %q sent on; want it removed", k, v)
			}
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q; want the origin's no-store for browsers", resp.Header.Get("Cache-Control"))
		}
	})
}
