package proxy

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/icpedge/icpedge/rewrite"
)

// variantSep separates a primary cache key from a Vary secondary key.
const variantSep = "\x00"

// cacheKey is the primary cache key: the scheme and canonical host the
// visitor used (they are baked into the rewritten document), then the
// path and query. No other request field is part of it, so no unkeyed
// header can change what a later visitor gets.
func cacheKey(edge rewrite.Edge, u *url.URL) string {
	pq := u.EscapedPath()
	if pq == "" {
		pq = "/"
	}
	if u.RawQuery != "" {
		pq += "?" + u.RawQuery
	}
	return edge.Scheme + "://" + edge.Host + pq
}

// edgeHost is the canonical form of a request's host for scheme: lower
// case, no trailing dot, no default port.
func edgeHost(hostport, scheme string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return host
	}
	return host + ":" + port
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
