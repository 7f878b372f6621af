package proxy

import (
	"net/http"
	"strings"

	"github.com/icpedge/icpedge/rewrite"
)

// rewriteHeaders keeps visitors on the edge: URLs on the origin's hosts
// in Location and Content-Location, in the targets of Link (RFC 8288,
// such as WordPress's REST API root and shortlink) and in Refresh move to
// the edge, and a Set-Cookie Domain naming an origin host names the edge
// host instead.
func (h *Handler) rewriteHeaders(hdr http.Header, edge rewrite.Edge) {
	for _, name := range []string{"Location", "Content-Location"} {
		if v := hdr.Get(name); v != "" {
			hdr.Set(name, h.rw.URL(v, edge))
		}
	}
	links := hdr["Link"]
	for i, v := range links {
		links[i] = h.rw.Link(v, edge)
	}
	refresh := hdr["Refresh"]
	for i, v := range refresh {
		refresh[i] = h.rw.Refresh(v, edge)
	}
	cookies := hdr.Values("Set-Cookie")
	for i, c := range cookies {
		cookies[i] = h.rewriteCookieDomain(c, canonicalHost(edge.Host))
	}
}

// rewriteCookieDomain replaces a Domain attribute that names one of the
// origin's hosts (RFC 6265 §5.2.3: a leading dot is ignored).
func (h *Handler) rewriteCookieDomain(cookie, edgeHost string) string {
	parts := strings.Split(cookie, ";")
	changed := false
	for i := 1; i < len(parts); i++ {
		name, value, ok := strings.Cut(parts[i], "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "domain") {
			continue
		}
		domain := strings.TrimPrefix(strings.TrimSpace(value), ".")
		if h.rewriteHosts[canonicalHost(domain)] {
			lead := name[:len(name)-len(strings.TrimLeft(name, " \t"))]
			parts[i] = lead + "Domain=" + edgeHost
			changed = true
		}
	}
	if !changed {
		return cookie
	}
	return strings.Join(parts, ";")
}

// removeTargeted removes the targeted cache fields the edge obeys
// (RFC 9213): they are addressed to it, as its client's CDN, and the edge
// has acted on them; caches after it follow Cache-Control.
func (h *Handler) removeTargeted(hdr http.Header) {
	for _, k := range h.targeted {
		delete(hdr, k)
	}
}

// isTargeted reports whether the canonical field name k is one of the
// targeted fields the edge removes.
func (h *Handler) isTargeted(k string) bool {
	for _, t := range h.targeted {
		if k == t {
			return true
		}
	}
	return false
}

// weakenETag marks a strong validator weak: a rewritten or re-encoded body
// is no longer byte-identical to the origin's (RFC 9110 §8.8.3).
// field returns the first value of the header field key, which must be
// in canonical form ("Etag", not "ETag"): Header.Get without
// canonicalising the key on every request.
func field(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func weakenETag(h http.Header) {
	// "Etag" is the field's canonical key; indexing by it skips
	// canonicalising "ETag" on every hit.
	if v := h["Etag"]; len(v) > 0 && v[0] != "" && !strings.HasPrefix(v[0], "W/") {
		h["Etag"] = []string{"W/" + v[0]}
	}
}

func addVary(h http.Header, name string) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, name) {
				return
			}
		}
	}
	h.Add("Vary", name)
}

func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append(dst[k][:0:0], vv...)
	}
}

// mediaType is ctype's media type, lower case, without parameters.
func mediaType(ctype string) string {
	// What mime.ParseMediaType returns for a valid type, and what a
	// browser reads from an invalid one, without the map of parameters
	// ParseMediaType makes: this runs several times per response.
	mt, _, _ := strings.Cut(ctype, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func isHTML(ctype string) bool { return mediaType(ctype) == "text/html" }

func isCSS(ctype string) bool { return mediaType(ctype) == "text/css" }

// digestFields are the end-to-end fields that describe the exact bytes
// of a response's content: Content-MD5 (RFC 1864, over the content-coded
// body), Digest (RFC 3230, over the instance with its coding),
// Content-Digest (RFC 9530 §2, over the content as sent) and, last,
// Repr-Digest (RFC 9530 §3, over the whole selected representation, its
// coding included). They are stored and served unchanged while the edge
// sends the origin's bytes, and dropped wherever it sends others: a body
// it rewrote, decoded or encoded itself. RFC 9110 §8.8.3 draws the same
// line for strong validators.
var digestFields = []string{"Content-Md5", "Digest", "Content-Digest", "Repr-Digest"}

// dropDigests removes every digest of the origin's bytes from h: the body
// the visitor gets is not them.
func dropDigests(h http.Header) {
	for _, k := range digestFields {
		delete(h, k)
	}
}

// dropPartDigests removes the digests that a part of the body, or none,
// would contradict. Repr-Digest, of the whole representation, holds for a
// range of it (RFC 9530 §3) and stays.
func dropPartDigests(h http.Header) {
	for _, k := range digestFields[:3] {
		delete(h, k)
	}
}

// isJSON reports whether ctype is JSON: application/json, text/json, a
// +json type (RFC 6839 §3.1: ld+json, manifest+json...), or oEmbed's
// application/json+oembed.
func isJSON(ctype string) bool {
	mt := mediaType(ctype)
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json") || strings.HasPrefix(mt, "application/json+")
}

// isXML reports whether ctype is XML: application/xml, text/xml, or a
// +xml type (a feed, application/rss+xml or application/atom+xml; a
// sitemap is served as application/xml or text/xml). SVG and XHTML are
// +xml types too: their links move as a feed's do, and XHTML, which no
// origin in practice sends as such, gets no notice, as before.
func isXML(ctype string) bool {
	mt := mediaType(ctype)
	return mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml")
}
