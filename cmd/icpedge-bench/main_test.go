package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// The reference server is this binary in another mode; under test,
	// this binary is the test binary.
	if os.Getenv(roleEnv) == rolePlain {
		os.Exit(plainMain(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestTinyRun runs all three scenarios, small, against a freshly built
// icpedge and checks the shape of what is printed and that the numbers
// are real. Speed targets are not asserted here: a test machine's noise
// would decide them. The one-origin-request-per-miss target is.
func TestTinyRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs icpedge")
	}
	// A bound for a wedged run, not a speed target: a busy machine may take
	// several times as long as an idle one.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	o := options{Duration: time.Second, Conns: 4, Entries: 50, Misses: 50, CacheMemory: "16MiB",
		SlowReaders: 4, Bombs: 2, BigSize: "4MB", BombSize: "64MiB"}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	rep, err := run(ctx, o, &out, &progress)
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("output:\n%s", out.String())

	if got := len(rep.hits.rows); got != len(clientKinds) {
		t.Fatalf("hits rows: got %d; want %d", got, len(clientKinds))
	}
	for _, row := range rep.hits.rows {
		for name, res := range map[string]*loadResult{"edge": &row.edge, "plain": &row.plain} {
			if res.rps() <= 0 || res.percentile(50) <= 0 || res.percentile(99) < res.percentile(50) {
				t.Errorf("hits %s %s: got %.0f req/s, p50 %v, p99 %v; want positive figures", row.kind.name, name, res.rps(), res.percentile(50), res.percentile(99))
			}
			if res.errors != 0 {
				t.Errorf("hits %s %s: got %d errors (first: %s); want 0", row.kind.name, name, res.errors, res.firstErr)
			}
		}
		if ok := row.edge.requests - row.edge.errors; row.edge.hits != ok {
			t.Errorf("hits %s: got %d cache hits of %d responses; want all", row.kind.name, row.edge.hits, ok)
		}
	}
	if h := rep.hits; h.edgeHWM <= 0 || h.plainHWM <= 0 || h.originDuringLoad != 0 {
		t.Errorf("hits: got edge VmHWM %d, plain VmHWM %d, %d origin requests under load; want positive, positive, 0", h.edgeHWM, h.plainHWM, h.originDuringLoad)
	}
	if len(rep.hits.notes) > 0 {
		t.Errorf("hits: got edge anomalies %q; want none", rep.hits.notes)
	}

	m := rep.memory
	if m.fill.requests != 50 || m.fill.errors != 0 || m.fillStored != 50 || m.fillOrigin != 50 {
		t.Errorf("memory fill: got %d requests, %d errors, %d stored, %d origin requests; want 50, 0, 50, 50", m.fill.requests, m.fill.errors, m.fillStored, m.fillOrigin)
	}
	if m.load.rps() <= 0 || m.load.errors != 0 || m.hwm <= 0 || m.loadRSSMax <= 0 || m.diskBytes <= 0 {
		t.Errorf("memory load: got %.0f req/s, %d errors, VmHWM %d, VmRSS %d, %d bytes on disk; want positive figures and no errors", m.load.rps(), m.load.errors, m.hwm, m.loadRSSMax, m.diskBytes)
	}

	ms := rep.misses
	if ms.res.requests != 50 || ms.res.errors != 0 || ms.res.rps() <= 0 {
		t.Errorf("misses: got %d requests, %d errors, %.1f/s; want 50, 0, positive", ms.res.requests, ms.res.errors, ms.res.rps())
	}
	if ms.perURL() > targetOriginPerM || ms.originReqs == 0 {
		t.Errorf("misses: got %d origin requests for %d URLs (%.3f per URL, most %d for one); want at most 1 per URL", ms.originReqs, ms.unique, ms.perURL(), ms.maxPerURL)
	}

	bf := rep.buffers
	if bf.failed != 0 || bf.hwm <= 0 || bf.read <= 0 || bf.originBig != 4 {
		t.Errorf("buffers: got %d failed clients, VmHWM %d, %d bytes read, %d origin requests for the script; want 0, positive, positive, 4", bf.failed, bf.hwm, bf.read, bf.originBig)
	}
	// The scripts stream or are stored; a bomb streams with the notice,
	// or is cut off with 502 once it inflates a hundredfold.
	answered := 0
	for _, s := range bf.statuses {
		if !strings.HasPrefix(s.key, "script: 200 icpedge; ") && !strings.HasPrefix(s.key, "bomb: 200 icpedge; ") && !strings.HasPrefix(s.key, "bomb: 502 icpedge; ") {
			t.Errorf("buffers: %d answers %q; want 200 with a Cache-Status, or 502 for a bomb", s.n, s.key)
		}
		answered += s.n
	}
	if answered != 6 {
		t.Errorf("buffers: %d answers; want 6", answered)
	}

	// The printed report: every section, a PASS or FAIL beside each
	// target, and a final count that matches.
	text := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^machine: .*load average [0-9.]+ [0-9.]+ [0-9.]+ at start$`),
		regexp.MustCompile(`(?m)^== hits: GET / from the cache; 4 conns; 1s per server`),
		regexp.MustCompile(`(?m)^client +encoding +body B +server +req/s +p50 +p99 +CPU/req +errors +cache hits$`),
		regexp.MustCompile(`(?m)^plain +identity +\d+ +edge +[1-9]\d* +[0-9.]+ms +[0-9.]+ms +\d+µs +0 +100\.0%`),
		regexp.MustCompile(`(?m)^gzip +gzip +\d+ +edge +[1-9]\d*`),
		regexp.MustCompile(`(?m)^br +br +\d+ +edge +[1-9]\d*`),
		regexp.MustCompile(`(?m)^ +plain +[1-9]\d* +[0-9.]+ms +[0-9.]+ms +\d+µs +0 +-`),
		regexp.MustCompile(`(?m)^ +edge/plain +[0-9.]+x +[0-9.]+x +[0-9.]+x +[0-9.]+x +rps (PASS|FAIL) \(≥ 0\.80x\), p99 (PASS|FAIL) \(≤ 1\.50x\)`),
		regexp.MustCompile(`(?m)^peak RSS: edge VmHWM [1-9][0-9.]* MiB`),
		regexp.MustCompile(`(?m)^== memory: 50 URLs`),
		regexp.MustCompile(`(?m)^fill +50 +0 `),
		regexp.MustCompile(`(?m)^edge peak RSS \(VmHWM\): [1-9][0-9.]* MiB +(PASS|FAIL) \(≤ 64\.0 MiB\)$`),
		regexp.MustCompile(`(?m)^== misses: 50 never-seen URLs`),
		regexp.MustCompile(`(?m)^origin requests per unique URL: 50 / 50 = 1\.000 +PASS \(≤ 1\.0\)$`),
		regexp.MustCompile(`(?m)^== buffers: 4 slow readers of a 3\.8 MiB cacheable script`),
		regexp.MustCompile(`(?m)^edge peak RSS \(VmHWM\): [1-9][0-9.]* MiB +(PASS|FAIL) \(< 128\.0 MiB, `),
		regexp.MustCompile(`(?m)^\d+ PASS, \d+ FAIL; load average`),
	} {
		if !want.MatchString(text) {
			t.Errorf("output has no line matching %s", want)
		}
	}
	if got, want := countLines(text, " PASS\n")+countLines(text, " FAIL\n"), len(rep.targets); got < want {
		t.Errorf("target lines ending in PASS or FAIL: got %d; want at least %d", got, want)
	}
	if strings.Contains(text, "edge anomaly") {
		t.Errorf("output reports edge anomalies; want none")
	}
}

func countLines(text, suffix string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if strings.HasSuffix(strings.TrimRight(sc.Text(), " ")+"\n", suffix) {
			n++
		}
	}
	return n
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want response
	}{
		{
			name: "content-length",
			in:   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Encoding: br\r\nCache-Status: icpedge; hit; ttl=3599\r\n\r\nhello",
			want: response{status: 200, bodyLen: 5, encoding: "br", cacheStatus: "icpedge; hit; ttl=3599"},
		},
		{
			name: "chunked with trailer",
			in:   "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n",
			want: response{status: 200, bodyLen: 5},
		},
		{
			name: "no body on 304",
			in:   "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
			want: response{status: 304},
		},
		{
			name: "close-delimited",
			in:   "HTTP/1.0 200 OK\r\n\r\nbody to EOF",
			want: response{status: 200, bodyLen: 11, close: true},
		},
		{
			name: "connection close",
			in:   "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			want: response{status: 502, close: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if !tt.want.close {
				in += "HTTP/1.1 204 No Content\r\n\r\n"
			}
			br := bufio.NewReader(strings.NewReader(in))
			got, err := readResponse(br)
			if err != nil {
				t.Fatalf("readResponse: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
			if got.close {
				return
			}
			// The next response on the connection starts right after.
			if next, err := readResponse(br); err != nil || next.status != 204 {
				t.Errorf("next response: got %+v, %v; want status 204", next, err)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after both responses: got %v; want EOF", err)
			}
		})
	}
}

func TestIsHit(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"icpedge; hit; ttl=3599", true},
		{"icpedge; fwd=miss; stored", false},
		{"icpedge; fwd=stale; fwd-status=304", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isHit(tt.in); got != tt.want {
			t.Errorf("isHit(%q): got %v; want %v", tt.in, got, tt.want)
		}
	}
}
