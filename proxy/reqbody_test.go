package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icpedge/icpedge/rewrite"
)

// bodyOrigin records what request bodies reach it.
type bodyOrigin struct {
	mu   sync.Mutex
	seen []string // "METHOD content-length bytes sha256"
}

func (o *bodyOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, _ := io.Copy(h, r.Body)
	rec := fmt.Sprintf("%s %d %d %x", r.Method, r.ContentLength, n, h.Sum(nil)[:4])
	o.mu.Lock()
	o.seen = append(o.seen, rec)
	o.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, rec)
}

func (o *bodyOrigin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

func newBodyEdge(t *testing.T, opts Options) (*httptest.Server, *bodyOrigin, *Handler) {
	t.Helper()
	o := &bodyOrigin{}
	origin := httptest.NewServer(o)
	t.Cleanup(origin.Close)
	u, _ := url.Parse(origin.URL)
	opts.Hosts = []string{"icp.example.test"}
	opts.Origin = u
	opts.Rewrite = rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	edge := httptest.NewUnstartedServer(h)
	edge.EnableHTTP2 = true
	edge.StartTLS()
	t.Cleanup(edge.Close)
	return edge, o, h
}

// rawExchange writes head (and then body, unless nil) on a new connection
// to the edge and returns the first response, waiting up to 30s for it.
func rawExchange(t *testing.T, edge *httptest.Server, head string, body []byte) (*http.Response, string) {
	t.Helper()
	conn, err := tlsDialH1(edge)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if body != nil {
		if _, err := conn.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	for err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// tlsDialH1 opens a TLS connection to the edge speaking HTTP/1.1.
func tlsDialH1(edge *httptest.Server) (net.Conn, error) {
	cfg := edge.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	return tlsDial(edge.Listener.Addr().String(), cfg)
}

func TestRequestBodyLimits(t *testing.T) {
	spool := t.TempDir()
	// The limits on size are tested on an edge that waits long for a
	// body, so that a busy machine's pause is never taken for a stall;
	// the stalls on one that waits 300ms.
	edge, o, _ := newBodyEdge(t, Options{
		MaxRequestBody:     100 << 10,
		RequestBodyTimeout: 2 * time.Minute,
		SpoolDir:           spool,
	})
	impatient, io2, _ := newBodyEdge(t, Options{
		MaxRequestBody:     100 << 10,
		RequestBodyTimeout: 300 * time.Millisecond,
		SpoolDir:           spool,
	})
	host := "Host: icp.example.test\r\n"

	t.Run("announced too large: 413 before the body is sent", func(t *testing.T) {
		// With Expect: 100-continue the client waits; it must get the 413
		// instead of a 100.
		resp, _ := rawExchange(t, edge, "POST /up HTTP/1.1\r\n"+host+"Content-Length: 200000\r\nExpect: 100-continue\r\n\r\n", nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d; want 413", resp.StatusCode)
		}
		if !resp.Close {
			t.Error("the connection stays open; want it closed after the refused body")
		}
	})
	t.Run("announced too large and sent anyway: 413, not a reset", func(t *testing.T) {
		resp, _ := rawExchange(t, edge, "POST /up HTTP/1.1\r\n"+host+"Content-Length: 200000\r\n\r\n", bytes.Repeat([]byte("x"), 200000))
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d; want 413", resp.StatusCode)
		}
	})
	t.Run("chunked too large: 413", func(t *testing.T) {
		var body bytes.Buffer
		for range 30 {
			fmt.Fprintf(&body, "1000\r\n%s\r\n", bytes.Repeat([]byte("x"), 0x1000))
		}
		body.WriteString("0\r\n\r\n")
		resp, _ := rawExchange(t, edge, "POST /up HTTP/1.1\r\n"+host+"Transfer-Encoding: chunked\r\n\r\n", body.Bytes())
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d; want 413", resp.StatusCode)
		}
	})
	t.Run("a body that stops arriving: 408", func(t *testing.T) {
		resp, page := rawExchange(t, impatient, "POST /up HTTP/1.1\r\n"+host+"Content-Length: 1000\r\n\r\n", []byte("only some of it"))
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("status %d; want 408", resp.StatusCode)
		}
		mustHave(t, page, "beian.miit.gov.cn")
	})
	t.Run("a chunked body that stops arriving: 408", func(t *testing.T) {
		resp, _ := rawExchange(t, impatient, "POST /up HTTP/1.1\r\n"+host+"Transfer-Encoding: chunked\r\n\r\n", []byte("5\r\nhello\r\n"))
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("status %d; want 408", resp.StatusCode)
		}
	})
	// None of these reached the origin: the body is read whole first, so
	// a visitor who trickles it holds no origin connection.
	if seen := append(o.requests(), io2.requests()...); len(seen) != 0 {
		t.Fatalf("origin got %q; want nothing", seen)
	}

	t.Run("bodies within the limits arrive whole with a length", func(t *testing.T) {
		small := []byte("a=1&b=2")
		large := bytes.Repeat([]byte("0123456789abcdef"), 90<<10/16) // spooled to disk
		for _, tt := range []struct {
			name    string
			body    []byte
			chunked bool
		}{
			{"small", small, false},
			{"small chunked", small, true},
			{"large chunked", large, true},
			{"large", large, false},
		} {
			var head, body string
			if tt.chunked {
				head = "POST /up HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
				body = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(tt.body), tt.body)
			} else {
				head = fmt.Sprintf("PUT /up HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n", host, len(tt.body))
				body = string(tt.body)
			}
			resp, got := rawExchange(t, edge, head, []byte(body))
			sum := sha256.Sum256(tt.body)
			method := "PUT"
			if tt.chunked {
				method = "POST"
			}
			want := fmt.Sprintf("%s %d %d %x", method, len(tt.body), len(tt.body), sum[:4])
			if resp.StatusCode != 200 || got != want {
				t.Errorf("%s: %d %q; want 200 %q (a Content-Length and the whole body)", tt.name, resp.StatusCode, got, want)
			}
		}
		if files, _ := os.ReadDir(spool); len(files) != 0 {
			t.Errorf("spool directory holds %d files; want none left", len(files))
		}
	})
}

// Over HTTP/2 the same limits hold, per stream.
func TestRequestBodyLimitsHTTP2(t *testing.T) {
	// Each refused body is followed by a small one on the same edge: the
	// refusal ends its stream, not the connection the others share. The
	// stalled body goes to an edge that waits 300ms; the oversized one to
	// an edge that waits long, so that a busy machine's pause in sending
	// it is never taken for a stall.
	stalled := func() *http.Request {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		go pw.Write([]byte("the start of a body that never ends"))
		req, _ := http.NewRequest("POST", "/up", pr)
		return req
	}
	oversized := func() *http.Request {
		req, _ := http.NewRequest("POST", "/up", io.LimitReader(neverEnding('x'), 1<<20))
		req.ContentLength = -1 // no length: counted as it comes
		return req
	}
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		body    func() *http.Request
		want    int
	}{
		{"stalled", 300 * time.Millisecond, stalled, http.StatusRequestTimeout},
		{"oversized", 2 * time.Minute, oversized, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edge, o, _ := newBodyEdge(t, Options{MaxRequestBody: 64 << 10, RequestBodyTimeout: tt.timeout})
			c := edge.Client()
			c.Timeout = 2 * time.Minute
			var conns sync.Map
			trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { conns.Store(ci.Conn.LocalAddr().String(), true) }}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			send := func(req *http.Request) (*http.Response, string) {
				u, _ := url.Parse(edge.URL + req.URL.Path)
				req = req.WithContext(ctx)
				req.URL, req.Host = u, "icp.example.test"
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return resp, string(b)
			}
			resp, _ := send(tt.body())
			if resp.ProtoMajor != 2 || resp.StatusCode != tt.want {
				t.Fatalf("%s body: %s %d; want HTTP/2 %d", tt.name, resp.Proto, resp.StatusCode, tt.want)
			}
			small, _ := http.NewRequest("POST", "/up", strings.NewReader("x=1"))
			resp, b := send(small)
			if resp.StatusCode != 200 || !strings.HasPrefix(b, "POST 3 3 ") {
				t.Fatalf("small body: %d %q; want 200 and the origin seeing 3 bytes", resp.StatusCode, b)
			}
			if seen := o.requests(); len(seen) != 1 {
				t.Fatalf("origin got %q; want only the small body", seen)
			}
			n := 0
			conns.Range(func(any, any) bool { n++; return true })
			if n != 1 {
				t.Errorf("the request after the refused body used another connection (%d in all); want the one they share", n)
			}
		})
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func tlsDial(addr string, cfg *tls.Config) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
}
