package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
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
}

// scenarioDir makes an empty directory for one scenario's edge.
func (b *bench) scenarioDir(name string) (string, error) {
	dir := filepath.Join(b.tmp, name)
	return dir, os.MkdirAll(dir, 0o755)
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.log, "icpedge-bench: "+format+"\n", args...)
}

// hitsRow is one client kind's figures in the hits scenario.
type hitsRow struct {
	kind        clientKind
	bodyLen     int
	edge, plain loadResult
}

type hitsReport struct {
	path             string
	rounds           int
	round            time.Duration
	rows             []hitsRow
	edgeHWM          int64 // the edge's VmHWM at the end, bytes
	edgeRSSMax       int64 // largest VmRSS sampled during the load
	plainHWM         int64
	originDuringLoad int64
	notes            []string // what looked wrong with the edge
}

// hits warms one URL and loads it on the edge and on the reference
// server in alternating rounds, for each client kind.
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
	rep := &hitsReport{path: "/"}
	rep.rounds = max(2, int(b.opts.Duration/time.Second))
	rep.round = b.opts.Duration / time.Duration(rep.rounds)

	b.progress("hits: warming %s on the edge at %s", rep.path, edge.addr)
	vs, notes, err := fetchVariants(ctx, edge.addr, rep.path)
	if err != nil {
		return nil, err
	}
	rep.notes = notes

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
		if !bytes.Equal(got.body, v.body) || got.header.Get("Content-Encoding") != v.encoding || got.header.Get("Content-Type") != v.ctype {
			return nil, fmt.Errorf("plain server: %s client got %d bytes %q %q; want the edge's %d bytes %q %q",
				k.name, len(got.body), got.header.Get("Content-Encoding"), got.header.Get("Content-Type"), len(v.body), v.encoding, v.ctype)
		}
	}

	edgeRSS := sampleRSS(edge.pid(), 50*time.Millisecond)
	defer edgeRSS.Close()
	originBefore := b.origin.total.Load()
	warm := min(b.opts.Duration/5, time.Second)
	for _, v := range vs {
		k := kindFor(v.encoding)
		req := buildRequest(rep.path, k)
		want := int64(len(v.body))
		l := load{
			next: func(int, int) ([]byte, bool) { return req, true },
			check: func(_ []byte, r response) bool {
				return r.status == 200 && r.bodyLen == want && r.encoding == v.encoding
			},
		}
		row := hitsRow{kind: k, bodyLen: len(v.body)}
		ep, pp := newPool(edge.addr, b.opts.Conns), newPool(plain.addr, b.opts.Conns)
		b.progress("hits: %s client, %d conns, %d rounds of %v per server", k.name, b.opts.Conns, rep.rounds, rep.round)
		l.duration = warm
		ep.run(ctx, l)
		pp.run(ctx, l)
		l.duration = rep.round
		edgeRound := func() { row.edge.add(measureCPU(edge.pid(), func() loadResult { return ep.run(ctx, l) })) }
		plainRound := func() { row.plain.add(measureCPU(plain.pid(), func() loadResult { return pp.run(ctx, l) })) }
		for r := range rep.rounds {
			// Swap the order every round so that neither server always
			// runs right after the other's connections went idle.
			if r%2 == 0 {
				edgeRound()
				plainRound()
			} else {
				plainRound()
				edgeRound()
			}
		}
		ep.Close()
		pp.Close()
		if ok := row.edge.requests - row.edge.errors; row.edge.hits < ok {
			rep.notes = append(rep.notes, fmt.Sprintf("%s client: %d of %d responses under load were not cache hits", k.name, ok-row.edge.hits, ok))
		}
		rep.rows = append(rep.rows, row)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	rep.originDuringLoad = b.origin.total.Load() - originBefore
	rep.edgeRSSMax = edgeRSS.peak()
	m, err := readMem(edge.pid())
	if err != nil {
		return nil, err
	}
	rep.edgeHWM = m.hwm
	if m, err := readMem(plain.pid()); err == nil {
		rep.plainHWM = m.hwm
	}
	if n := edge.warnings(); n > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("the edge logged %d warnings or errors; last lines:\n%s", n, edge.log()))
	}
	return rep, nil
}

// measureCPU runs f and adds the CPU time process pid used meanwhile to
// its result. The server is idle outside its own rounds, so that time is
// its cost of serving them.
func measureCPU(pid int, f func() loadResult) loadResult {
	before, err1 := readCPU(pid)
	res := f()
	after, err2 := readCPU(pid)
	if err1 == nil && err2 == nil {
		res.cpu = after - before
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
		vs = append(vs, variant{encoding: ce, ctype: f.header.Get("Content-Type"), body: f.body})
	}
	return vs, notes, nil
}

type memoryReport struct {
	entries          int
	fill, load       loadResult
	fillStored       int64
	fillOrigin       int64
	originDuringLoad int64
	fillRSSMax       int64
	loadRSSMax       int64
	hwm              int64
	diskBytes        int64
	diskFiles        int
	notes            []string
}

// memory fills the cache with opts.Entries pages and loads random ones.
func (b *bench) memory(ctx context.Context) (*memoryReport, error) {
	dir, err := b.scenarioDir("memory")
	if err != nil {
		return nil, err
	}
	edge, err := startEdge(ctx, b.bin, dir, b.origin.URL(), b.opts.CacheMemory)
	if err != nil {
		return nil, err
	}
	defer edge.stop()
	rss := sampleRSS(edge.pid(), 50*time.Millisecond)
	defer rss.Close()
	rep := &memoryReport{entries: b.opts.Entries}

	reqs := make([][3][]byte, rep.entries+1)
	for i := 1; i <= rep.entries; i++ {
		for j, k := range clientKinds {
			reqs[i][j] = buildRequest("/p/"+strconv.Itoa(i), k)
		}
	}
	okBody := func(_ []byte, r response) bool { return r.status == 200 && r.bodyLen > 0 }

	b.progress("memory: filling %d URLs with %d conns", rep.entries, b.opts.Conns)
	originBefore := b.origin.total.Load()
	var nextURL atomic.Int64
	var stored atomic.Int64
	p := newPool(edge.addr, b.opts.Conns)
	defer p.Close()
	rep.fill = p.run(ctx, load{
		duration: fillLimit,
		next: func(int, int) ([]byte, bool) {
			i := nextURL.Add(1)
			if i > int64(rep.entries) {
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
	rep.fillStored = stored.Load()
	rep.fillOrigin = b.origin.total.Load() - originBefore
	rep.fillRSSMax = rss.peak()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if rep.fill.requests < int64(rep.entries) {
		return nil, fmt.Errorf("memory: filled %d of %d URLs within %v", rep.fill.requests, rep.entries, fillLimit)
	}

	b.progress("memory: random GETs over %d URLs for %v", rep.entries, b.opts.Duration)
	rss.reset()
	originBefore = b.origin.total.Load()
	rngs := make([]*rand.Rand, b.opts.Conns)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w)+1, 0x1cbedce))
	}
	rep.load = p.run(ctx, load{
		duration: b.opts.Duration,
		next: func(w, _ int) ([]byte, bool) {
			rng := rngs[w]
			return reqs[1+rng.IntN(rep.entries)][rng.IntN(len(clientKinds))], true
		},
		check: okBody,
	})
	rep.originDuringLoad = b.origin.total.Load() - originBefore
	rep.loadRSSMax = rss.peak()
	m, err := readMem(edge.pid())
	if err != nil {
		return nil, err
	}
	rep.hwm = m.hwm
	rep.diskBytes, rep.diskFiles = dirSize(filepath.Join(dir, "state", "cache"))
	if rep.fill.firstErr != "" {
		rep.notes = append(rep.notes, "first fill error: "+rep.fill.firstErr)
	}
	if rep.load.firstErr != "" {
		rep.notes = append(rep.notes, "first load error: "+rep.load.firstErr)
	}
	if n := edge.warnings(); n > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("the edge logged %d warnings or errors; last lines:\n%s", n, edge.log()))
	}
	return rep, ctx.Err()
}

type missesReport struct {
	unique     int
	res        loadResult
	originReqs int   // origin requests for the scenario's URLs
	fetched    int   // distinct URLs the origin saw
	maxPerURL  int   // most origin requests for one URL
	overOne    int   // URLs the origin saw more than once
	statuses   []kv  // Cache-Status values and their counts
	hwm        int64 // the edge's VmHWM at the end
	notes      []string
}

type kv struct {
	key string
	n   int
}

// perURL is origin requests per unique URL.
func (m *missesReport) perURL() float64 {
	if m.unique == 0 {
		return 0
	}
	return float64(m.originReqs) / float64(m.unique)
}

// misses sends opts.Misses never-seen URLs, each once, and counts what
// reached the origin.
func (b *bench) misses(ctx context.Context) (*missesReport, error) {
	dir, err := b.scenarioDir("misses")
	if err != nil {
		return nil, err
	}
	edge, err := startEdge(ctx, b.bin, dir, b.origin.URL(), b.opts.CacheMemory)
	if err != nil {
		return nil, err
	}
	defer edge.stop()
	rep := &missesReport{unique: b.opts.Misses}
	prefix := "/m/" + strconv.FormatInt(time.Now().UnixNano(), 36) + "/"
	reqs := make([][]byte, rep.unique)
	for i := range reqs {
		reqs[i] = buildRequest(prefix+strconv.Itoa(i), clientKinds[i%len(clientKinds)])
	}

	b.progress("misses: %d never-seen URLs with %d conns", rep.unique, b.opts.Conns)
	var next atomic.Int64
	var mu sync.Mutex
	statuses := map[string]int{}
	p := newPool(edge.addr, b.opts.Conns)
	defer p.Close()
	rep.res = p.run(ctx, load{
		duration: missesLimit,
		next: func(int, int) ([]byte, bool) {
			i := next.Add(1) - 1
			if i >= int64(len(reqs)) {
				return nil, false
			}
			return reqs[i], true
		},
		check: func(_ []byte, r response) bool { return r.status == 200 && r.bodyLen > 0 },
		observe: func(_ []byte, r response) {
			mu.Lock()
			statuses[r.cacheStatus]++
			mu.Unlock()
		},
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	counts := b.origin.pathCounts(prefix)
	rep.fetched = len(counts)
	for _, n := range counts {
		rep.originReqs += n
		rep.maxPerURL = max(rep.maxPerURL, n)
		if n > 1 {
			rep.overOne++
		}
	}
	for k, n := range statuses {
		rep.statuses = append(rep.statuses, kv{k, n})
	}
	sort.Slice(rep.statuses, func(i, j int) bool { return rep.statuses[i].n > rep.statuses[j].n })
	if m, err := readMem(edge.pid()); err == nil {
		rep.hwm = m.hwm
	}
	if rep.res.firstErr != "" {
		rep.notes = append(rep.notes, "first error: "+rep.res.firstErr)
	}
	if rep.res.requests < int64(rep.unique) {
		rep.notes = append(rep.notes, fmt.Sprintf("only %d of %d URLs were sent within %v", rep.res.requests, rep.unique, missesLimit))
	}
	if n := edge.warnings(); n > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("the edge logged %d warnings or errors; last lines:\n%s", n, edge.log()))
	}
	return rep, nil
}
