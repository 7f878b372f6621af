package cache

import (
	"net/http"
	"net/url"
	"strings"
)

// safeMethod reports whether a method is safe (RFC 9110 §9.2.1).
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// Invalidations returns the URIs whose stored responses must be
// invalidated after an unsafe request to target was answered with status
// and header h (RFC 9111 §4.4): the target URI, plus the URIs in Location
// and Content-Location (resolved against target) when their host is the
// target's host, which keeps an origin from purging other sites' entries.
// Only non-error responses (2xx, 3xx) invalidate. Safe methods, and
// errors, give nil. Fragments are dropped; duplicates are removed.
func Invalidations(method string, target *url.URL, status int, h http.Header) []*url.URL {
	if safeMethod(method) || status < 200 || status >= 400 || target == nil {
		return nil
	}
	var out []*url.URL
	add := func(u *url.URL) {
		u.Fragment, u.RawFragment = "", ""
		for _, o := range out {
			if o.String() == u.String() {
				return
			}
		}
		out = append(out, u)
	}
	t := *target
	add(&t)
	for _, name := range []string{"Location", "Content-Location"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		ref, err := url.Parse(v)
		if err != nil {
			continue
		}
		u := target.ResolveReference(ref)
		if !strings.EqualFold(u.Hostname(), target.Hostname()) {
			continue
		}
		add(u)
	}
	return out
}
