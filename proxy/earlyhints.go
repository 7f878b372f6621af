package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

const (
	// markerHints holds, on a stored page, the Link field values of the
	// 103 Early Hints sent while the page is fetched again. Never sent.
	markerHints = "Icpedge-Early-Hints"
	// maxEarlyHints and maxEarlyHintsBytes bound what one 103 names.
	maxEarlyHints      = 16
	maxEarlyHintsBytes = 4 << 10
	// defaultEarlyHintsMaxAge is Options.EarlyHintsMaxAge's default.
	defaultEarlyHintsMaxAge = 24 * time.Hour
)

// preloadLinks turns a page's hints into Link field values (RFC 8288)
// that ask for a preload (RFC 8297's example, HTML's rel=preload): only
// those on the edge's own scheme and host, resolved against the page's
// URL and its <base>, written path-absolute so that no other host can be
// named, and only ones that need no escaping in a Link field.
func preloadLinks(edge rewrite.Edge, page *url.URL, base string, hints []rewrite.Hint) []string {
	if len(hints) == 0 {
		return nil
	}
	doc := &url.URL{Scheme: edge.Scheme, Host: edge.Host, Path: page.Path, RawPath: page.RawPath, RawQuery: page.RawQuery}
	if base != "" {
		// HTML: an unparsable base leaves the document's URL in place.
		if b, err := doc.Parse(trimURL(base)); err == nil {
			doc = b
		}
	}
	var links []string
	size := 0
	for _, hint := range hints {
		u, err := doc.Parse(trimURL(hint.URL))
		if err != nil || u.Scheme != edge.Scheme || u.User != nil || edgeHost(u.Host, u.Scheme) != edge.Host {
			continue
		}
		ref := u.EscapedPath()
		if ref == "" {
			ref = "/"
		}
		if u.RawQuery != "" {
			ref += "?" + u.RawQuery
		}
		if !linkSafe(ref) {
			continue
		}
		v := "<" + ref + ">; rel=preload; as=" + hint.As
		switch hint.CrossOrigin {
		case "anonymous":
			v += "; crossorigin"
		case "use-credentials":
			v += "; crossorigin=use-credentials"
		}
		if contains(links, v) {
			continue
		}
		if len(links) == maxEarlyHints || size+len(v) > maxEarlyHintsBytes {
			break
		}
		links = append(links, v)
		size += len(v)
	}
	return links
}

// trimURL strips what URL parsing in browsers strips: leading and
// trailing C0 controls and spaces, and tabs and newlines anywhere.
func trimURL(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	if strings.ContainsAny(s, "\t\n\r") {
		s = urlWhitespace.Replace(s)
	}
	return s
}

// urlWhitespace removes what trimURL removes inside a URL.
var urlWhitespace = strings.NewReplacer("\t", "", "\n", "", "\r", "")

// linkSafe reports whether a URI reference can go between < and > in a
// Link field as it is: visible ASCII, and none of the characters that
// would end or confuse it.
func linkSafe(ref string) bool {
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`<>"\^`+"`{|}", c) >= 0 {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// earlyHints returns the Link values remembered with a stored page, when
// they may be sent: the page is no older than Options.EarlyHintsMaxAge
// (age is its current age, RFC 9111 §4.2.3), the request is a GET of the
// whole page, and the visitor speaks HTTP/1.1 or later (RFC 9110 §15.2).
func (x *exchange) earlyHints(stored *cache.Entry, age time.Duration) []string {
	max := x.h.opts.EarlyHintsMaxAge
	if stored == nil || max <= 0 || age > max || x.r.Method != http.MethodGet || x.r.Header.Get("Range") != "" || !x.speaksInterim() {
		return nil
	}
	return stored.Header[markerHints]
}

// sendEarlyHints sends 103 Early Hints (RFC 8297) with links, if any, at
// once: while the page is fetched from the origin, the browser can fetch
// its style sheets, scripts and fonts from the edge.
func (x *exchange) sendEarlyHints(links []string) {
	if len(links) == 0 {
		return
	}
	x.writeInterim(interim{code: http.StatusEarlyHints, hdr: http.Header{"Link": links}})
}
