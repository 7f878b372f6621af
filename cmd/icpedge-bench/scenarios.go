package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Bounds for the phases that run until their work is done rather than for
// --duration.
const (
	fillLimit   = 15 * time.Minute
	missesLimit = 10 * time.Minute
	// maxBody caps a body read whole by the checks outside the load.
	maxBody = 16 << 20
)

// bench holds what every scenario shares.
type bench struct {
	opts   options
	bin    string
	tmp    string
	origin *origin
	log    io.Writer // progress, not figures
	// nginx is the nginx binary to compare with, "" for none; notice is
	// the block its sub_filter injects, the edge's own.
	nginx, nginxVersion, notice string
}

// scenarioDir makes an empty directory for one scenario's edge.
func (b *bench) scenarioDir(name string) (string, error) {
	dir := filepath.Join(b.tmp, name)
	return dir, os.MkdirAll(dir, 0o755)
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "icpedge-bench: "+format+"\n", args...)
}

// server is one of the servers a scenario loads: the edge, nginx, the
// plain server, or the origin itself (c nil: it runs in this process).
type server struct {
	name string
	addr string
	c    *child
}

// startNginx starts nginx for a scenario, in its own directory, or
// returns nil when there is no nginx to compare with.
func (b *bench) startNginx(ctx context.Context, scenario string) (c *child, addr6 string, err error) {
	if b.nginx == "" {
		return nil, "", nil
	}
	dir, err := b.scenarioDir(scenario + "/nginx")
	if err != nil {
		return nil, "", err
	}
	return startNginx(ctx, b.nginx, dir, b.origin.addr(), b.notice)
}

// alternate runs f for each of n servers in each of rounds rounds,
// starting every round one server later, so that machine noise falls on
// all of them alike and none always runs right after the same other one.
func alternate(ctx context.Context, rounds, n int, f func(i int)) {
	for r := range rounds {
		for k := range n {
			if ctx.Err() != nil {
				return
			}
			f((r + k) % n)
		}
	}
}

// hitsRow is one client kind's figures in the hits scenario: one result
// per server, in hitsReport.servers order.
type hitsRow struct {
	kind clientKind
	res  []loadResult
	// encoding and bodyLen are what each server sent this client.
	encoding []string
	bodyLen  []int
}

type hitsReport struct {
	path             string
	rounds           int
	round            time.Duration
	servers          []string // "edge", "plain", and "nginx" when compared
	rows             []hitsRow
	edgeHWM          int64 // the edge's VmHWM at the end, bytes
	edgeRSSMax       int64 // largest VmRSS sampled during the load
	plainHWM         int64
	nginxHWM         int64 // summed over its processes
	originDuringLoad int64
	sizes            *sizesReport
	notes            []string // what looked wrong with the edge
}

// server returns the index of a server's figures, or -1.
func (r *hitsReport) server(name string) int { return slices.Index(r.servers, name) }

// sizesReport is bytes per hit of the same page: the edge's encodings,
// and nginx's gzip at levels 1 and 6.
type sizesReport struct {
	edge           map[string]int // by Content-Encoding, "" identity
	nginx1, nginx6 int            // 0 without nginx
	// compressCPU is the CPU the edge's background compressor spent
	// making the page's stored variants, -1 when it could not be read.
	compressCPU time.Duration
}

// hits warms one URL and loads it on the edge, on the reference server
// and on nginx, in alternating rounds, for each client kind.
func (b *bench) hits(ctx context.Context) (*hitsReport, error) {
	dir, err := b.scenarioDir("hits")
	if err != nil {
		return nil, err
	}
	edge, err := startEdge(ctx, b.bin, dir, b.origin.URL(), b.opts.CacheMemory)
	if err != nil {
		return nil, err
	}
	defer edge.stop()
	rep := &hitsReport{path: "/", servers: []string{"edge", "plain"}}
	rep.rounds = max(2, int(b.opts.Duration/time.Second))
	rep.round = b.opts.Duration / time.Duration(rep.rounds)

	b.progress("hits: warming %s on the edge at %s", rep.path, edge.addr)
	vs, notes, err := fetchVariants(ctx, edge.addr, rep.path)
	if err != nil {
		return nil, err
	}
	rep.notes = notes
	rep.sizes = &sizesReport{edge: map[string]int{}, compressCPU: -1}
	if sec, err := edge.metric(ctx, "icpedge_compress_seconds_total"); err != nil {
		rep.notes = append(rep.notes, "reading the compressor's time: "+err.Error())
	} else {
		rep.sizes.compressCPU = time.Duration(sec * float64(time.Second))
	}
	for _, v := range vs {
		rep.sizes.edge[v.encoding] = len(v.body)
	}

	plainDir, err := b.scenarioDir("hits/plain")
	if err != nil {
		return nil, err
	}
	plain, err := startPlain(ctx, plainDir, vs)
	if err != nil {
		return nil, err
	}
	defer plain.stop()
	for _, v := range vs {
		k := kindFor(v.encoding)
		got, err := get(ctx, plain.addr, rep.path, k)
		if err != nil {
			return nil, fmt.Errorf("plain server: %w", err)
		}
		if sent := servedHeader(got.header); !bytes.Equal(got.body, v.body) || !maps.EqualFunc(sent, v.header, slices.Equal) {
			return nil, fmt.Errorf("plain server: %s client got %d bytes with %v; want the edge's %d bytes with %v",
				k.name, len(got.body), sent, len(v.body), v.header)
		}
	}
	servers := []server{{"edge", edge.addr, edge}, {"plain", plain.addr, plain}}

	ngx, addr6, err := b.startNginx(ctx, "hits")
	if err != nil {
		return nil, err
	}
	if ngx != nil {
		defer ngx.stop()
		rep.servers = append(rep.servers, "nginx")
		servers = append(servers, server{"nginx", ngx.addr, ngx})
		b.progress("hits: warming %s on nginx at %s", rep.path, ngx.addr)
		if _, err := get(ctx, ngx.addr, rep.path, clientKinds[0]); err != nil {
			return nil, fmt.Errorf("nginx: %w", err)
		}
		for i, addr := range []string{ngx.addr, addr6} {
			f, err := get(ctx, addr, rep.path, kindFor("gzip"))
			if err != nil {
				return nil, fmt.Errorf("nginx: %w", err)
			}
			if f.header.Get("Content-Encoding") != "gzip" || !isHit(f.header.Get("Cache-Status")) {
				return nil, fmt.Errorf("nginx: a gzip client got Content-Encoding %q, Cache-Status %q after warming; want gzip, a hit", f.header.Get("Content-Encoding"), f.header.Get("Cache-Status"))
			}
			sizes := []*int{&rep.sizes.nginx1, &rep.sizes.nginx6}
			*sizes[i] = len(f.body)
		}
		plainPage, err := get(ctx, ngx.addr, rep.path, clientKinds[0])
		if err != nil {
			return nil, fmt.Errorf("nginx: %w", err)
		}
		if idx := slices.IndexFunc(vs, func(v variant) bool { return v.encoding == "" }); idx >= 0 && !bytes.Equal(plainPage.body, vs[idx].body) {
			rep.notes = append(rep.notes, fmt.Sprintf("nginx's page (%d bytes) is not the edge's (%d bytes): the comparison is not of the same document", len(plainPage.body), len(vs[idx].body)))
		}
	}

	edgeRSS := sampleRSS(edge, 50*time.Millisecond)
	defer edgeRSS.Close()
	originBefore := b.origin.total.Load()
	warm := min(b.opts.Duration/5, time.Second)
	for _, k := range clientKinds {
		req := buildRequest(rep.path, k)
		row := hitsRow{kind: k, res: make([]loadResult, len(servers))}
		loads := make([]load, len(servers))
		pools := make([]pool, len(servers))
		for i, s := range servers {
			// What each server sends this client, as checked under load.
			f, err := get(ctx, s.addr, rep.path, k)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			enc, want := f.header.Get("Content-Encoding"), int64(len(f.body))
			row.encoding = append(row.encoding, enc)
			row.bodyLen = append(row.bodyLen, len(f.body))
			loads[i] = load{
				next: func(int, int) ([]byte, bool) { return req, true },
				check: func(_ []byte, r response) bool {
					return r.status == 200 && r.bodyLen == want && r.encoding == enc
				},
			}
			pools[i] = newPool(s.addr, b.opts.Conns)
			defer pools[i].Close()
		}
		b.progress("hits: %s client, %d conns, %d rounds of %v per server", k.name, b.opts.Conns, rep.rounds, rep.round)
		for i := range servers {
			loads[i].duration = warm
			pools[i].run(ctx, loads[i])
			loads[i].duration = rep.round
		}
		alternate(ctx, rep.rounds, len(servers), func(i int) {
			row.res[i].add(measureCPU(servers[i].c, func() loadResult { return pools[i].run(ctx, loads[i]) }))
		})
		for _, p := range pools {
			p.Close()
		}
		if e := row.res[0]; e.hits < e.requests-e.errors {
			rep.notes = append(rep.notes, fmt.Sprintf("%s client: %d of %d responses under load were not cache hits", k.name, e.requests-e.errors-e.hits, e.requests-e.errors))
		}
		rep.rows = append(rep.rows, row)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	rep.originDuringLoad = b.origin.total.Load() - originBefore
	rep.edgeRSSMax = edgeRSS.peak()
	m, err := edge.mem()
	if err != nil {
		return nil, err
	}
	rep.edgeHWM = m.hwm
	if m, err := plain.mem(); err == nil {
		rep.plainHWM = m.hwm
	}
	if ngx != nil {
		if m, err := ngx.mem(); err == nil {
			rep.nginxHWM = m.hwm
		}
		if n := ngx.warnings(); n > 0 {
			rep.notes = append(rep.notes, fmt.Sprintf("nginx logged %d warnings or errors; last lines:\n%s", n, ngx.log()))
		}
	}
	if n := edge.warnings(); n > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("the edge logged %d warnings or errors; last lines:\n%s", n, edge.log()))
	}
	return rep, nil
}

// measureCPU runs f and adds the CPU time c used meanwhile to its
// result. The server is idle outside its own rounds, so that time is its
// cost of serving them. A nil c (the in-process origin) is not measured.
func measureCPU(c *child, f func() loadResult) loadResult {
	if c == nil {
		return f()
	}
	before, err1 := c.cpu()
	res := f()
	after, err2 := c.cpu()
	if err1 == nil && err2 == nil {
		res.cpu = after.user - before.user + after.sys - before.sys
		res.sysCPU = after.sys - before.sys
	}
	return res
}

func kindFor(encoding string) clientKind {
	for _, k := range clientKinds {
		if k.encoding == encoding {
			return k
		}
	}
	return clientKinds[0]
}

// fetched is a response read whole.
type fetched struct {
	status int
	header http.Header
	body   []byte
}

// get fetches path from addr as client kind k, with net/http (no
// transparent decompression: bodies are kept as sent).
func get(ctx context.Context, addr, path string, k clientKind) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Host = edgeHost
	if k.header != "" {
		req.Header.Set("Accept-Encoding", k.header)
	}
	tr := &http.Transport{DisableCompression: true, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: requestTimeout}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading body: %w", path, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("GET %s: body over %d bytes", path, maxBody)
	}
	return &fetched{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// fetchVariants stores path in the edge's cache with a first request,
// then reads the page once per client kind as the edge serves it from
// the cache. Anything unexpected about the edge's answers is returned as
// notes; only a failure to get a page at all is an error.
func fetchVariants(ctx context.Context, addr, path string) ([]variant, []string, error) {
	var notes []string
	first, err := get(ctx, addr, path, clientKinds[2])
	if err != nil {
		return nil, nil, fmt.Errorf("warming %s: %w", path, err)
	}
	if first.status != 200 {
		return nil, nil, fmt.Errorf("warming %s: status %d", path, first.status)
	}
	if cs := first.header.Get("Cache-Status"); !strings.Contains(cs, "stored") {
		notes = append(notes, fmt.Sprintf("first GET %s (Accept-Encoding: %s) was not stored: Cache-Status %q", path, clientKinds[2].header, cs))
	}
	// The edge stores the page's compressed variants in the background
	// after the fill; until they are in, a br client gets the fast gzip.
	// What is measured is the page as hits get it for good.
	if err := waitEncoding(ctx, addr, path, clientKinds[2]); err != nil {
		notes = append(notes, err.Error())
	}
	var vs []variant
	for _, k := range clientKinds {
		f, err := get(ctx, addr, path, k)
		if err != nil {
			return nil, nil, err
		}
		if f.status != 200 {
			return nil, nil, fmt.Errorf("GET %s as %s client: status %d", path, k.name, f.status)
		}
		ce := f.header.Get("Content-Encoding")
		if cs := f.header.Get("Cache-Status"); !isHit(cs) {
			notes = append(notes, fmt.Sprintf("GET %s (Accept-Encoding: %q) after warming was not a hit: Cache-Status %q", path, k.header, cs))
		}
		if ce != k.encoding {
			notes = append(notes, fmt.Sprintf("GET %s (Accept-Encoding: %q) came back with Content-Encoding %q; want %q", path, k.header, ce, k.encoding))
		}
		if cl := f.header.Get("Content-Length"); cl != strconv.Itoa(len(f.body)) {
			notes = append(notes, fmt.Sprintf("GET %s (Accept-Encoding: %q): Content-Length %q for a %d-byte body", path, k.header, cl, len(f.body)))
		}
		// The notice may be written as character references, so that
		// pages in any ASCII-compatible charset can carry it.
		if ce == "" && !strings.Contains(html.UnescapeString(string(f.body)), noticeICP) {
			notes = append(notes, fmt.Sprintf("GET %s (Accept-Encoding: %q): the page has no ICP notice", path, k.header))
		}
		if slices.ContainsFunc(vs, func(v variant) bool { return v.encoding == ce }) {
			continue
		}
		vs = append(vs, variant{encoding: ce, header: servedHeader(f.header), body: f.body})
	}
	return vs, notes, nil
}

// storedVariantsWait bounds how long the edge may take to store a
// page's compressed variants after its fill: brotli at its highest
// quality is slow, and the machine may be busy.
const storedVariantsWait = 2 * time.Minute

// waitEncoding asks for path as a k client until the answer comes in
// k's encoding, polling, for up to storedVariantsWait.
func waitEncoding(ctx context.Context, addr, path string, k clientKind) error {
	ctx, cancel := context.WithTimeout(ctx, storedVariantsWait)
	defer cancel()
	for {
		f, err := get(ctx, addr, path, k)
		if err != nil {
			return fmt.Errorf("GET %s (Accept-Encoding: %q) while waiting for its stored variants: %v", path, k.header, err)
		}
		if f.header.Get("Content-Encoding") == k.encoding {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s (Accept-Encoding: %q): still Content-Encoding %q after %v; want %q", path, k.header, f.header.Get("Content-Encoding"), storedVariantsWait, k.encoding)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// memRun is one server's figures in the memory scenario.
type memRun struct {
	server           string
	fill, load       loadResult
	fillStored       int64 // the edge's "stored" answers
	fillOrigin       int64
	originDuringLoad int64
	fillRSSMax       int64 // largest VmRSS sampled, summed over the processes
	loadRSSMax       int64
	hwm              int64 // VmHWM at the end, summed over the processes
	pss              int64 // Pss at the end, summed over the processes
	procs            int   // processes counted
	diskBytes        int64
	diskFiles        int
}

type memoryReport struct {
	entries int
	runs    []memRun // the edge first, then nginx when compared
	notes   []string
}

// run returns a server's figures, or nil.
func (r *memoryReport) run(name string) *memRun {
	for i := range r.runs {
		if r.runs[i].server == name {
			return &r.runs[i]
		}
	}
	return nil
}

// memory fills the cache with opts.Entries pages and loads random ones,
// on the edge and then on nginx.
func (b *bench) memory(ctx context.Context) (*memoryReport, error) {
	dir, err := b.scenarioDir("memory")
	if err != nil {
		return nil, err
	}
	rep := &memoryReport{entries: b.opts.Entries}
	reqs := make([][3][]byte, rep.entries+1)
	for i := 1; i <= rep.entries; i++ {
		for j, k := range clientKinds {
			reqs[i][j] = buildRequest("/p/"+strconv.Itoa(i), k)
		}
	}

	edge, err := startEdge(ctx, b.bin, dir, b.origin.URL(), b.opts.CacheMemory)
	if err != nil {
		return nil, err
	}
	run, err := b.memoryRun(ctx, server{"edge", edge.addr, edge}, reqs)
	edge.stop()
	if err != nil {
		return nil, err
	}
	run.diskBytes, run.diskFiles = dirSize(filepath.Join(dir, "state", "cache"))
	rep.runs = append(rep.runs, *run)
	if n := edge.warnings(); n > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("the edge logged %d warnings or errors; last lines:\n%s", n, edge.log()))
	}

	ngx, _, err := b.startNginx(ctx, "memory")
	if err != nil {
		return nil, err
	}
	if ngx != nil {
		run, err := b.memoryRun(ctx, server{"nginx", ngx.addr, ngx}, reqs)
		ngx.stop()
		if err != nil {
			return nil, err
		}
		run.diskBytes, run.diskFiles = dirSize(filepath.Join(b.tmp, "memory", "nginx", "cache"))
		rep.runs = append(rep.runs, *run)
		if n := ngx.warnings(); n > 0 {
			rep.notes = append(rep.notes, fmt.Sprintf("nginx logged %d warnings or errors; last lines:\n%s", n, ngx.log()))
		}
	}
	return rep, ctx.Err()
}

// memoryRun fills one server's cache and loads it.
func (b *bench) memoryRun(ctx context.Context, s server, reqs [][3][]byte) (*memRun, error) {
	entries := len(reqs) - 1
	rss := sampleRSS(s.c, 50*time.Millisecond)
	defer rss.Close()
	run := &memRun{server: s.name}
	okBody := func(_ []byte, r response) bool { return r.status == 200 && r.bodyLen > 0 }

	b.progress("memory: filling %d URLs on %s with %d conns", entries, s.name, b.opts.Conns)
	originBefore := b.origin.total.Load()
	var nextURL atomic.Int64
	var stored atomic.Int64
	p := newPool(s.addr, b.opts.Conns)
	defer p.Close()
	run.fill = p.run(ctx, load{
		duration: fillLimit,
		next: func(int, int) ([]byte, bool) {
			i := nextURL.Add(1)
			if i > int64(entries) {
				return nil, false
			}
			return reqs[i][2], true
		},
		check: okBody,
		observe: func(_ []byte, r response) {
			if strings.Contains(r.cacheStatus, "stored") {
				stored.Add(1)
			}
		},
	})
	run.fillStored = stored.Load()
	run.fillOrigin = b.origin.total.Load() - originBefore
	run.fillRSSMax = rss.peak()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if run.fill.requests < int64(entries) {
		return nil, fmt.Errorf("%s: filled %d of %d URLs within %v", s.name, run.fill.requests, entries, fillLimit)
	}

	b.progress("memory: random GETs over %d URLs on %s for %v", entries, s.name, b.opts.Duration)
	rss.reset()
	originBefore = b.origin.total.Load()
	rngs := make([]*rand.Rand, b.opts.Conns)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w)+1, 0x1cbedce))
	}
	run.load = p.run(ctx, load{
		duration: b.opts.Duration,
		next: func(w, _ int) ([]byte, bool) {
			rng := rngs[w]
			return reqs[1+rng.IntN(entries)][rng.IntN(len(clientKinds))], true
		},
		check: okBody,
	})
	run.originDuringLoad = b.origin.total.Load() - originBefore
	run.loadRSSMax = rss.peak()
	run.procs = len(s.c.pids())
	m, err := s.c.mem()
	if err != nil {
		return nil, err
	}
	run.hwm, run.pss = m.hwm, m.pss
	return run, ctx.Err()
}
