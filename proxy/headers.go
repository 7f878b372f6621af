package proxy

import (
	"mime"
	"net/http"
	"strings"

	"github.com/icpedge/icpedge/rewrite"
)

// rewriteHeaders keeps visitors on the edge: Location and Content-Location
// URLs on the origin's hosts move to the edge, and a Set-Cookie Domain
// naming an origin host names the edge host instead.
func (h *Handler) rewriteHeaders(hdr http.Header, edge rewrite.Edge) {
	for _, name := range []string{"Location", "Content-Location"} {
		if v := hdr.Get(name); v != "" {
			hdr.Set(name, h.rw.URL(v, edge))
		}
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

// weakenETag marks a strong validator weak: a rewritten or re-encoded body
// is no longer byte-identical to the origin's (RFC 9110 §8.8.3).
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

func mediaType(ctype string) string {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(ctype, ";")[0]))
	}
	return mt
}

func isHTML(ctype string) bool { return mediaType(ctype) == "text/html" }

func isCSS(ctype string) bool { return mediaType(ctype) == "text/css" }
