package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/icpedge/icpedge/proxy/cache"
)

// Purge says what to remove from the cache.
type Purge struct {
	// URL removes every stored variant of one URL, whatever scheme or port
	// it was fetched with. A bare path ("/a?b=1") matches on every host;
	// an absolute URL matches on its host only.
	URL string
	// Prefix removes every URL whose path starts with it.
	Prefix string
	// All removes everything.
	All bool
}

// matcher returns the key predicate for p.
func (p Purge) matcher() (func(key string) bool, error) {
	switch {
	case p.All:
		return func(string) bool { return true }, nil
	case p.Prefix != "":
		// Keys hold canonical paths (canonicalPath); so must the prefix.
		pathPart, query, hasQuery := strings.Cut(p.Prefix, "?")
		u, err := url.Parse("http://prefix" + pathPart)
		if err != nil || !strings.HasPrefix(pathPart, "/") {
			return nil, fmt.Errorf("purge prefix %q: expected a path beginning with /", p.Prefix)
		}
		prefix, err := canonicalPath(u.EscapedPath())
		if err != nil {
			return nil, fmt.Errorf("purge prefix %q: %w", p.Prefix, err)
		}
		if hasQuery {
			prefix += "?" + query
		}
		return func(key string) bool {
			_, pq := keyParts(key)
			return strings.HasPrefix(pq, prefix)
		}, nil
	case p.URL != "":
		u, err := url.Parse(p.URL)
		if err != nil {
			return nil, err
		}
		host := canonicalHost(u.Host)
		pq := u.EscapedPath()
		if pq == "" {
			pq = "/"
		}
		if pq, err = canonicalPath(pq); err != nil {
			return nil, fmt.Errorf("purge url %q: %w", p.URL, err)
		}
		if u.RawQuery != "" {
			pq += "?" + u.RawQuery
		}
		return func(key string) bool {
			kh, kpq := keyParts(key)
			return kpq == pq && (host == "" || kh == host)
		}, nil
	}
	return nil, errNothingToPurge
}

// keyParts splits a cache key into its host (without port) and its path
// and query; a variant's secondary key is dropped.
func keyParts(key string) (host, pathQuery string) {
	key, _, _ = strings.Cut(key, variantSep)
	_, rest, ok := strings.Cut(key, "://")
	if !ok {
		return "", key
	}
	hostport, pq, _ := strings.Cut(rest, "/")
	return canonicalHost(hostport), "/" + pq
}

var errNothingToPurge = errors.New("nothing to purge: give a URL, a prefix or all")

// Purge removes entries from the cache and returns how many. A URL on
// one of the origin's own hosts (rewrite hosts), as the origin's software
// names its pages when it asks for a purge, is purged on every edge host.
func (h *Handler) Purge(p Purge) (int, error) {
	if h.opts.Cache == nil {
		return 0, nil
	}
	if u, err := url.Parse(p.URL); err == nil && u.Host != "" && h.rewriteHosts[canonicalHost(u.Host)] {
		p.URL = (&url.URL{RawPath: u.RawPath, Path: u.Path, RawQuery: u.RawQuery}).String()
	}
	match, err := p.matcher()
	if err != nil {
		return 0, err
	}
	return h.opts.Cache.DeleteFunc(match)
}

// invalidateKey drops every stored variant of one primary key.
func (h *Handler) invalidateKey(key string) {
	if h.opts.Cache == nil {
		return
	}
	_, _ = h.opts.Cache.DeleteFunc(func(k string) bool {
		return k == key || strings.HasPrefix(k, key+variantSep)
	})
}

// invalidate applies RFC 9111 §4.4 after an unsafe request answered with
// status and hdr: the target URI, and Location and Content-Location on
// the same host, are dropped for every scheme and port.
func (q *request) invalidate(status int, hdr http.Header) {
	h, r, edge := q.h, q.r, q.edge
	if h.opts.Cache == nil {
		return
	}
	target := *r.URL
	target.Scheme, target.Host = edge.Scheme, edge.Host
	for _, u := range cache.Invalidations(r.Method, &target, status, hdr) {
		match, err := Purge{URL: u.String()}.matcher()
		if err != nil {
			continue
		}
		n, err := h.opts.Cache.DeleteFunc(match)
		if err != nil {
			h.log.Error("cache invalidation failed", "url", u.String(), "err", err)
		} else if n > 0 {
			h.log.Debug("cache invalidated", "url", u.String(), "entries", n)
		}
	}
}
