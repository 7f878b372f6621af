package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

func TestBudgetLease(t *testing.T) {
	b := NewBudget(100)
	l1, l2 := b.lease(), b.lease()
	if !l1.grow(60) || l2.grow(41) || !l2.grow(40) {
		t.Fatalf("grants: in use %d; want 60 then 100, refusing what passes the limit", b.InUse())
	}
	l1.shrink(10)
	if b.InUse() != 90 {
		t.Fatalf("in use %d after a shrink; want 90", b.InUse())
	}
	l2.charge(50) // already allocated: counted even past the limit
	if b.InUse() != 140 || l1.grow(1) {
		t.Fatalf("in use %d after a charge; want 140 and nothing more granted", b.InUse())
	}
	l1.free()
	l2.free()
	l2.free()
	if b.InUse() != 0 {
		t.Fatalf("in use %d after freeing; want 0", b.InUse())
	}
	var none *lease
	if none.grow(1) {
		t.Error("a nil lease granted memory")
	}
	none.free()
	if NewBudget(0).Limit() != DefaultBufferMemory {
		t.Errorf("NewBudget(0).Limit() = %d; want %d", NewBudget(0).Limit(), DefaultBufferMemory)
	}
}

// memOrigin serves the bodies the budget tests need.
func memOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	blob := make([]byte, 2<<20)
	rand.New(rand.NewSource(7)).Read(blob)
	page := bigPage(1 << 20)
	var large bytes.Buffer // 8 MiB of HTML, compressed about tenfold
	lw := gzip.NewWriter(&large)
	lw.Write(bigPage(8 << 20))
	lw.Close()
	var bomb bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	gw.Write([]byte("<!DOCTYPE html><html><body>"))
	zeros := make([]byte, 1<<20)
	for range 8 {
		gw.Write(zeros) // 8 MiB of nothing
	}
	gw.Write([]byte("</body></html>"))
	gw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/blob": // cacheable, stored, served from its file
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Write(blob)
		case "/blob.gz": // cacheable, compressed, too large to store
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			for range 3 {
				zw.Write(blob)
			}
			zw.Close()
		case "/page": // cacheable HTML
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Write(page)
		case "/private": // HTML never stored
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(page)
		case "/large": // HTML too large to buffer
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Write(large.Bytes())
		case "/bomb":
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Write(bomb.Bytes())
		case "/style.css":
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Cache-Control", "public, max-age=600")
			io.WriteString(w, `body{background:url(https://www.client.com/bg.png)}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func bigPage(size int) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><title>big</title></head><body>\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "<p>Paragraph %d with a <a href=\"https://www.client.com/p/%d\">link</a>.</p>\n", i, i)
	}
	b.WriteString("<footer>end</footer></body></html>\n")
	return []byte(b.String())
}

func newMemEdge(t *testing.T, origin string, budget *Budget, opts Options) (*Handler, *httptest.Server) {
	t.Helper()
	u, _ := url.Parse(origin)
	store, err := cache.Open(cache.Options{Dir: t.TempDir(), MaxSize: 256 << 20, Memory: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	opts.Hosts = []string{"icp.example.test"}
	opts.Origin = u
	opts.Rewrite = rewrite.Options{Notice: rewrite.Notice{ICP: "京ICP备12345678号-1"}, RewriteHosts: []string{"www.client.com"}}
	opts.Cache = store
	opts.Budget = budget
	opts.SpoolDir = t.TempDir()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	// Small socket buffers on the edge's side, so that a visitor who stops
	// reading holds up the handler after a few kilobytes.
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallBufListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	return h, srv
}

type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// slowGet starts a GET and reads only its response header and a little of
// the body; the returned function reads the rest and returns the whole
// body.
func slowGet(t *testing.T, srv *httptest.Server, path, accept string) (*http.Response, func() []byte) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
	}}
	conn, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: icp.example.test\r\nAccept-Encoding: %s\r\n\r\n", path, accept)
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1024)
	n, _ := io.ReadFull(resp.Body, first)
	return resp, func() []byte {
		rest, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the rest of %s: %v", path, err)
		}
		return append(first[:n], rest...)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// Generous: brotli's highest quality, under -race on a busy
	// machine, takes seconds per page.
	const within = 2 * time.Minute
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A visitor who reads slowly holds no budget: a stored body is served from
// its file, and a body that can't be stored, or isn't, is moved to a spool
// file before it is sent.
func TestSlowReaderHoldsNoBuffer(t *testing.T) {
	origin := memOrigin(t)
	budget := NewBudget(64 << 20)
	h, srv := newMemEdge(t, origin.URL, budget, Options{MaxCacheObject: 4 << 20, MaxHTMLSize: 2 << 20})
	for _, tt := range []struct {
		path, accept, status string
		code                 int
	}{
		{"/blob", "", "icpedge; fwd=miss; stored", 200},
		{"/blob.gz", "", "icpedge; fwd=miss; detail=too-large", 200},
		{"/private", "", "icpedge; fwd=miss; detail=no-store", 200},
		{"/large", "", "icpedge; fwd=miss; detail=too-large", 200},
		// Cut off once it inflates past html.max_size a hundredfold.
		{"/bomb", "", "icpedge; fwd=miss", 502},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, rest := slowGet(t, srv, tt.path, tt.accept)
			if cs := resp.Header.Get("Cache-Status"); resp.StatusCode != tt.code || cs != tt.status {
				t.Errorf("%d, Cache-Status %q; want %d, %q", resp.StatusCode, cs, tt.code, tt.status)
			}
			// The handler is still sending (the visitor has 1 KiB of it)
			// and holds no budget.
			waitUntil(t, "budget released while the visitor reads slowly", func() bool { return budget.InUse() == 0 })
			body := rest()
			switch tt.path {
			case "/blob":
				if len(body) != 2<<20 {
					t.Errorf("%d bytes; want 2 MiB", len(body))
				}
			case "/blob.gz":
				if len(body) != 6<<20 {
					t.Errorf("%d bytes; want 6 MiB", len(body))
				}
			case "/large":
				if len(body) < 8<<20 || countNoticesIn(body) != 1 {
					t.Errorf("%d bytes, %d notices; want 8 MiB and one notice", len(body), countNoticesIn(body))
				}
			case "/bomb":
				if countNoticesIn(body) != 1 {
					t.Errorf("the 502 page has %d notices; want one", countNoticesIn(body))
				}
			default:
				if countNoticesIn(body) != 1 || !bytes.HasSuffix(bytes.TrimSpace(body), []byte("</html>")) {
					t.Errorf("%d bytes, %d notices; want the whole page and one notice", len(body), countNoticesIn(body))
				}
			}
		})
	}
	// The stored body is served from the store from now on.
	if w := serveTarget(h, "/blob"); !hasCacheStatus(w, "hit") || w.Body.Len() != 2<<20 {
		t.Errorf("second /blob: Cache-Status %q, %d bytes; want a hit of 2 MiB", w.Header().Get("Cache-Status"), w.Body.Len())
	}
	waitUntil(t, "budget released", func() bool { return budget.InUse() == 0 })
}

func countNoticesIn(b []byte) int { return bytes.Count(b, []byte(`id="icpedge-notice"`)) }

// When the budget is spent, nothing is buffered: HTML streams with the
// notice, other bodies pass through, and none of it is stored. The budget
// is one for every Handler that shares it.
func TestBudgetSpent(t *testing.T) {
	origin := memOrigin(t)
	budget := NewBudget(8 << 20)
	h1, _ := newMemEdge(t, origin.URL, budget, Options{})
	h2, _ := newMemEdge(t, origin.URL, budget, Options{})

	// Another client's fills hold the whole budget.
	hog := budget.lease()
	if !hog.grow(budget.Limit()) {
		t.Fatal("the budget did not grant its limit")
	}
	for _, tt := range []struct {
		path  string
		check func([]byte) bool
	}{
		{"/page", func(b []byte) bool { return countNoticesIn(b) == 1 }},
		{"/blob", func(b []byte) bool { return len(b) == 2<<20 }},
		{"/style.css", func(b []byte) bool { return bytes.Contains(b, []byte("https://www.client.com/bg.png")) }},
	} {
		for i := range 2 {
			w := serveTarget(h2, tt.path, "Accept-Encoding", "")
			if cs := w.Header().Get("Cache-Status"); cs != "icpedge; fwd=miss; detail=buffer-memory" {
				t.Errorf("%s #%d: Cache-Status %q; want a miss for lack of buffer memory", tt.path, i, cs)
			}
			if w.Code != 200 || !tt.check(w.Body.Bytes()) {
				t.Errorf("%s #%d: %d, %d bytes; want it whole (HTML with the notice)", tt.path, i, w.Code, w.Body.Len())
			}
		}
	}
	if budget.InUse() != budget.Limit() {
		t.Errorf("in use %d; want only the hog's %d", budget.InUse(), budget.Limit())
	}
	hog.free()
	// With memory again, the same requests are stored, by either Handler.
	for _, h := range []*Handler{h1, h2} {
		w := serveTarget(h, "/page")
		if cs := w.Header().Get("Cache-Status"); cs != "icpedge; fwd=miss; stored" {
			t.Errorf("after release: Cache-Status %q; want stored", cs)
		}
		// The Compressor makes the page's variants with up to half the
		// budget; this budget is only eight pages deep, so the next
		// fill waits for it.
		waitUntil(t, "compressor idle", h.compressor.idle)
	}
	// What the Compressor draws on in the background goes back too.
	waitUntil(t, "budget released after the requests", func() bool { return budget.InUse() == 0 })
}

func TestReadBody(t *testing.T) {
	b := NewBudget(1 << 20)
	data := bytes.Repeat([]byte("x"), 300<<10)
	for _, tt := range []struct {
		name        string
		limit, hint int64
		budget      int64
		want        bufState
		wantLen     int
	}{
		{"fits, length unknown", 1 << 20, -1, 1 << 20, bufComplete, len(data)},
		{"fits, length known", 1 << 20, int64(len(data)), 1 << 20, bufComplete, len(data)},
		{"over the limit", 100 << 10, -1, 1 << 20, bufOver, 100<<10 + 1},
		{"budget spent", 1 << 20, -1, 200 << 10, bufNoMemory, 128 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b = NewBudget(tt.budget)
			l := b.lease()
			buf, state, err := readBody(bytes.NewReader(data), tt.limit, tt.hint, l)
			if err != nil || state != tt.want || len(buf) != tt.wantLen {
				t.Fatalf("got %d bytes, state %d, %v; want %d bytes, state %d", len(buf), state, err, tt.wantLen, tt.want)
			}
			if b.InUse() != int64(cap(buf)) || b.InUse() > tt.budget {
				t.Errorf("in use %d for a buffer of %d; want its capacity, within %d", b.InUse(), cap(buf), tt.budget)
			}
			if !bytes.Equal(buf, data[:len(buf)]) {
				t.Error("buffer differs from the body")
			}
			l.free()
		})
	}
}
