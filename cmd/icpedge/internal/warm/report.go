package warm

import (
	"fmt"
	"io"
	"time"
)

// maxListed is how many problems of each kind the summary lists.
const maxListed = 20

// WriteSummary writes what the run did, and each page and sitemap that
// did not warm, for the operator.
func (r *Report) WriteSummary(w io.Writer) {
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(r.Stored+r.Cached+len(r.NotStored)+len(r.Failed)) / r.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "warmed %d of %d pages in %s (%.1f pages/s): %d stored, %d already cached, %d not stored, %d failed\n",
		r.Stored+r.Cached, r.Pages, r.Elapsed.Round(time.Second), rate, r.Stored, r.Cached, len(r.NotStored), len(r.Failed))
	if r.CacheKnown {
		fmt.Fprintf(w, "the edge's cache now holds %d entries, %s\n", r.CacheEntries, bytesText(r.CacheBytes))
	} else if r.CacheNote != "" {
		fmt.Fprintf(w, "cache size not shown: %s\n", r.CacheNote)
	}
	list(w, "failed:", r.Failed)
	list(w, "sitemaps not read:", r.Sitemaps)
	list(w, "not stored by the edge (they are not served while the origin is down; see Cache-Status, cache.rules and cache.bypass_cookies):", r.NotStored)
	if n := len(r.Skipped); n > 0 {
		fmt.Fprintf(w, "skipped %d URLs on hosts that are neither the edge's nor in rewrite_hosts, e.g. %s\n", n, r.Skipped[0])
	}
}

func list(w io.Writer, title string, ps []Problem) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for i, p := range ps {
		if i == maxListed {
			fmt.Fprintf(w, "  … and %d more\n", len(ps)-maxListed)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", p.URL, p.Reason)
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
