package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// missKinds are the clients of the miss scenarios: a browser sends br,
// which nginx answers with gzip.
var missKinds = clientKinds

// missRow is one client kind's figures in a miss scenario: one result
// per server, in the report's servers order.
type missRow struct {
	kind clientKind
	res  []loadResult
	// notMiss counts answers that did not say they came from the
	// origin: a URL answered from a cache would not be a miss at all.
	notMiss []int64
}

type missesReport struct {
	conns   int
	rounds  int
	round   time.Duration
	servers []string // "edge", and "nginx" when compared; "origin" first in the single scenario
	rows    []missRow
	// For the edge's URLs: how many were sent, and the origin requests
	// they caused.
	edgeURLs   int64
	originReqs int
	maxPerURL  int
	overOne    int      // URLs the origin saw more than once
	unfetched  int64    // URLs sent to the edge that the origin never saw
	statuses   []kv     // the edge's Cache-Status values and their counts
	hwm        int64    // the edge's VmHWM at the end
	notes      []string // what looked wrong
}

type kv struct {
	key string
	n   int
}

// server returns the index of a server's figures, or -1.
func (m *missesReport) server(name string) int {
	for i, s := range m.servers {
		if s == name {
			return i
		}
	}
	return -1
}

// perURL is origin requests per URL sent to the edge.
func (m *missesReport) perURL() float64 {
	if m.edgeURLs == 0 {
		return 0
	}
	return float64(m.originReqs) / float64(m.edgeURLs)
}

// misses loads the edge and nginx with never-seen URLs, each sent once,
// over opts.Conns connections, in alternating rounds per client kind,
// and counts what reached the origin for the edge's.
func (b *bench) misses(ctx context.Context) (*missesReport, error) {
	return b.missLoad(ctx, "misses", b.opts.Conns, false)
}

// single is misses for one visitor: one connection, with the origin
// itself as a server, to see what the edge adds to going there directly.
func (b *bench) single(ctx context.Context) (*missesReport, error) {
	return b.missLoad(ctx, "single", 1, true)
}

func (b *bench) missLoad(ctx context.Context, scenario string, conns int, direct bool) (*missesReport, error) {
	dir, err := b.scenarioDir(scenario)
	if err != nil {
		return nil, err
	}
	edge, err := startEdge(ctx, b.bin, dir, b.origin.URL(), b.opts.CacheMemory)
	if err != nil {
		return nil, err
	}
	defer edge.stop()
	rep := &missesReport{conns: conns}
	rep.rounds = max(2, int(b.opts.Duration/time.Second))
	rep.round = b.opts.Duration / time.Duration(rep.rounds)
	var servers []server
	if direct {
		servers = append(servers, server{"origin", b.origin.addr(), nil})
	}
	servers = append(servers, server{"edge", edge.addr, edge})
	ngx, _, err := b.startNginx(ctx, scenario)
	if err != nil {
		return nil, err
	}
	if ngx != nil {
		defer ngx.stop()
		servers = append(servers, server{"nginx", ngx.addr, ngx})
	}
	for _, s := range servers {
		rep.servers = append(rep.servers, s.name)
	}
	edgeIdx := rep.server("edge")

	// Every request is for a path no server has seen: the run, the
	// server, the client kind, the round, the connection and its count.
	run := "/m/" + strconv.FormatInt(time.Now().UnixNano(), 36) + "/"
	var mu sync.Mutex
	statuses := map[string]int{}
	for _, k := range missKinds {
		row := missRow{kind: k, res: make([]loadResult, len(servers)), notMiss: make([]int64, len(servers))}
		pools := make([]pool, len(servers))
		for i, s := range servers {
			pools[i] = newPool(s.addr, conns)
			defer pools[i].Close()
		}
		rounds := make([]int, len(servers))
		b.progress("%s: %s client, %d conns, %d rounds of %v per server", scenario, k.name, conns, rep.rounds, rep.round)
		alternate(ctx, rep.rounds, len(servers), func(i int) {
			prefix := run + servers[i].name + "/" + k.name + "/" + strconv.Itoa(rounds[i]) + "/"
			rounds[i]++
			isEdge := i == edgeIdx
			l := load{
				duration: rep.round,
				next: func(w, n int) ([]byte, bool) {
					return buildRequest(prefix+strconv.Itoa(w)+"-"+strconv.Itoa(n), k), true
				},
				check: func(_ []byte, r response) bool { return r.status == 200 && r.bodyLen > 0 },
				observe: func(_ []byte, r response) {
					mu.Lock()
					defer mu.Unlock()
					if servers[i].c != nil && !strings.Contains(r.cacheStatus, "fwd=miss") {
						row.notMiss[i]++
					}
					if isEdge {
						statuses[r.cacheStatus]++
					}
				},
			}
			row.res[i].add(measureCPU(servers[i].c, func() loadResult { return pools[i].run(ctx, l) }))
		})
		for _, p := range pools {
			p.Close()
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.rows = append(rep.rows, row)
		rep.edgeURLs += row.res[edgeIdx].requests
	}

	counts := b.origin.pathCounts(run + "edge/")
	for _, n := range counts {
		rep.originReqs += n
		rep.maxPerURL = max(rep.maxPerURL, n)
		if n > 1 {
			rep.overOne++
		}
	}
	rep.unfetched = rep.edgeURLs - int64(len(counts))
	for k, n := range statuses {
		rep.statuses = append(rep.statuses, kv{k, n})
	}
	sort.Slice(rep.statuses, func(i, j int) bool { return rep.statuses[i].n > rep.statuses[j].n })
	if m, err := edge.mem(); err == nil {
		rep.hwm = m.hwm
	}
	for _, row := range rep.rows {
		for i, r := range row.res {
			if r.firstErr != "" {
				rep.notes = append(rep.notes, fmt.Sprintf("%s, %s client: first error: %s", servers[i].name, row.kind.name, r.firstErr))
			}
			if row.notMiss[i] > 0 {
				rep.notes = append(rep.notes, fmt.Sprintf("%s, %s client: %d answers were not misses", servers[i].name, row.kind.name, row.notMiss[i]))
			}
		}
	}
	if n := edge.warnings(); n > 0 {
		rep.notes = append(rep.notes, fmt.Sprintf("the edge logged %d warnings or errors; last lines:\n%s", n, edge.log()))
	}
	if ngx != nil {
		if n := ngx.warnings(); n > 0 {
			rep.notes = append(rep.notes, fmt.Sprintf("nginx logged %d warnings or errors; last lines:\n%s", n, ngx.log()))
		}
	}
	return rep, nil
}
