package warm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// errNoSitemap is a sitemap answered 404 or 410.
var errNoSitemap = errors.New("no sitemap there")

// maxRedirects is how many redirects a sitemap request follows.
const maxRedirects = 5

// collect finds the sitemaps and returns the distinct pages they list,
// mapped onto the edge, in the order listed.
func (w *warmer) collect(ctx context.Context, rep *Report) ([]*url.URL, error) {
	roots, pre, err := w.discover(ctx)
	if err != nil {
		return nil, err
	}
	type item struct {
		loc   string
		chain []string // the indexes above it
	}
	var queue []item
	for _, r := range roots {
		queue = append(queue, item{loc: r})
	}
	seenMap := map[string]bool{}
	seenPage := map[string]bool{}
	var pages []*url.URL
	read, full := 0, false
	for len(queue) > 0 && ctx.Err() == nil {
		it := queue[0]
		queue = queue[1:]
		if seenMap[it.loc] {
			continue // an index listing itself or a sibling twice
		}
		seenMap[it.loc] = true
		if read >= w.o.Limits.MaxSitemaps {
			rep.Sitemaps = append(rep.Sitemaps, Problem{it.loc, fmt.Sprintf("not read: more than %d sitemaps", w.o.Limits.MaxSitemaps)})
			continue
		}
		read++
		sm, err := pre, error(nil)
		if sm == nil {
			sm, err = w.readSitemap(ctx, it.loc)
		}
		pre = nil
		if err != nil {
			rep.Sitemaps = append(rep.Sitemaps, Problem{it.loc, err.Error()})
			fmt.Fprintf(w.o.Progress, "sitemap %s: %v\n", it.loc, err)
			continue
		}
		if sm.index {
			fmt.Fprintf(w.o.Progress, "sitemap %s: an index of %d sitemaps\n", it.loc, len(sm.locs))
			chain := append(append([]string(nil), it.chain...), it.loc)
			if len(chain) > w.o.Limits.MaxDepth {
				rep.Sitemaps = append(rep.Sitemaps, Problem{it.loc, fmt.Sprintf("sitemap indexes nested more than %d deep: %s", w.o.Limits.MaxDepth, strings.Join(chain, " → "))})
				continue
			}
			for _, l := range sm.locs {
				queue = append(queue, item{loc: l, chain: chain})
			}
			continue
		}
		n := 0
		for _, l := range sm.locs {
			u, ok := w.onEdge(l)
			if !ok {
				rep.Skipped = append(rep.Skipped, l)
				continue
			}
			if seenPage[u.String()] {
				continue
			}
			if len(pages) >= w.o.Limits.MaxPages {
				if !full {
					rep.Sitemaps = append(rep.Sitemaps, Problem{it.loc, fmt.Sprintf("pages past the first %d not warmed", w.o.Limits.MaxPages)})
					full = true
				}
				break
			}
			seenPage[u.String()] = true
			pages = append(pages, u)
			n++
		}
		fmt.Fprintf(w.o.Progress, "sitemap %s: %d pages\n", it.loc, n)
	}
	return pages, ctx.Err()
}

// discover returns the sitemaps to start from: Options.Sitemap, else the
// edge's /sitemap.xml, else those the edge's /robots.txt names, else the
// origin's /sitemap.xml read directly. pre is the first of them when
// finding it meant reading it.
func (w *warmer) discover(ctx context.Context) (roots []string, pre *sitemap, err error) {
	if w.o.Sitemap != "" {
		u, err := url.Parse(w.o.Sitemap)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, fmt.Errorf("sitemap %q: expected an absolute http or https URL", w.o.Sitemap)
		}
		w.explicit = hostOf(u)
		return []string{w.o.Sitemap}, nil, nil
	}
	home := w.o.Scheme + "://" + strings.ToLower(w.o.Hosts[0])
	edgeMap := home + "/sitemap.xml"
	sm, err := w.getSitemap(ctx, edgeMap, false)
	switch {
	case err == nil:
		return []string{edgeMap}, sm, nil
	case !errors.Is(err, errNoSitemap):
		return nil, nil, fmt.Errorf("reading %s through the edge: %w", edgeMap, err)
	}
	tried := []string{edgeMap + " (404)"}
	listed, err := w.robotsSitemaps(ctx, home+"/robots.txt")
	if err != nil {
		return nil, nil, err
	}
	if len(listed) > 0 {
		return listed, nil, nil
	}
	tried = append(tried, home+"/robots.txt (no Sitemap line)")
	if w.o.Origin != nil {
		o := *w.o.Origin
		o.Path = strings.TrimSuffix(o.Path, "/") + "/sitemap.xml"
		o.RawPath, o.RawQuery, o.Fragment = "", "", ""
		sm, err := w.getSitemap(ctx, o.String(), true)
		switch {
		case err == nil:
			return []string{"origin:" + o.String()}, sm, nil
		case !errors.Is(err, errNoSitemap):
			return nil, nil, fmt.Errorf("reading the origin's %s: %w", o.String(), err)
		}
		tried = append(tried, o.String()+" on the origin (404)")
	}
	return nil, nil, fmt.Errorf("no sitemap found: tried %s; give its URL with --sitemap", strings.Join(tried, ", "))
}

// readSitemap reads and parses the sitemap at loc. A loc starting with
// "origin:" is read from the origin directly.
func (w *warmer) readSitemap(ctx context.Context, loc string) (*sitemap, error) {
	fromOrigin := false
	if rest, ok := strings.CutPrefix(loc, "origin:"); ok {
		loc, fromOrigin = rest, true
	}
	return w.getSitemap(ctx, loc, fromOrigin)
}

// getSitemap fetches and parses the sitemap at loc, following up to
// maxRedirects redirects, each mapped onto the edge again.
func (w *warmer) getSitemap(ctx context.Context, loc string, fromOrigin bool) (*sitemap, error) {
	cur := loc
	for hop := 0; ; hop++ {
		c, target, host, err := w.route(cur, fromOrigin && hop == 0)
		if err != nil {
			return nil, err
		}
		a, err := w.do(ctx, c, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
			if err != nil {
				return nil, err
			}
			if host != "" {
				req.Host = host
			}
			req.Header.Set("User-Agent", "icpedge-warm")
			return req, nil
		})
		if err != nil {
			return nil, err
		}
		resp := a.resp
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
			resp.Body.Close()
			if hop == maxRedirects {
				return nil, fmt.Errorf("more than %d redirects", maxRedirects)
			}
			next, err := target.Parse(resp.Header.Get("Location"))
			if err != nil {
				return nil, fmt.Errorf("redirect to %q: %w", resp.Header.Get("Location"), err)
			}
			cur = next.String()
			continue
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			resp.Body.Close()
			return nil, errNoSitemap
		case resp.StatusCode != http.StatusOK:
			resp.Body.Close()
			return nil, fmt.Errorf("answered %s", resp.Status)
		}
		var body io.Reader = resp.Body
		sm, err := parseSitemap(body, w.o.Limits)
		resp.Body.Close()
		return sm, err
	}
}

// route picks how to fetch a sitemap: from the origin directly, through
// the edge when it is on the site's hosts, directly when it is on the
// host of the sitemap the operator named.
func (w *warmer) route(loc string, fromOrigin bool) (c *http.Client, target *url.URL, host string, err error) {
	if fromOrigin {
		u, err := url.Parse(loc)
		if err != nil {
			return nil, nil, "", err
		}
		return w.origin, u, w.o.OriginHost, nil
	}
	if u, ok := w.onEdge(loc); ok {
		return w.edge, u, "", nil
	}
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, "", fmt.Errorf("not an absolute http or https URL")
	}
	if w.explicit != "" && hostOf(u) == w.explicit {
		return w.direct, u, "", nil
	}
	return nil, nil, "", fmt.Errorf("on %s, which is neither one of the edge's hosts nor of rewrite_hosts: not read", u.Host)
}

// maxRobots is the most of a robots.txt read; RFC 9309 §2.5 lets
// crawlers stop at 500 KiB.
const maxRobots = 500 << 10

// robotsSitemaps returns the Sitemap lines of the robots.txt at loc,
// fetched through the edge.
func (w *warmer) robotsSitemaps(ctx context.Context, loc string) ([]string, error) {
	u, _ := w.onEdge(loc)
	a, err := w.do(ctx, w.edge, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err == nil {
			req.Header.Set("User-Agent", "icpedge-warm")
		}
		return req, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s through the edge: %w", loc, err)
	}
	defer a.resp.Body.Close()
	if a.resp.StatusCode != http.StatusOK {
		return nil, nil
	}
	var out []string
	sc := bufio.NewScanner(io.LimitReader(a.resp.Body, maxRobots))
	sc.Buffer(make([]byte, 4096), maxLoc+64)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "sitemap") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	return out, nil
}
