package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/testpki"
)

// hintWait bounds how long the origin holds a page for its style sheet
// request to arrive first. Without Early Hints the browser can't ask for
// the style sheet before it has the page, so the wait always runs out.
const hintWait = 15 * time.Second

// hintOrigin serves a page that must be revalidated on every visit and
// the style sheet it loads, never cached, so that each request for it
// reaches the origin. Once armed, it holds the next page request until a
// request for the style sheet has arrived (or hintWait has passed) and
// reports which came first.
type hintOrigin struct {
	srv   *httptest.Server
	pages atomic.Int32

	mu       sync.Mutex
	holdNext bool          // hold the next page request
	cssSeen  chan struct{} // once armed, closed at the first style sheet request
	cssOnce  sync.Once
	verdicts chan bool // per held page: did the style sheet come first?
}

func newHintOrigin(t *testing.T) *hintOrigin {
	o := &hintOrigin{verdicts: make(chan bool, 4)}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hinted.css":
			o.mu.Lock()
			if seen := o.cssSeen; seen != nil {
				o.cssOnce.Do(func() { close(seen) })
			}
			o.mu.Unlock()
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, "body { background: rgb(1, 2, 3); }\n")
		case "/hinted.html":
			o.pages.Add(1)
			o.mu.Lock()
			hold, seen := o.holdNext, o.cssSeen
			o.holdNext = false
			o.mu.Unlock()
			if hold {
				select {
				case <-seen:
					o.verdicts <- true
				case <-time.After(hintWait):
					o.verdicts <- false
				case <-r.Context().Done():
					return
				}
			}
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Early Hints</title>
<link rel="stylesheet" href="/hinted.css">
</head><body><h1>示例</h1><p>A page whose style sheet the edge hints.</p><footer>© Example</footer></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// arm makes the next page request wait for a style sheet request.
func (o *hintOrigin) arm() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.holdNext = true
	o.cssSeen = make(chan struct{})
	o.cssOnce = sync.Once{}
}

// TestBrowserEarlyHints loads a page through the real binary twice. The
// second time the edge holds a stored copy to revalidate, and sends 103
// Early Hints with its style sheet before it asks the origin; the origin
// holds the page until the browser's request for the style sheet has
// reached it. The browser can only make that request that early from the
// hints.
//
// The browser speaks HTTP/1.1 to the edge, with Chromium's Early Hints
// for HTTP/1.1 turned on. Over HTTP/2 Chromium drops a 103 that arrives
// before it has begun to read the response: its HTTP/2 stream hands the
// 103 only to a reader already waiting. Over loopback the edge's 103
// comes within a millisecond, before that, so the test would depend on
// how busy the machine is; across a real network the round trip leaves
// Chromium that time. Over HTTP/1.1 Chromium parses the 103 when it reads
// the response, however early it came. That the edge sends the same 103
// over HTTP/2 is checked at the end with Go's client.
func TestBrowserEarlyHints(t *testing.T) {
	chromium := chromiumPath(t)
	o := newHintOrigin(t)
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, browserHost, 1)
	cert := testpki.Cert(t, browserHost, 1)
	e := startEdge(t, writeConfig(t, fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: 127.0.0.1:0
  https: 127.0.0.1:0
state_dir: %s
notice:
  icp: %s
tls:
  mode: manual
  cert_file: %s
  key_file: %s
admin:
  listen: ""
`, browserHost, o.srv.URL, dir, browserICP, certFile, keyFile)))
	e.waitListening(2, 20*time.Second)
	page := "https://" + net.JoinHostPort(browserHost, portOf(e.Addr("https"))) + "/hinted.html"

	// The browser's cache needs no help: the page says no-cache and the
	// style sheet no-store, so every visit asks the edge.
	tab := startChromium(t, chromium, 3*time.Minute,
		chromedp.Flag("disable-http2", true),
		chromedp.Flag("enable-features", "EnableEarlyHintsOnHttp11"),
		chromedp.Flag("host-resolver-rules", "MAP "+browserHost+" 127.0.0.1"),
		// Trust the edge's self-signed certificate as a valid one, by its
		// key, so that the page loads over HTTPS as visitors get it.
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(cert)))
	// What Chromium says it received as 103 Early Hints, for the page.
	var hintsMu sync.Mutex
	var hintsSeen []string
	if err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceivedEarlyHints); ok {
			hintsMu.Lock()
			defer hintsMu.Unlock()
			for k, v := range e.Headers {
				if strings.EqualFold(k, "Link") {
					hintsSeen = append(hintsSeen, fmt.Sprint(v))
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	// First visit: the edge stores the page, and what it loads.
	resp, err := chromedp.Run(tab, chromedp.NavigateResponse(page))
	if err != nil {
		t.Fatalf("loading %s: %v", page, err)
	}
	if resp.Status != http.StatusOK || resp.Protocol != "http/1.1" {
		t.Fatalf("first visit: got %d over %s; want 200 over http/1.1", resp.Status, resp.Protocol)
	}

	// Second visit, by way of another page: a navigation to the URL
	// already shown is a reload, which Chromium doesn't preload for. The
	// origin holds the page until the style sheet is asked for.
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	o.arm()
	start := time.Now()
	resp, err = chromedp.Run(tab, chromedp.NavigateResponse(page))
	if err != nil {
		t.Fatalf("loading %s again: %v", page, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("second visit: got %d; want 200", resp.Status)
	}
	select {
	case first := <-o.verdicts:
		if !first {
			hintsMu.Lock()
			t.Errorf("the style sheet was not requested within %v of the page reaching the origin: no Early Hints acted on (103s Chromium received: %q)", hintWait, hintsSeen)
			hintsMu.Unlock()
		}
	default:
		t.Fatal("the origin was not asked for the page on the second visit")
	}
	bg, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil {
		t.Fatal(err)
	}
	if bg != "rgb(1, 2, 3)" {
		t.Errorf("body background %q; want the hinted style sheet's rgb(1, 2, 3)", bg)
	}
	t.Logf("second visit took %v", time.Since(start).Round(time.Millisecond))

	// The same hints over HTTP/2, as browsers get them by default.
	got, proto := h2Interims(t, cert, e.Addr("https"), page)
	want := "103 </hinted.css>; rel=preload; as=style"
	if proto != "HTTP/2.0" || len(got) != 1 || got[0] != want {
		t.Errorf("over HTTP/2: got %q over %s; want [%q] over HTTP/2.0", got, proto, want)
	}
}

// h2Interims GETs url from the edge at addr over HTTP/2, trusting only
// cert, and returns each interim response it got, as "status Link…", and
// the protocol of the final response.
func h2Interims(t *testing.T, cert *x509.Certificate, addr, url string) ([]string, string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: browserHost},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	}
	defer tr.CloseIdleConnections()
	var mu sync.Mutex
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%d %s", code, strings.Join(h["Link"], ", ")))
		return nil
	}}
	ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET %s over HTTP/2: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	return got, resp.Proto
}

// spkiHash is the base64 SHA-256 of a certificate's public key, as
// Chromium's --ignore-certificate-errors-spki-list takes it.
func spkiHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
