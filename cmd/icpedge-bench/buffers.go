package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// targetBuffersRSS is the edge's VmHWM in the buffers scenario, bytes.
const targetBuffersRSS = 128 << 20

// The buffers scenario: what visitors who read slowly make the edge hold.
// Each slow reader asks for its own copy (?c=N) of one large cacheable
// script, which the origin sends gzip-compressed without a length, so the
// edge must decode it to learn its size; each bomb asks for its own copy
// of a small gzip body that inflates to a huge HTML page. All of them
// read at slowRate for the scenario's duration.
const (
	// slowRate is what each slow client reads, bytes per second.
	slowRate = 64 << 10
	// slowRcvBuf is the clients' socket receive buffer, so that the edge
	// cannot park a body in the kernel.
	slowRcvBuf = 16 << 10
	// headerWait bounds the wait for a response's header: a fill of the
	// script reads, compresses and stores it first.
	headerWait = 60 * time.Second
)

// buffersOrigin holds the bodies the scenario's origin paths serve,
// already compressed.
type buffersOrigin struct {
	big, bomb []byte // gzip
	bigSize   int64  // decoded
	bombSize  int64  // decoded
}

// prepareBuffers makes the scenario's bodies: a script-like text of
// bigSize bytes that compresses about as well as minified JavaScript, and
// an HTML page of bombSize bytes that is almost all zero bytes.
func prepareBuffers(bigSize, bombSize int64) (*buffersOrigin, error) {
	bo := &buffersOrigin{bigSize: bigSize, bombSize: bombSize}
	rng := rand.New(rand.NewPCG(46, 2026))
	idents := strings.Fields("function return var let const this window document length push call apply prototype object value index item node element event handler render state props module exports require default async await then catch error result data config options")
	var big bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&big, gzip.DefaultCompression)
	var line []byte
	written := int64(0)
	for written < bigSize {
		line = line[:0]
		for range 12 {
			line = append(line, idents[rng.IntN(len(idents))]...)
			line = strconv.AppendUint(append(line, '_'), rng.Uint64N(1<<20), 36)
			line = append(line, "();"[rng.IntN(3)])
		}
		line = append(line, '\n')
		if n := bigSize - written; int64(len(line)) > n {
			line = line[:n]
		}
		if _, err := zw.Write(line); err != nil {
			return nil, err
		}
		written += int64(len(line))
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	bo.big = big.Bytes()

	var bomb bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	head, tail := []byte("<!DOCTYPE html><html><head><title>bomb</title></head><body>"), []byte("</body></html>")
	zw.Write(head)
	zeros := make([]byte, 1<<20)
	for left := bombSize - int64(len(head)+len(tail)); left > 0; left -= int64(len(zeros)) {
		zw.Write(zeros[:min(left, int64(len(zeros)))])
	}
	zw.Write(tail)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	bo.bomb = bomb.Bytes()
	return bo, nil
}

// serve answers /big.js and /bomb; it reports false for other paths.
func (bo *buffersOrigin) serve(w http.ResponseWriter, r *http.Request) bool {
	var body []byte
	switch r.URL.Path {
	case "/big.js":
		w.Header().Set("Content-Type", "application/javascript")
		body = bo.big
	case "/bomb":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		body = bo.bomb
	default:
		return false
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Encoding", "gzip")
	// No Content-Length: sent in pieces, as a compressing origin does.
	for p := body; len(p) > 0; {
		n := min(len(p), 64<<10)
		if _, err := w.Write(p[:n]); err != nil {
			return true
		}
		p = p[n:]
	}
	return true
}

type buffersReport struct {
	readers, bombs int
	bigSize        int64
	bombSize       int64
	bigGzip        int
	bombGzip       int
	duration       time.Duration
	hwm            int64 // the edge's VmHWM at the end, bytes
	rssMax         int64 // largest VmRSS sampled
	read           int64 // body bytes the clients read
	statuses       []kv  // "script: " or "bomb: ", then status and Cache-Status of the answers
	originBig      int   // origin requests for /big.js
	failed         int   // clients that got no answer
	notes          []string
}

// buffers starts slow readers of the large script and slow readers of
// bombs at once, lets them read for the scenario's duration, and records
// the edge's peak resident set.
func (b *bench) buffers(ctx context.Context) (*buffersReport, error) {
	dir, err := b.scenarioDir("buffers")
	if err != nil {
		return nil, err
	}
	rep := &buffersReport{readers: b.opts.SlowReaders, bombs: b.opts.Bombs, bigSize: b.opts.bigSize, bombSize: b.opts.bombSize, duration: b.opts.Duration}
	b.progress("buffers: preparing a %s script and a %s gzip bomb", mib(rep.bigSize), mib(rep.bombSize))
	bo, err := prepareBuffers(rep.bigSize, rep.bombSize)
	if err != nil {
		return nil, err
	}
	rep.bigGzip, rep.bombGzip = len(bo.big), len(bo.bomb)
	b.origin.setExtra(bo.serve)
	defer b.origin.setExtra(nil)

	edge, err := startEdge(ctx, b.bin, dir, b.origin.URL(), b.opts.CacheMemory)
	if err != nil {
		return nil, err
	}
	defer edge.stop()
	rss := sampleRSS(edge, 20*time.Millisecond)
	defer rss.Close()
	originBefore := b.origin.pathCounts("/big.js")["/big.js"]

	b.progress("buffers: %d slow readers of /big.js?c=N and %d of /bomb?b=N, %s/s each, for %v", rep.readers, rep.bombs, mib(slowRate), rep.duration)
	type result struct {
		kind   string
		status string
		read   int64
		err    error
	}
	results := make(chan result, rep.readers+rep.bombs)
	var wg sync.WaitGroup
	for i := range rep.readers + rep.bombs {
		kind, path := "script", "/big.js?c="+strconv.Itoa(i)
		if i >= rep.readers {
			kind, path = "bomb", "/bomb?b="+strconv.Itoa(i-rep.readers)
		}
		wg.Go(func() {
			status, n, err := slowRead(ctx, edge.addr, path, rep.duration)
			results <- result{kind, status, n, err}
		})
	}
	wg.Wait()
	close(results)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.rssMax = rss.peak()
	m, err := edge.mem()
	if err != nil {
		return nil, err
	}
	rep.hwm = m.hwm
	counts := map[string]int{}
	var firstErr error
	for r := range results {
		rep.read += r.read
		if r.err != nil {
			rep.failed++
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		counts[r.kind+": "+r.status]++
	}
	for k, n := range counts {
		rep.statuses = append(rep.statuses, kv{k, n})
	}
	sort.Slice(rep.statuses, func(i, j int) bool { return rep.statuses[i].key < rep.statuses[j].key })
	rep.originBig = b.origin.pathCounts("/big.js")["/big.js"] - originBefore
	if firstErr != nil {
		rep.notes = append(rep.notes, fmt.Sprintf("%d clients got no answer; first: %v", rep.failed, firstErr))
	}
	if size, _ := dirSize(filepath.Join(dir, "state", "cache")); size > 0 {
		b.progress("buffers: %s in the cache afterwards", mib(size))
	}
	return rep, nil
}

// slowRead GETs path as a browser would (Accept-Encoding: gzip, deflate,
// br) with a small receive buffer, waits up to headerWait for the
// response, and reads its body at slowRate for d or until it ends. It
// returns the status and Cache-Status.
func slowRead(ctx context.Context, addr, path string, d time.Duration) (string, int64, error) {
	dialer := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, slowRcvBuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", 0, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(headerWait))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: gzip, deflate, br\r\nUser-Agent: icpedge-bench slow reader\r\n\r\n", path, edgeHost)
	br := bufio.NewReaderSize(conn, 4<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	status := strconv.Itoa(resp.StatusCode) + " " + resp.Header.Get("Cache-Status")
	end := time.Now().Add(d)
	_ = conn.SetDeadline(end)
	const tick = 100 * time.Millisecond
	buf := make([]byte, slowRate/int(time.Second/tick))
	var n int64
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		k, err := io.ReadFull(resp.Body, buf)
		n += int64(k)
		if err != nil {
			// The body ended, or the scenario did.
			return status, n, nil
		}
		select {
		case <-ctx.Done():
			return status, n, nil
		case <-t.C:
		}
	}
}

func printBuffers(w io.Writer, o options, r *buffersReport) []verdict {
	fmt.Fprintf(w, "\n== buffers: %d slow readers of a %s cacheable script (/big.js?c=N, each its own URL; gzip from the origin, %s, no Content-Length) and %d of a gzip bomb (/bomb?b=N, %s inflating to %s of HTML); each reads %s/s for %v once its answer starts\n",
		r.readers, mib(r.bigSize), mib(int64(r.bigGzip)), r.bombs, mib(int64(r.bombGzip)), mib(r.bombSize), mib(slowRate), r.duration)
	var cs []string
	for _, s := range r.statuses {
		cs = append(cs, fmt.Sprintf("%q ×%d", s.key, s.n))
	}
	fmt.Fprintf(w, "answers (status, Cache-Status): %s\n", strings.Join(cs, ", "))
	fmt.Fprintf(w, "origin requests for /big.js: %d; body bytes read by the clients: %s; largest VmRSS sampled: %s\n", r.originBig, mib(r.read), mib(r.rssMax))
	ok := r.hwm > 0 && r.hwm < targetBuffersRSS && r.failed == 0
	fmt.Fprintf(w, "edge peak RSS (VmHWM): %s   %s (< %s, with cache memory %s and the default limits.buffer_memory)\n", mib(r.hwm), passFail(ok), mib(targetBuffersRSS), o.CacheMemory)
	printNotes(w, r.notes)
	return []verdict{{name: "buffers edge peak RSS", got: mib(r.hwm), want: "< " + mib(targetBuffersRSS), pass: ok}}
}
