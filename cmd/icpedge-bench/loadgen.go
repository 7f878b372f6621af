package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The load generator speaks HTTP/1.1 over plain keep-alive connections:
// one connection per worker, one request in flight on each (a closed
// loop), requests written from prebuilt bytes and responses parsed just
// enough to find their end. On two shared cores a net/http client costs
// several times the CPU per request, which would be taken from the
// servers being measured.

// requestTimeout bounds one request, from writing it to reading the end
// of its body.
const requestTimeout = 30 * time.Second

// maxRequestsPerWorker bounds one worker's loop whatever its deadline.
const maxRequestsPerWorker = 10_000_000

// clientKind is the Accept-Encoding a simulated client sends.
type clientKind struct {
	name     string
	header   string // Accept-Encoding value; "" sends none
	encoding string // the Content-Encoding it should get back; "" is identity
}

var clientKinds = []clientKind{
	{name: "plain", header: "", encoding: ""},
	{name: "gzip", header: "gzip", encoding: "gzip"},
	{name: "br", header: "gzip, deflate, br", encoding: "br"},
}

// buildRequest returns the bytes of a GET for path on the edge's host.
func buildRequest(path string, k clientKind) []byte {
	var b bytes.Buffer
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + edgeHost + "\r\nUser-Agent: icpedge-bench\r\nAccept: text/html,*/*\r\n")
	if k.header != "" {
		b.WriteString("Accept-Encoding: " + k.header + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// response is what the load generator keeps of one response.
type response struct {
	status      int
	bodyLen     int64
	encoding    string // Content-Encoding
	cacheStatus string // Cache-Status
	close       bool   // the server will close the connection
}

// conn is one keep-alive client connection, redialled when lost.
type conn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

func (c *conn) Close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// do sends one request and reads its whole response.
func (c *conn) do(req []byte) (response, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return response{}, err
		}
		c.c = nc
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 32<<10)
		} else {
			c.br.Reset(nc)
		}
	}
	_ = c.c.SetDeadline(time.Now().Add(requestTimeout))
	if _, err := c.c.Write(req); err != nil {
		c.Close()
		return response{}, err
	}
	resp, err := readResponse(c.br)
	if err != nil || resp.close {
		c.Close()
	}
	return resp, err
}

var errMalformed = errors.New("malformed response")

// readResponse reads one HTTP/1.1 response to a GET from br and discards
// its body.
func readResponse(br *bufio.Reader) (response, error) {
	var r response
	line, err := br.ReadSlice('\n')
	if err != nil {
		return r, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return r, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	r.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return r, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	r.close = line[7] == '0'
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return r, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return r, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return r, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case asciiEqualFold(name, "Content-Encoding"):
			r.encoding = string(value)
		case asciiEqualFold(name, "Cache-Status"):
			r.cacheStatus = string(value)
		case asciiEqualFold(name, "Connection"):
			if bytes.EqualFold(value, []byte("close")) {
				r.close = true
			}
		}
	}
	switch {
	case r.status == 204 || r.status == 304 || r.status/100 == 1:
		return r, nil
	case chunked:
		r.bodyLen, err = discardChunked(br)
	case length >= 0:
		var n int
		n, err = br.Discard(int(length))
		r.bodyLen = int64(n)
	default:
		r.close = true
		r.bodyLen, err = io.Copy(io.Discard, br)
	}
	return r, err
}

// discardChunked reads a chunked body and its trailer (RFC 9112 §7.1).
func discardChunked(br *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return total, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if size == 0 {
			break
		}
		n, err := br.Discard(int(size))
		total += int64(n)
		if err != nil {
			return total, err
		}
		if _, err := br.Discard(2); err != nil {
			return total, err
		}
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return total, nil
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i]|0x20, s[i]|0x20
		if c != d {
			return false
		}
	}
	return true
}

// pool is a fixed set of connections to one server, kept across rounds.
type pool []*conn

func newPool(addr string, n int) pool {
	p := make(pool, n)
	for i := range p {
		p[i] = &conn{addr: addr}
	}
	return p
}

func (p pool) Close() {
	for _, c := range p {
		c.Close()
	}
}

// load describes one timed run over a pool.
type load struct {
	duration time.Duration
	// next returns worker w's i-th request; false ends that worker.
	next func(w, i int) ([]byte, bool)
	// check says whether a response is what was expected; a response
	// that fails it counts as an error. Nil accepts any 200.
	check func(req []byte, r response) bool
	// observe, when set, sees every response. It runs on the workers'
	// goroutines.
	observe func(req []byte, r response)
}

// loadResult holds one or more runs' counts and latencies.
type loadResult struct {
	requests int64
	errors   int64
	hits     int64 // responses whose Cache-Status says hit
	elapsed  time.Duration
	cpu      time.Duration   // the server's CPU time over the runs, when measured
	sysCPU   time.Duration   // the part of cpu spent in the kernel
	latency  []time.Duration // one per successful request
	firstErr string
}

func (a *loadResult) add(b loadResult) {
	a.requests += b.requests
	a.errors += b.errors
	a.hits += b.hits
	a.elapsed += b.elapsed
	a.cpu += b.cpu
	a.sysCPU += b.sysCPU
	a.latency = append(a.latency, b.latency...)
	if a.firstErr == "" {
		a.firstErr = b.firstErr
	}
}

// rps is successful requests per second.
func (a *loadResult) rps() float64 {
	if a.elapsed <= 0 {
		return 0
	}
	return float64(a.requests-a.errors) / a.elapsed.Seconds()
}

// cpuPerRequest is the server's CPU time per successful request.
func (a *loadResult) cpuPerRequest() time.Duration {
	if n := a.requests - a.errors; n > 0 {
		return a.cpu / time.Duration(n)
	}
	return 0
}

// sysPerRequest is the part of cpuPerRequest spent in the kernel.
func (a *loadResult) sysPerRequest() time.Duration {
	if n := a.requests - a.errors; n > 0 {
		return a.sysCPU / time.Duration(n)
	}
	return 0
}

// percentile returns the p-th percentile (0 < p ≤ 100) of the latencies,
// nearest-rank.
func (a *loadResult) percentile(p float64) time.Duration {
	if len(a.latency) == 0 {
		return 0
	}
	if !slices.IsSorted(a.latency) {
		slices.Sort(a.latency)
	}
	i := int(float64(len(a.latency))*p/100+0.999999) - 1
	return a.latency[max(0, min(i, len(a.latency)-1))]
}

// run drives the pool for l.duration (or until every worker ran out of
// requests, or ctx ended) and returns the counts.
func (p pool) run(ctx context.Context, l load) loadResult {
	type workerResult struct {
		n, errs, hits int64
		lat           []time.Duration
		firstErr      string
	}
	results := make([]workerResult, len(p))
	start := time.Now()
	deadline := start.Add(l.duration)
	var wg sync.WaitGroup
	for w, c := range p {
		wg.Go(func() {
			res := &results[w]
			res.lat = make([]time.Duration, 0, 1024)
			for i := 0; i < maxRequestsPerWorker; i++ {
				if ctx.Err() != nil || !time.Now().Before(deadline) {
					return
				}
				req, ok := l.next(w, i)
				if !ok {
					return
				}
				t0 := time.Now()
				r, err := c.do(req)
				d := time.Since(t0)
				res.n++
				if err == nil && l.observe != nil {
					l.observe(req, r)
				}
				switch {
				case err != nil:
					res.errs++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				case l.check != nil && !l.check(req, r), l.check == nil && r.status != 200:
					res.errs++
					if res.firstErr == "" {
						res.firstErr = fmt.Sprintf("GET %s: status %d, %d body bytes, Content-Encoding %q, Cache-Status %q",
							requestPath(req), r.status, r.bodyLen, r.encoding, r.cacheStatus)
					}
				default:
					res.lat = append(res.lat, d)
					if isHit(r.cacheStatus) {
						res.hits++
					}
				}
			}
		})
	}
	wg.Wait()
	out := loadResult{elapsed: time.Since(start)}
	for _, r := range results {
		out.requests += r.n
		out.errors += r.errs
		out.hits += r.hits
		out.latency = append(out.latency, r.lat...)
		if out.firstErr == "" {
			out.firstErr = r.firstErr
		}
	}
	return out
}

// requestPath returns the target of a request built by buildRequest.
func requestPath(req []byte) string {
	line, _, _ := bytes.Cut(req, []byte("\r\n"))
	f := bytes.Fields(line)
	if len(f) < 2 {
		return ""
	}
	return string(f[1])
}

// isHit reports whether a Cache-Status value (RFC 9211 §2) says the
// response came from the edge's cache without going forward.
func isHit(cs string) bool {
	for p := range strings.SplitSeq(cs, ";") {
		if strings.TrimSpace(p) == "hit" {
			return true
		}
	}
	return false
}
