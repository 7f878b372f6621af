package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
)

// hopHeaders are the connection-specific fields that a proxy must not
// forward (RFC 9110 §7.6.1), plus the ones RFC 7230 and common practice add
// (Proxy-Authenticate, Proxy-Authorization, Trailer are hop-by-hop too).
// Upgrade is handled separately: it passes through for WebSocket.
var hopHeaders = []string{
	"Connection",
	"Proxy-Connection", // non-standard, sent by old clients
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// removeHopHeaders deletes the hop-by-hop fields from h, including every
// field that Connection names (RFC 9110 §7.6.1).
func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// upgradeType returns the protocol a request or response asks to switch
// to, lower-cased, or "" (RFC 9110 §7.8).
func upgradeType(h http.Header) string {
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(textproto.TrimString(tok), "upgrade") {
				return strings.ToLower(h.Get("Upgrade"))
			}
		}
	}
	return ""
}
