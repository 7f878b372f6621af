package proxy

import (
	_ "embed"
	"net/http"
	"strconv"
)

// policeBadge is the public-security filing badge, served by the edge so
// pages don't hot-link it from a government host.
//
//go:embed assets/police.png
var policeBadge []byte

// serveAsset answers the edge's own paths under assetPrefix.
func (x *exchange) serveAsset() {
	w, r := x.w, x.r
	if r.URL.Path != badgePath {
		x.plainError(http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		x.plainError(http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=604800")
	w.Header().Set("Content-Length", strconv.Itoa(len(policeBadge)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(policeBadge)
	}
}
