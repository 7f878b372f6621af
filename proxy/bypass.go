package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// DefaultBypassCookies returns the cookie names, as globs, that mark a
// request as a logged-in visitor's when Options.BypassCookies is nil: the
// session cookies of the common site software. Analytics and consent
// cookies (_ga, _gid, _fbp, cookie banners) are deliberately absent: they
// ride on nearly every request, and bypassing them would leave nothing to
// cache. A fresh slice on each call.
func DefaultBypassCookies() []string {
	return []string{
		// WordPress: logged in, its secure twin, password-protected
		// posts, commenters (the comment form is filled in with their
		// name and e-mail address); WooCommerce and Easy Digital
		// Downloads carts and sessions.
		"wordpress_logged_in_*", "wordpress_sec_*", "wp-postpass_*", "comment_author_*",
		"woocommerce_*", "wp_woocommerce_session_*", "edd_items_in_cart",
		// Drupal (SESS…, SSESS… over HTTPS).
		"SESS*", "SSESS*",
		// PHP, Java, ASP.NET, Laravel, CodeIgniter, Django, Rails,
		// Express.
		"PHPSESSID", "JSESSIONID", "ASP.NET_SessionId", "laravel_session", "ci_session",
		"sessionid", "_session_id", "connect.sid",
	}
}

// cookieMatcher reports whether a request carries one of a list of cookie
// names, given as globs. It runs on every hit of a visitor with cookies,
// so the globs are filed by their first byte: a cookie name is compared
// only with the few that can match it.
type cookieMatcher struct {
	byFirst [256][]string // globs that begin with that byte
	wild    []string      // globs that begin with "*" or "?"
	any     bool
}

func newCookieMatcher(globs []string) *cookieMatcher {
	m := &cookieMatcher{any: len(globs) > 0}
	for _, g := range globs {
		switch {
		case g == "":
		case g[0] == '*' || g[0] == '?':
			m.wild = append(m.wild, g)
		default:
			m.byFirst[g[0]] = append(m.byFirst[g[0]], g)
		}
	}
	return m
}

// match reports whether any cookie in the request's Cookie fields has a
// name that one of the globs matches. Names are case-sensitive (RFC 6265
// §4.1.1), as the software that sets them spells them. It does not
// allocate.
func (m *cookieMatcher) match(h http.Header) bool {
	if !m.any {
		return false
	}
	for _, line := range h["Cookie"] {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			name, _, _ := strings.Cut(pair, "=")
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			for _, glob := range m.byFirst[name[0]] {
				if globMatch(glob, name) {
					return true
				}
			}
			for _, glob := range m.wild {
				if globMatch(glob, name) {
					return true
				}
			}
		}
	}
	return false
}

// globMatch matches name against a glob in which "*" stands for any run
// of characters and "?" for one byte.
func globMatch(glob, name string) bool {
	// The classic wildcard walk: on a mismatch, let the last "*" swallow
	// one more byte and try again from there.
	g, n := 0, 0
	star, next := -1, 0
	for n < len(name) {
		switch {
		case g < len(glob) && glob[g] == '*':
			star, next = g, n
			g++
		case g < len(glob) && (glob[g] == '?' || glob[g] == name[n]):
			g++
			n++
		case star >= 0:
			next++
			g, n = star+1, next
		default:
			return false
		}
	}
	for g < len(glob) && glob[g] == '*' {
		g++
	}
	return g == len(glob)
}

// bypassPath reports whether a request path (canonical) matches one of
// Options.BypassPaths.
func (h *Handler) bypassPath(p string) bool {
	for _, glob := range h.opts.BypassPaths {
		if matchPath(glob, p) {
			return true
		}
	}
	return false
}

// bypassQuery reports whether a raw query holds one of
// Options.BypassQueries: a parameter of that name (with any value, or
// with the value given as name=value). Names and values are compared
// after percent-decoding, and "name[...]" counts as name, as PHP reads
// it.
func (h *Handler) bypassQuery(rawQuery string) bool {
	if len(h.opts.BypassQueries) == 0 || rawQuery == "" {
		return false
	}
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		name, value, hasValue := strings.Cut(pair, "=")
		name, value = queryUnescape(name), queryUnescape(value)
		if i := strings.IndexByte(name, '['); i > 0 {
			name = name[:i]
		}
		for _, want := range h.opts.BypassQueries {
			wname, wvalue, wantValue := strings.Cut(want, "=")
			if name == wname && (!wantValue || hasValue && value == wvalue) {
				return true
			}
		}
	}
	return false
}

// queryUnescape decodes a query component ("+" is a space), or returns it
// as it is when it is not valid percent-encoding.
func queryUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
