package edge

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/icpedge/icpedge/proxy/cache"
)

// routes is what the listeners serve: the sites by host.
type routes struct {
	sites  []*site // by name
	byHost map[string]*site
	// single, in single-file mode, gets every request whatever its
	// host: the proxy answers foreign hosts with 421 itself.
	single *site
}

func (rt *routes) pick(host string) *site {
	if rt == nil {
		return nil
	}
	if rt.single != nil {
		return rt.single
	}
	return rt.byHost[requestHost(host)]
}

func (rt *routes) byName(name string) *site {
	if rt == nil {
		return nil
	}
	for _, s := range rt.sites {
		if s.name == name {
			return s
		}
	}
	return nil
}

// uses reports whether any site of rt holds the resource.
func (rt *routes) usesStore(st *cache.Store) bool {
	return slices.ContainsFunc(rt.sites, func(s *site) bool { return s.store == st })
}
func (rt *routes) usesTLS(t *edgeTLS) bool {
	return slices.ContainsFunc(rt.sites, func(s *site) bool { return s.tls == t })
}
func (rt *routes) usesAccess(f *reopenFile) bool {
	return slices.ContainsFunc(rt.sites, func(s *site) bool { return s.access == f })
}

// handler serves a listener: each request goes to the current site for
// its host and is counted in, so a reload closes the old site only after
// its requests are done.
func (e *Edge) handler(https bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A site is retired only after routes without it are in place,
		// so a second look finds its successor; the bound is a guard.
		for range 8 {
			s := e.cur.Load().pick(r.Host)
			if s == nil {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusMisdirectedRequest)
				fmt.Fprintln(w, "this server does not serve that host")
				return
			}
			if !s.acquire() {
				continue
			}
			defer s.release()
			if https {
				s.httpsH.ServeHTTP(w, r)
			} else {
				s.httpH.ServeHTTP(w, r)
			}
			return
		}
		http.Error(w, "reloading; try again", http.StatusServiceUnavailable)
	})
}

func (rt *routes) add(s *site) {
	rt.sites = append(rt.sites, s)
	for _, h := range s.cfg.Hosts {
		rt.byHost[h] = s
	}
}
