package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"regexp"
	"slices"
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

// TestTinyRun runs every scenario, small, against a freshly built
// icpedge, and against nginx when it is installed (the comparison is
// optional: CI need not have nginx), and checks the shape of what is
// printed and that the numbers are real. Speed targets are not asserted
// here: a test machine's noise would decide them. The one origin request
// per never-seen URL is.
func TestTinyRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs icpedge")
	}
	// A bound for a wedged run, not a speed target: a busy machine may take
	// several times as long as an idle one.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	o := options{Duration: time.Second, Conns: 4, Entries: 50, CacheMemory: "16MiB",
		SlowReaders: 4, Bombs: 2, BigSize: "4MB", BombSize: "64MiB"}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	nginx, err := findNginx("")
	if err != nil {
		t.Fatal(err)
	}
	withNginx := nginx != ""
	t.Logf("nginx: %q", nginx)
	rep, err := run(ctx, o, &out, &progress)
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("output:\n%s", out.String())

	wantServers := []string{"edge", "plain"}
	if withNginx {
		wantServers = append(wantServers, "nginx")
	}
	if !slices.Equal(rep.hits.servers, wantServers) {
		t.Errorf("hits servers: got %q; want %q", rep.hits.servers, wantServers)
	}
	if got := len(rep.hits.rows); got != len(clientKinds) {
		t.Fatalf("hits rows: got %d; want %d", got, len(clientKinds))
	}
	for _, row := range rep.hits.rows {
		for i, name := range rep.hits.servers {
			res := &row.res[i]
			if res.rps() <= 0 || res.percentile(50) <= 0 || res.percentile(99) < res.percentile(50) {
				t.Errorf("hits %s %s: got %.0f req/s, p50 %v, p99 %v; want positive figures", row.kind.name, name, res.rps(), res.percentile(50), res.percentile(99))
			}
			if res.errors != 0 {
				t.Errorf("hits %s %s: got %d errors (first: %s); want 0", row.kind.name, name, res.errors, res.firstErr)
			}
			if name != "plain" && res.hits != res.requests-res.errors {
				t.Errorf("hits %s %s: got %d cache hits of %d responses; want all", row.kind.name, name, res.hits, res.requests-res.errors)
			}
		}
		if row.encoding[0] != row.kind.encoding {
			t.Errorf("hits %s: the edge sent %q; want %q", row.kind.name, row.encoding[0], row.kind.encoding)
		}
	}
	if h := rep.hits; h.edgeHWM <= 0 || h.plainHWM <= 0 || h.originDuringLoad != 0 || withNginx != (h.nginxHWM > 0) {
		t.Errorf("hits: got edge VmHWM %d, plain VmHWM %d, nginx VmHWM %d, %d origin requests under load; want positive, positive, positive with nginx, 0", h.edgeHWM, h.plainHWM, h.nginxHWM, h.originDuringLoad)
	}
	if len(rep.hits.notes) > 0 {
		t.Errorf("hits: got anomalies %q; want none", rep.hits.notes)
	}
	if c := rep.hits.sizes.compressCPU; c <= 0 {
		t.Errorf("background compression CPU: got %v; want the time of the page's compression, above 0", c)
	}
	if s := rep.hits.sizes; s.edge[""] <= s.edge["gzip"] || s.edge["gzip"] <= 0 || s.edge["br"] <= 0 || withNginx != (s.nginx1 > 0 && s.nginx6 > 0 && s.nginx6 < s.nginx1) {
		t.Errorf("bytes per hit: got edge %v, nginx gzip 1 %d, 6 %d; want compressed smaller than identity, and nginx's level 6 smaller than its level 1", s.edge, s.nginx1, s.nginx6)
	}

	// Misses: every URL sent to the edge reached the origin exactly once.
	for name, ms := range map[string]*missesReport{"misses": rep.misses, "single": rep.single} {
		want := []string{"edge"}
		if name == "single" {
			want = []string{"origin", "edge"}
		}
		if withNginx {
			want = append(want, "nginx")
		}
		if !slices.Equal(ms.servers, want) {
			t.Errorf("%s servers: got %q; want %q", name, ms.servers, want)
		}
		for _, row := range ms.rows {
			for i, s := range ms.servers {
				if res := &row.res[i]; res.requests == 0 || res.errors != 0 || res.rps() <= 0 || row.notMiss[i] != 0 {
					t.Errorf("%s %s %s: got %d misses, %d errors, %.1f/s, %d not misses; want some, 0, positive, 0", name, row.kind.name, s, res.requests, res.errors, res.rps(), row.notMiss[i])
				}
			}
		}
		if ms.edgeURLs == 0 || int64(ms.originReqs) != ms.edgeURLs || ms.maxPerURL != 1 || ms.unfetched != 0 {
			t.Errorf("%s: got %d origin requests for %d URLs (most %d for one, %d never fetched); want one per URL", name, ms.originReqs, ms.edgeURLs, ms.maxPerURL, ms.unfetched)
		}
		if len(ms.notes) > 0 {
			t.Errorf("%s: got anomalies %q; want none", name, ms.notes)
		}
	}
	if rep.misses.conns != 4 || rep.single.conns != 1 {
		t.Errorf("conns: got %d and %d; want 4 and 1", rep.misses.conns, rep.single.conns)
	}

	m := rep.memory.run("edge")
	if m.fill.requests != 50 || m.fill.errors != 0 || m.fillStored != 50 || m.fillOrigin != 50 {
		t.Errorf("memory fill: got %d requests, %d errors, %d stored, %d origin requests; want 50, 0, 50, 50", m.fill.requests, m.fill.errors, m.fillStored, m.fillOrigin)
	}
	if m.load.rps() <= 0 || m.load.errors != 0 || m.hwm <= 0 || m.loadRSSMax <= 0 || m.diskBytes <= 0 {
		t.Errorf("memory load: got %.0f req/s, %d errors, VmHWM %d, VmRSS %d, %d bytes on disk; want positive figures and no errors", m.load.rps(), m.load.errors, m.hwm, m.loadRSSMax, m.diskBytes)
	}
	if n := rep.memory.run("nginx"); withNginx != (n != nil) {
		t.Errorf("memory: nginx figures %v; want them exactly when nginx is installed", n != nil)
	} else if n != nil {
		// A master, two workers and a cache manager at least.
		if n.fill.requests != 50 || n.fill.errors != 0 || n.fillOrigin != 50 || n.load.errors != 0 || n.originDuringLoad != 0 || n.procs < 4 || n.hwm <= 0 || n.diskFiles != 50 {
			t.Errorf("memory nginx: got %d fills, %d errors, %d origin requests, %d load errors, %d origin requests under load, %d processes, VmHWM %d, %d files; want 50, 0, 50, 0, 0, ≥ 4, positive, 50",
				n.fill.requests, n.fill.errors, n.fillOrigin, n.load.errors, n.originDuringLoad, n.procs, n.hwm, n.diskFiles)
		}
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
	want := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^machine: .*load average [0-9.]+ [0-9.]+ [0-9.]+ at start$`),
		regexp.MustCompile(`(?m)^== hits: GET / from the cache; 4 conns; 1s per server`),
		regexp.MustCompile(`(?m)^client +server +encoding +body B +req/s +p50 +p99 +CPU/req +errors +cache hits$`),
		regexp.MustCompile(`(?m)^plain +edge +identity +\d+ +[1-9]\d* +[0-9.]+ms +[0-9.]+ms +\d+µs +0 +100\.0%`),
		regexp.MustCompile(`(?m)^gzip +edge +gzip +\d+ +[1-9]\d*`),
		regexp.MustCompile(`(?m)^br +edge +br +\d+ +[1-9]\d*`),
		regexp.MustCompile(`(?m)^ +plain +br +\d+ +[1-9]\d* +[0-9.]+ms +[0-9.]+ms +\d+µs +0 +-`),
		regexp.MustCompile(`(?m)^ +edge/plain +[0-9.]+x +[0-9.]+x +[0-9.]+x +[0-9.]+x +rps (PASS|FAIL) \(≥ 0\.90x\), p99 (PASS|FAIL) \(≤ 1\.50x\)`),
		regexp.MustCompile(`(?m)^peak RSS: edge VmHWM [1-9][0-9.]* MiB`),
		regexp.MustCompile(`(?m)^== bytes per hit of the same page$`),
		regexp.MustCompile(`(?m)^edge br +[1-9]\d* `),
		regexp.MustCompile(`(?m)^edge background compression of the stored variants .*: [0-9.]+(µs|ms|s) CPU$`),
		regexp.MustCompile(`(?m)^== misses: never-seen URLs .*; 4 conns; `),
		regexp.MustCompile(`(?m)^client +server +misses +misses/s +p50 +p99 +CPU/miss +of it kernel +errors$`),
		regexp.MustCompile(`(?m)^origin requests per URL sent to the edge: (\d+) / (\d+) = 1\.000 +PASS \(= 1, each URL once\)$`),
		regexp.MustCompile(`(?m)^== single: one visitor's misses`),
		regexp.MustCompile(`(?m)^br client: edge adds -?[0-9.]+ms at p50 .* +(PASS|FAIL) \(≤ 1\.50ms\)$`),
		regexp.MustCompile(`(?m)^== memory: 50 URLs`),
		regexp.MustCompile(`(?m)^edge +fill +50 +0 `),
		regexp.MustCompile(`(?m)^edge peak RSS \(VmHWM\): [1-9][0-9.]* MiB +(PASS|FAIL) \(≤ 64\.0 MiB\)$`),
		regexp.MustCompile(`(?m)^== buffers: 4 slow readers of a 3\.8 MiB cacheable script`),
		regexp.MustCompile(`(?m)^edge peak RSS \(VmHWM\): [1-9][0-9.]* MiB +(PASS|FAIL) \(< 128\.0 MiB, `),
		regexp.MustCompile(`(?m)^\d+ PASS, \d+ FAIL; load average`),
	}
	nginxLines := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^nginx: +/\S*nginx \(nginx/[0-9.]+\)`),
		regexp.MustCompile(`(?m)^ +nginx +gzip +\d+ +[1-9]\d* `),
		regexp.MustCompile(`(?m)^ +edge/nginx +[0-9.]+x +[0-9.]+x +[0-9.]+x +[0-9.]+x +p99 (PASS|FAIL) \(≤ 1\.00x\)`),
		regexp.MustCompile(`(?m)^nginx gzip level 6 +[1-9]\d* `),
		regexp.MustCompile(`(?m)^edge br ÷ nginx gzip level 1: [0-9.]+x +(PASS|FAIL) \(≤ 0\.80x\)$`),
		regexp.MustCompile(`(?m)^gzip +[0-9.]+x (PASS|FAIL) +[0-9.]+x (PASS|FAIL) +[0-9.]+x (PASS|FAIL) +[0-9.]+x +[0-9.]+x +[0-9.]+x$`),
		regexp.MustCompile(`(?m)^br client: edge adds .*; nginx adds `),
		regexp.MustCompile(`(?m)^nginx +fill +50 +0 `),
		regexp.MustCompile(`(?m)^edge peak RSS \(VmHWM\) [0-9.]+ MiB ÷ nginx's .*: [0-9.]+x +(PASS|FAIL) \(≤ 1\.00x\)$`),
	}
	if withNginx {
		want = append(want, nginxLines...)
	} else {
		want = append(want, regexp.MustCompile(`(?m)^nginx: +none`))
	}
	for _, re := range want {
		if !re.MatchString(text) {
			t.Errorf("output has no line matching %s", re)
		}
	}
	if !withNginx {
		for _, re := range nginxLines {
			if re.MatchString(text) {
				t.Errorf("output without nginx has a line matching %s", re)
			}
		}
	}
	if got, want := countLines(text, " PASS\n")+countLines(text, " FAIL\n"), len(rep.targets); got < want {
		t.Errorf("target lines ending in PASS or FAIL: got %d; want at least %d", got, want)
	}
	if strings.Contains(text, "anomaly") {
		t.Errorf("output reports anomalies; want none")
	}
}

// TestNoNginx runs the hits scenario with the comparison turned off, as
// on a machine without nginx.
func TestNoNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs icpedge")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	o := options{Duration: time.Second, Conns: 2, Entries: 10, CacheMemory: "16MiB", Nginx: "off", Only: "hits",
		SlowReaders: 1, Bombs: 1, BigSize: "1MB", BombSize: "1MiB"}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	rep, err := run(ctx, o, &out, &progress)
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, progress.String())
	}
	if !slices.Equal(rep.hits.servers, []string{"edge", "plain"}) || rep.hits.nginxHWM != 0 || rep.hits.sizes.nginx1 != 0 {
		t.Errorf("got servers %q, nginx VmHWM %d, nginx gzip bytes %d; want edge and plain alone", rep.hits.servers, rep.hits.nginxHWM, rep.hits.sizes.nginx1)
	}
	text := out.String()
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^nginx: +none`),
		regexp.MustCompile(`(?m)^ +edge/plain +[0-9.]+x `),
	} {
		if !re.MatchString(text) {
			t.Errorf("output has no line matching %s", re)
		}
	}
	if strings.Contains(text, "edge/nginx") || strings.Contains(text, "nginx gzip level") {
		t.Errorf("output without nginx mentions nginx figures:\n%s", text)
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

// TestParseCPU reads user and kernel time apart from a stat line whose
// command name holds spaces and a parenthesis.
func TestParseCPU(t *testing.T) {
	line := []byte("4242 (icpedge (x) y) S 1 4242 4242 0 -1 4194560 8163 0 0 0 731 294 0 0 20 0 9 0 2633 1939161088 14950 18446744073709551615\n")
	got, err := parseCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := (cpuUse{user: 7310 * time.Millisecond, sys: 2940 * time.Millisecond}); got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
	for _, bad := range []string{"4242 icpedge S 1", "4242 (icpedge) S 1 2 3", "4242 (icpedge) S 1 4242 4242 0 -1 4194560 8163 0 0 0 x 294 0"} {
		if _, err := parseCPU([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
