package proxy

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/icpedge/icpedge/proxy/cache"
)

// decodeAs decodes a response body sent with Content-Encoding enc.
func decodeAs(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return b
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	default:
		t.Fatalf("unexpected Content-Encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s body: %v", enc, err)
	}
	return out
}

// articlePage is a compressible page of about n bytes.
func articlePage(n int) http.HandlerFunc {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><title>t</title></head><body><main>")
	for i := 0; b.Len() < n; i++ {
		b.WriteString("<p>Company news, product updates and case studies, paragraph ")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(".</p>\n")
	}
	b.WriteString("</main><footer>f</footer></body></html>")
	body := b.String()
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=600")
		io.WriteString(w, body)
	}
}

// waitCompressed waits until the edge's Compressor has nothing queued or
// running.
func (e *safetyEdge) waitCompressed(t *testing.T) {
	t.Helper()
	waitUntil(t, "compressor idle", e.h.compressor.idle)
}

// A miss compresses for its visitor with fast gzip and stores that; the
// br and stored-level gzip variants are made in the background, and hits
// get them from then on. Every form decodes to the same page, with the
// notice once.
func TestCompressorMakesStoredVariants(t *testing.T) {
	o := newSafetyOrigin(t)
	o.set("/a", articlePage(60<<10))
	e := newSafetyEdge(t, o, nil)
	const browser = "gzip, deflate, br"

	miss := e.get("/a", "Accept-Encoding", browser)
	if cs := cacheStatusOf(miss); cs != "icpedge; fwd=miss; stored" || miss.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("miss: Cache-Status %q, Content-Encoding %q; want stored, gzip", cs, miss.Header().Get("Content-Encoding"))
	}
	page := decodeAs(t, "gzip", miss.Body.Bytes())
	if countNoticesIn(page) != 1 {
		t.Fatalf("miss: %d notices; want 1", countNoticesIn(page))
	}
	fastGzip := miss.Body.Len()
	e.waitCompressed(t)

	for _, tc := range []struct{ accept, want string }{
		{browser, "br"},
		{"gzip", "gzip"},
		{"", ""},
	} {
		w := e.get("/a", "Accept-Encoding", tc.accept)
		if !hasCacheStatus(w, "hit") || w.Header().Get("Content-Encoding") != tc.want {
			t.Errorf("Accept-Encoding %q: Cache-Status %q, Content-Encoding %q; want a hit, %q", tc.accept, cacheStatusOf(w), w.Header().Get("Content-Encoding"), tc.want)
			continue
		}
		if got := decodeAs(t, tc.want, w.Body.Bytes()); !bytes.Equal(got, page) {
			t.Errorf("Accept-Encoding %q: decodes to %d bytes; want the miss's page, %d bytes", tc.accept, len(got), len(page))
		}
		if tc.want == "gzip" && w.Body.Len() >= fastGzip {
			t.Errorf("stored gzip: %d bytes; want fewer than the fast gzip's %d", w.Body.Len(), fastGzip)
		}
		if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
			t.Errorf("Accept-Encoding %q: Content-Length %q for %d bytes", tc.accept, cl, w.Body.Len())
		}
	}
	if n := o.count("/a"); n != 1 {
		t.Errorf("origin saw %d requests; want 1", n)
	}
}

// A miss for a visitor who accepts no compression stores the page alone:
// hits for others get it as it is until the variants are made, never a
// body compressed on the hit.
func TestCompressorAfterIdentityMiss(t *testing.T) {
	o := newSafetyOrigin(t)
	o.set("/a", articlePage(30<<10))
	e := newSafetyEdge(t, o, func(opts *Options) {
		// A Compressor that is already closed queues nothing: what hits
		// get before the variants exist.
		c := NewCompressor(1)
		c.Close()
		opts.Compressor = c
	})
	e.get("/a")
	for i := range 3 {
		w := e.get("/a", "Accept-Encoding", "gzip, br")
		if !hasCacheStatus(w, "hit") || w.Header().Get("Content-Encoding") != "" || countNoticesIn(w.Body.Bytes()) != 1 {
			t.Errorf("hit #%d before the variants: Cache-Status %q, Content-Encoding %q, %d notices; want a hit as it is, with the notice", i, cacheStatusOf(w), w.Header().Get("Content-Encoding"), countNoticesIn(w.Body.Bytes()))
		}
		if !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("Vary %q; want Accept-Encoding", w.Header().Get("Vary"))
		}
	}
}

// An entry stored without its variants (the queue was full) is queued
// again by the hits that find it so, and gets them.
func TestCompressorQueuedByHit(t *testing.T) {
	o := newSafetyOrigin(t)
	o.set("/a", articlePage(30<<10))
	e := newSafetyEdge(t, o, nil)
	e.get("/a", "Accept-Encoding", "gzip")
	e.waitCompressed(t)
	// Put it back as a miss with an identity visitor left it.
	key := cacheKey(e.h.edgeOf(httptestRequest("/a")), httptestRequest("/a").URL)
	stored, err := e.store.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	bare := &cache.Entry{Key: stored.Key, Status: stored.Status, Header: stored.Header, RequestTime: stored.RequestTime, ResponseTime: stored.ResponseTime}
	r, _ := stored.Body(cache.Identity)
	ident, _ := io.ReadAll(r)
	stored.Close()
	bare.SetBody(cache.Identity, ident)
	if err := e.store.Put(bare); err != nil {
		t.Fatal(err)
	}
	if w := e.get("/a", "Accept-Encoding", "br"); w.Header().Get("Content-Encoding") != "" || !hasCacheStatus(w, "hit") {
		t.Fatalf("hit of the bare entry: Content-Encoding %q, Cache-Status %q; want identity, a hit", w.Header().Get("Content-Encoding"), cacheStatusOf(w))
	}
	e.waitCompressed(t)
	if w := e.get("/a", "Accept-Encoding", "br"); w.Header().Get("Content-Encoding") != "br" || !bytes.Equal(decodeAs(t, "br", w.Body.Bytes()), ident) {
		t.Errorf("after the hit queued it: Content-Encoding %q; want br of the same page", w.Header().Get("Content-Encoding"))
	}
	if n := o.count("/a"); n != 1 {
		t.Errorf("origin saw %d requests; want 1", n)
	}
}

// No job starts while a fill is in flight: the CPUs are the visitors'.
func TestCompressorWaitsForFills(t *testing.T) {
	o := newSafetyOrigin(t)
	o.set("/a", articlePage(30<<10))
	o.set("/b", articlePage(20<<10))
	e := newSafetyEdge(t, o, nil)
	c := e.h.compressor
	e.get("/a", "Accept-Encoding", "gzip")
	e.waitCompressed(t)

	// /b's fill is held at the origin while /a's variants are queued
	// again (as if a hit found them missing).
	release := o.hold()
	defer release()
	done := make(chan struct{})
	go func() { defer close(done); e.get("/b") }()
	o.waitArrivals(t, 2) // /a's fill, then /b's
	key := cacheKey(e.h.edgeOf(httptestRequest("/a")), httptestRequest("/a").URL)
	stored, err := e.store.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	bare := &cache.Entry{Key: stored.Key, Status: stored.Status, Header: stored.Header, RequestTime: stored.RequestTime, ResponseTime: stored.ResponseTime}
	ident, _ := stored.Bytes(cache.Identity)
	bare.SetBody(cache.Identity, ident)
	stored.Close()
	if err := e.store.Put(bare); err != nil {
		t.Fatal(err)
	}
	(&request{h: e.h}).recompressLater(bare)
	waitUntil(t, "the job held back", func() bool { return c.held.Load() == 1 })
	if w := e.get("/a", "Accept-Encoding", "br"); w.Header().Get("Content-Encoding") != "" {
		t.Errorf("while a fill is in flight: Content-Encoding %q; want identity, the job not run", w.Header().Get("Content-Encoding"))
	}
	release()
	<-done
	e.waitCompressed(t)
	if w := e.get("/a", "Accept-Encoding", "br"); w.Header().Get("Content-Encoding") != "br" {
		t.Errorf("after the fill: Content-Encoding %q; want br", w.Header().Get("Content-Encoding"))
	}
}

// Bodies that gain nothing from compression are never queued or
// compressed.
func TestCompressorSkipsCompressed(t *testing.T) {
	o := newSafetyOrigin(t)
	img := bytes.Repeat([]byte("\x89PNG not really, but typed so "), 2000)
	o.set("/i.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Write(img)
	})
	e := newSafetyEdge(t, o, nil)
	for range 3 {
		w := e.get("/i.png", "Accept-Encoding", "gzip, br")
		if w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), img) {
			t.Fatalf("image: Content-Encoding %q, %d bytes; want it as it is", w.Header().Get("Content-Encoding"), w.Body.Len())
		}
		if !e.h.compressor.idle() {
			t.Errorf("an image was queued for compression")
		}
	}
}

// The queue takes each entry once, and drops work when it is full rather
// than wait.
func TestCompressorQueueBounded(t *testing.T) {
	// No workers: nothing leaves the queue.
	c := newCompressor(0, 2)
	job := func(key string) compressJob { return compressJob{compressKey: compressKey{key: key}} }
	for i, tc := range []struct {
		key  string
		want bool
	}{
		{"a", true}, {"a", true}, {"b", true}, {"c", false}, {"b", true},
	} {
		if got := c.enqueue(job(tc.key), false); got != tc.want {
			t.Errorf("enqueue #%d (%s): got %v; want %v", i, tc.key, got, tc.want)
		}
	}
	if len(c.jobs) != 2 || c.dropped.Load() != 1 {
		t.Errorf("queued %d, dropped %d; want 2 and 1", len(c.jobs), c.dropped.Load())
	}
	c.Close()
	if c.enqueue(job("d"), false) {
		t.Errorf("enqueue after Close: got true; want false")
	}
}

// A worker that made a page's variants while visitors were being served
// rests before the next job; an edge with no visitors doesn't make it
// rest.
func TestCompressorRestsWhileServing(t *testing.T) {
	page := bytes.Repeat([]byte("<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n"), 800)
	store, err := cache.Open(cache.Options{Dir: t.TempDir(), Memory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, key := range []string{"a", "b", "c", "d"} {
		e := &cache.Entry{Key: key, Status: 200, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}}
		e.SetBody(cache.Identity, page)
		if err := store.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	c := newCompressor(1, 8)
	defer c.Close()
	job := func(key string) compressJob {
		return compressJob{compressKey: compressKey{store: store, key: key}, budget: NewBudget(0), log: slog.New(slog.DiscardHandler)}
	}
	// No visitors: two jobs, one after the other, no rest. A rest after
	// a would have begun before b was taken.
	c.enqueue(job("a"), false)
	c.enqueue(job("d"), false)
	waitUntil(t, "a's and d's variants", func() bool { return c.done.Load() == 2 })
	if n := c.rests.Load(); n != 0 {
		t.Fatalf("an idle edge's worker rested %d times", n)
	}

	// Visitors all along: after b, the worker rests with c queued.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.requestStarted()
				time.Sleep(100 * time.Microsecond) // a visitor every 0.1 ms, not a busy core
			}
		}
	}()
	c.enqueue(job("b"), false)
	c.enqueue(job("c"), false)
	waitUntil(t, "the worker to rest after b", func() bool { return c.rests.Load() == 1 })
	if n := c.done.Load(); n != 3 {
		t.Fatalf("resting after b: %d entries done; want 3 (c waits for the rest)", n)
	}
	waitUntil(t, "c's variants after the rest", func() bool { return c.done.Load() == 4 })
}

// A page just stored is queued only while the Compressor is idle: behind a
// burst of misses it waits for its first hit, which queues it as usual.
func TestCompressorStoredOnlyWhenIdle(t *testing.T) {
	c := newCompressor(0, 8) // no workers: nothing leaves the queue
	defer c.Close()
	job := func(key string) compressJob { return compressJob{compressKey: compressKey{key: key}} }
	if !c.enqueue(job("first"), true) {
		t.Fatalf("an idle compressor refused a stored page")
	}
	if c.enqueue(job("second"), true) {
		t.Errorf("a busy compressor took a stored page")
	}
	if !c.enqueue(job("first"), true) {
		t.Errorf("a page already queued was reported as not queued")
	}
	if !c.enqueue(job("second"), false) {
		t.Errorf("the page's hit could not queue it")
	}
	if len(c.jobs) != 2 || c.dropped.Load() != 0 {
		t.Errorf("queued %d, dropped %d; want 2 and 0", len(c.jobs), c.dropped.Load())
	}
}

func httptestRequest(path string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://icp.example.test"+path, nil)
	return r
}

// The stored variants are each coding's smallest: brotli at quality 11
// and gzip at level 9, byte for byte what those levels make of the page,
// and br smaller than gzip. A body over maxBestBrotliSize gets brotli at
// quality 9, whose CPU and memory stay bounded.
func TestStoredVariantsSmallest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		quality int
	}{
		{"60 KB page", 60 << 10, 11},
		{"page over the quality-11 size", maxBestBrotliSize + 40<<10, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newSafetyOrigin(t)
			o.set("/a", articlePage(tc.size))
			e := newSafetyEdge(t, o, nil)
			e.get("/a", "Accept-Encoding", "gzip")
			e.waitCompressed(t)
			page := decodeAs(t, "", e.get("/a").Body.Bytes())

			var wantBr, want9 bytes.Buffer
			bw := brotli.NewWriterOptions(&wantBr, brotli.WriterOptions{Quality: tc.quality, LGWin: brotliWindow})
			bw.Write(page)
			bw.Close()
			gw, _ := gzip.NewWriterLevel(&want9, gzip.BestCompression)
			gw.Write(page)
			gw.Close()

			br := e.get("/a", "Accept-Encoding", "br")
			gz := e.get("/a", "Accept-Encoding", "gzip")
			if br.Header().Get("Content-Encoding") != "br" || !bytes.Equal(br.Body.Bytes(), wantBr.Bytes()) {
				t.Errorf("stored br of %d bytes: %q, %d bytes; want br at quality %d, %d bytes", len(page), br.Header().Get("Content-Encoding"), br.Body.Len(), tc.quality, wantBr.Len())
			}
			if gz.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(gz.Body.Bytes(), want9.Bytes()) {
				t.Errorf("stored gzip: %q, %d bytes; want gzip at level 9, %d bytes", gz.Header().Get("Content-Encoding"), gz.Body.Len(), want9.Len())
			}
			if br.Body.Len() >= gz.Body.Len() {
				t.Errorf("stored br %d bytes, gzip %d; want br smaller", br.Body.Len(), gz.Body.Len())
			}
		})
	}
}

// Every compressible type is stored compressed: markup, styles, scripts,
// data, SVG and fonts that are not compressed already; compressed
// formats never are.
func TestCompressorTypes(t *testing.T) {
	text := bytes.Repeat([]byte("function f(a) { return a + 1 } /* comment */ .class { color: red }\n"), 200)
	types := []struct {
		ctype string
		want  string // Content-Encoding of a br hit once compressed
	}{
		{"text/css", "br"},
		{"application/javascript", "br"},
		{"text/javascript; charset=utf-8", "br"},
		{"application/json", "br"},
		{"application/ld+json", "br"},
		{"image/svg+xml", "br"},
		{"font/ttf", "br"},
		{"font/otf", "br"},
		{"application/vnd.ms-fontobject", "br"},
		{"font/woff2", ""},
		{"font/woff", ""},
		{"image/jpeg", ""},
		{"video/mp4", ""},
		{"application/zip", ""},
		{"application/gzip", ""},
	}
	o := newSafetyOrigin(t)
	for i, tc := range types {
		o.set("/f"+strconv.Itoa(i), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.ctype)
			w.Header().Set("Cache-Control", "public, max-age=600")
			w.Write(text)
		})
	}
	e := newSafetyEdge(t, o, nil)
	// The misses come as a burst, which leaves most pages for their
	// first hit to queue (Compressor.enqueue, onlyIdle): the second pass.
	for range 2 {
		for i := range types {
			e.get("/f"+strconv.Itoa(i), "Accept-Encoding", "gzip")
		}
		e.waitCompressed(t)
	}
	for i, tc := range types {
		w := e.get("/f"+strconv.Itoa(i), "Accept-Encoding", "br")
		if got := w.Header().Get("Content-Encoding"); got != tc.want || !hasCacheStatus(w, "hit") {
			t.Errorf("%s: Content-Encoding %q, Cache-Status %q; want %q, a hit", tc.ctype, got, cacheStatusOf(w), tc.want)
			continue
		}
		if got := decodeAs(t, tc.want, w.Body.Bytes()); !bytes.Equal(got, text) {
			t.Errorf("%s: decodes to %d bytes; want the origin's %d", tc.ctype, len(got), len(text))
		}
	}
}
