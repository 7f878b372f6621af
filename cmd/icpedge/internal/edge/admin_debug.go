package edge

import (
	"net/http"
	"net/http/pprof"
)

// adminRoutes are the admin API's GET routes beyond proxy.Admin's own,
// all behind the token: the cluster's view, and Go's profiles under
// /debug/pprof/, so that an operator can see where a busy edge spends
// its CPU and memory (fetched with curl and the token, then read with
// go tool pprof).
func adminRoutes(cluster http.Handler) map[string]http.Handler {
	return map[string]http.Handler{
		"/cluster":             cluster,
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
	}
}
