package proxy

import (
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
