package proxy

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/icpedge/icpedge/rewrite"
)

// edgeOf returns the scheme and host the visitor used to reach us.
func (h *Handler) edgeOf(r *http.Request) rewrite.Edge {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if h.trustedPeer(r) {
		if p := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); p == "https" || p == "http" {
			scheme = p
		}
	}
	return rewrite.Edge{Scheme: scheme, Host: edgeHost(r.Host, scheme)}
}

func (h *Handler) trustedPeer(r *http.Request) bool {
	if len(h.opts.TrustedProxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	return h.trusted(ap.Addr())
}

// trusted reports whether addr is in TrustedProxies.
func (h *Handler) trusted(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range h.opts.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientOf finds the client's address in a trusted proxy's
// X-Forwarded-For chain: the last address that is not one of
// TrustedProxies (as nginx's real_ip_recursive does), else the first.
func (h *Handler) clientOf(forwardedFor []string, peer string) string {
	var chain []string
	for _, v := range forwardedFor {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				chain = append(chain, a)
			}
		}
	}
	known := peer
	for i := len(chain) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(chain[i])
		if err != nil {
			return known // not an address: the nearest one known
		}
		known = addr.Unmap().String()
		if !h.trusted(addr) {
			break
		}
	}
	return known
}
