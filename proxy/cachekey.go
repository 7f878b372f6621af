package proxy

import (
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
	if bareHost(hostport) {
		return hostport
	}
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
