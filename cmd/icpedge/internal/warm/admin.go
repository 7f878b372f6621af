package warm

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cacheFigures reads what the edge's cache holds for the client from the
// admin listener's /metrics, into rep. A failure is only a note: the
// pages are warmed either way.
func (w *warmer) cacheFigures(ctx context.Context, rep *Report) {
	if w.o.AdminToken == "" {
		rep.CacheNote = "no admin token"
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.o.Admin+"/metrics", nil)
	if err != nil {
		rep.CacheNote = err.Error()
		return
	}
	req.Header.Set("Authorization", "Bearer "+w.o.AdminToken)
	resp, err := w.direct.Do(req)
	if err != nil {
		rep.CacheNote = fmt.Sprintf("asking the admin listener at %s: %v", w.o.Admin, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		rep.CacheNote = fmt.Sprintf("the admin listener at %s answered /metrics with %s", w.o.Admin, resp.Status)
		return
	}
	entries, okE := metric(resp.Body, w.o.Client)
	if !okE {
		rep.CacheNote = fmt.Sprintf("the edge's metrics have no cache for client %q", w.o.Client)
		return
	}
	rep.CacheEntries, rep.CacheBytes, rep.CacheKnown = entries["icpedge_cache_entries"], entries["icpedge_cache_bytes"], true
}

// metric reads the cache gauges of client from Prometheus text
// exposition, up to 16 MiB of it.
func metric(r io.Reader, client string) (map[string]int64, bool) {
	want := `{client="` + client + `"}`
	got := map[string]int64{}
	sc := bufio.NewScanner(io.LimitReader(r, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, name := range []string{"icpedge_cache_entries", "icpedge_cache_bytes"} {
			if rest, ok := strings.CutPrefix(line, name+want+" "); ok {
				if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
					got[name] = int64(v)
				}
			}
		}
	}
	_, ok := got["icpedge_cache_entries"]
	return got, ok
}
