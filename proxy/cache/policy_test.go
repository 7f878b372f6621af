package cache

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func req(method, target string, kv ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1])
	}
	return r
}

func TestMatch(t *testing.T) {
	p := Policy{Rules: []Rule{
		{Prefix: "/", TTL: time.Minute},
		{Prefix: "/static/", TTL: time.Hour},
		{Prefix: "/static/img/", TTL: 24 * time.Hour},
		{Prefix: "/stat", TTL: time.Second},
		{Prefix: "/", Type: "text/html", TTL: 5 * time.Minute},
		{Prefix: "/media/", Type: "image/*", TTL: 2 * time.Hour},
		{Prefix: "/media/", Type: "text/html", TTL: 3 * time.Hour},
	}}
	tests := []struct {
		path, ctype string
		want        time.Duration
		ok          bool
	}{
		{"/static/img/a.png", "image/png", 24 * time.Hour, true},
		{"/static/app.js", "text/javascript", time.Hour, true},
		{"/statistics", "", time.Second, true},
		{"/about", "application/json", time.Minute, true},
		// The typed rule wins over the untyped one with the same prefix.
		{"/about", "text/html; charset=utf-8", 5 * time.Minute, true},
		{"/about", "TEXT/HTML", 5 * time.Minute, true},
		// A longer prefix wins over a type.
		{"/static/a.html", "text/html", time.Hour, true},
		{"/media/a.webp", "image/webp", 2 * time.Hour, true},
		{"/media/", "text/html", 3 * time.Hour, true},
		{"/media/a.pdf", "application/pdf", time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.ctype, func(t *testing.T) {
			r, ok := p.Match(tt.path, tt.ctype)
			if r.TTL != tt.want || ok != tt.ok {
				t.Errorf("got %v, %v; want %v, %v", r.TTL, ok, tt.want, tt.ok)
			}
		})
	}
	if _, ok := (Policy{}).Match("/x", ""); ok {
		t.Errorf("got a match with no rules; want none")
	}
	html := Policy{Rules: []Rule{{Prefix: "/", Type: "text/html", TTL: time.Minute}}}
	if _, ok := html.Match("/feed/", "application/rss+xml"); ok {
		t.Errorf("got a text/html rule for a feed; want none")
	}
}

func TestStorable(t *testing.T) {
	forced := Policy{Rules: []Rule{{Prefix: "/static/", TTL: time.Hour}}}
	override := Policy{Rules: []Rule{{Prefix: "/static/", TTL: time.Hour, OverridePrivate: true}}}
	session := Policy{Rules: []Rule{{Prefix: "/", TTL: time.Hour}}, SessionCookie: func(h http.Header) bool {
		return strings.Contains(h.Get("Cookie"), "wordpress_logged_in_")
	}}
	tests := []struct {
		name   string
		p      Policy
		r      *http.Request
		status int
		h      http.Header
		want   string // "" means storable
	}{
		{"plain 200", Policy{}, req("GET", "/"), 200, hdr(), ""},
		{"max-age", Policy{}, req("GET", "/"), 200, hdr("Cache-Control", "max-age=60"), ""},
		{"head", Policy{}, req("HEAD", "/"), 200, hdr("Cache-Control", "max-age=60"), ReasonMethod},
		{"post", Policy{}, req("POST", "/"), 200, hdr("Cache-Control", "max-age=60"), ReasonMethod},
		{"206", Policy{}, req("GET", "/"), 206, hdr("Cache-Control", "max-age=60"), ReasonStatus},
		{"304", Policy{}, req("GET", "/"), 304, hdr("Cache-Control", "max-age=60"), ReasonStatus},
		// RFC 9111 §3: a status the cache does not know is stored when
		// explicitly fresh, and only then.
		{"unknown 299 with max-age", Policy{}, req("GET", "/"), 299, hdr("Cache-Control", "max-age=60"), ""},
		{"unknown 499 with s-maxage", Policy{}, req("GET", "/"), 499, hdr("Cache-Control", "s-maxage=60"), ""},
		{"unknown 599 with expires", Policy{}, req("GET", "/"), 599, hdr("Expires", "Thu, 01 Jan 2099 00:00:00 GMT"), ""},
		{"401 with max-age", Policy{}, req("GET", "/"), 401, hdr("Cache-Control", "max-age=60"), ""},
		{"unknown without freshness", Policy{}, req("GET", "/"), 299, hdr(), ReasonStatus},
		{"unknown with last-modified only", Policy{}, req("GET", "/"), 299, hdr("Last-Modified", "Thu, 01 Jan 2015 00:00:00 GMT"), ReasonStatus},
		{"unknown public only", Policy{}, req("GET", "/"), 599, hdr("Cache-Control", "public"), ReasonStatus},
		{"unknown must-understand", Policy{}, req("GET", "/"), 299, hdr("Cache-Control", "max-age=60, must-understand, no-store"), ReasonStatus},
		{"unknown no-store", Policy{}, req("GET", "/"), 299, hdr("Cache-Control", "max-age=60, no-store"), ReasonNoStore},
		{"unknown private", Policy{}, req("GET", "/"), 499, hdr("Cache-Control", "max-age=60, private"), ReasonPrivate},
		{"unknown set-cookie", Policy{}, req("GET", "/"), 299, hdr("Cache-Control", "max-age=60", "Set-Cookie", "a=b"), ReasonSetCookie},
		{"unknown forced rule does not apply", forced, req("GET", "/static/x"), 299, hdr(), ReasonStatus},
		{"interim", Policy{}, req("GET", "/"), 103, hdr("Cache-Control", "max-age=60"), ReasonStatus},
		{"beyond 599", Policy{}, req("GET", "/"), 600, hdr("Cache-Control", "max-age=60"), ReasonStatus},
		{"no-store", Policy{}, req("GET", "/"), 200, hdr("Cache-Control", "no-store, max-age=60"), ReasonNoStore},
		{"must-understand overrides no-store", Policy{}, req("GET", "/"), 200, hdr("Cache-Control", "no-store, must-understand, max-age=60"), ""},
		{"request no-store", Policy{}, req("GET", "/", "Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=60"), ReasonRequestNoStore},
		{"private", Policy{}, req("GET", "/"), 200, hdr("Cache-Control", "private, max-age=60"), ReasonPrivate},
		{"private field list", Policy{}, req("GET", "/"), 200, hdr("Cache-Control", `private="X-User", max-age=60`), ReasonPrivate},
		{"no-cache is storable", Policy{}, req("GET", "/"), 200, hdr("Cache-Control", "no-cache"), ""},
		{"set-cookie", Policy{}, req("GET", "/"), 200, hdr("Cache-Control", "public, max-age=60", "Set-Cookie", "a=b"), ReasonSetCookie},
		{"authorization", Policy{}, req("GET", "/", "Authorization", "Basic x"), 200, hdr("Cache-Control", "max-age=60"), ReasonAuthorization},
		{"authorization public", Policy{}, req("GET", "/", "Authorization", "Basic x"), 200, hdr("Cache-Control", "public"), ""},
		{"authorization s-maxage", Policy{}, req("GET", "/", "Authorization", "Basic x"), 200, hdr("Cache-Control", "s-maxage=5"), ""},
		{"authorization must-revalidate", Policy{}, req("GET", "/", "Authorization", "Basic x"), 200, hdr("Cache-Control", "must-revalidate, max-age=5"), ""},
		// A request with Cookie: only what the origin explicitly shares.
		{"cookie, no cache-control", Policy{}, req("GET", "/account", "Cookie", "sess=a"), 200, hdr(), ReasonCookie},
		{"cookie, heuristic", Policy{}, req("GET", "/account", "Cookie", "sess=a"), 200, hdr("Last-Modified", httpDate(t0.Add(-time.Hour)), "Date", httpDate(t0)), ReasonCookie},
		{"cookie, no-cache", Policy{}, req("GET", "/account", "Cookie", "sess=a"), 200, hdr("Cache-Control", "no-cache"), ReasonCookie},
		{"cookie, max-age=0", Policy{}, req("GET", "/account", "Cookie", "sess=a"), 200, hdr("Cache-Control", "max-age=0"), ReasonCookie},
		{"cookie, max-age=0 beats Expires", Policy{}, req("GET", "/", "Cookie", "sess=a"), 200, hdr("Cache-Control", "max-age=0", "Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour))), ReasonCookie},
		{"cookie, must-revalidate", Policy{}, req("GET", "/", "Cookie", "sess=a"), 200, hdr("Cache-Control", "must-revalidate"), ReasonCookie},
		{"cookie, past Expires", Policy{}, req("GET", "/", "Cookie", "sess=a"), 200, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(-time.Hour))), ReasonCookie},
		{"cookie, Expires 0", Policy{}, req("GET", "/", "Cookie", "sess=a"), 200, hdr("Date", httpDate(t0), "Expires", "0"), ReasonCookie},
		{"cookie, Expires without Date", Policy{}, req("GET", "/", "Cookie", "sess=a"), 200, hdr("Expires", httpDate(t0.Add(time.Hour))), ReasonCookie},
		{"cookie, Expires with a one-digit hour", Policy{}, req("GET", "/", "Cookie", "sess=a"), 200, hdr("Date", httpDate(t0), "Expires", "Mon, 02 Mar 2026 9:00:00 GMT"), ReasonCookie},
		{"cookie, Expires lines that disagree", Policy{}, req("GET", "/", "Cookie", "sess=a"), 200, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour)), "Expires", httpDate(t0.Add(2*time.Hour))), ReasonCookie},
		{"cookie, conflicting max-age", Policy{}, req("GET", "/", "Cookie", "sess=a"), 200, hdr("Cache-Control", "max-age=60, max-age=3600"), ReasonCookie},
		{"cookie, max-age", Policy{}, req("GET", "/", "Cookie", "_ga=1"), 200, hdr("Cache-Control", "max-age=60"), ""},
		{"cookie, future Expires", Policy{}, req("GET", "/", "Cookie", "_ga=1"), 200, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour))), ""},
		{"cookie, public", Policy{}, req("GET", "/", "Cookie", "_ga=1"), 200, hdr("Cache-Control", "public"), ""},
		{"cookie, s-maxage", Policy{}, req("GET", "/", "Cookie", "_ga=1"), 200, hdr("Cache-Control", "s-maxage=30"), ""},
		{"cookie, private max-age", Policy{}, req("GET", "/", "Cookie", "_ga=1"), 200, hdr("Cache-Control", "private, max-age=60"), ReasonPrivate},
		{"cookie, set-cookie", Policy{}, req("GET", "/", "Cookie", "_ga=1"), 200, hdr("Cache-Control", "public, max-age=60", "Set-Cookie", "a=b"), ReasonSetCookie},
		{"302 without freshness", Policy{}, req("GET", "/"), 302, hdr(), ReasonNoFreshness},
		{"302 with max-age", Policy{}, req("GET", "/"), 302, hdr("Cache-Control", "max-age=5"), ""},
		{"302 with expires", Policy{}, req("GET", "/"), 302, hdr("Expires", "0"), ""},
		{"302 public", Policy{}, req("GET", "/"), 302, hdr("Cache-Control", "public"), ""},
		{"404 heuristic", Policy{}, req("GET", "/"), 404, hdr(), ""},
		{"500 without freshness", Policy{}, req("GET", "/"), 500, hdr(), ReasonNoFreshness},
		{"vary star", Policy{}, req("GET", "/"), 200, hdr("Vary", "Accept, *"), ReasonVaryStar},
		{"forced overrides no-cache", forced, req("GET", "/static/a.js"), 200, hdr("Cache-Control", "no-cache, must-revalidate, max-age=0", "Expires", "Thu, 19 Nov 1981 08:52:00 GMT"), ""},
		{"forced overrides absent freshness", forced, req("GET", "/static/a.js"), 200, hdr(), ""},
		{"no-store wins over a rule", forced, req("GET", "/static/a.js"), 200, hdr("Cache-Control", "no-store, no-cache, must-revalidate", "Expires", "Thu, 19 Nov 1981 08:52:00 GMT"), ReasonNoStore},
		{"private wins over a rule", forced, req("GET", "/static/a.js"), 200, hdr("Cache-Control", "private"), ReasonPrivate},
		{"override: private overrides no-store", override, req("GET", "/static/a.js"), 200, hdr("Cache-Control", "no-store, no-cache, must-revalidate", "Expires", "Thu, 19 Nov 1981 08:52:00 GMT"), ""},
		{"override: private overrides private", override, req("GET", "/static/a.js"), 200, hdr("Cache-Control", "private"), ""},
		{"forced keeps set-cookie out", forced, req("GET", "/static/a.js"), 200, hdr("Set-Cookie", "s=1"), ReasonSetCookie},
		{"override keeps set-cookie out", override, req("GET", "/static/a.js"), 200, hdr("Set-Cookie", "s=1"), ReasonSetCookie},
		// A rule never applies to a request with Authorization: RFC 9111
		// §3.5 decides, which stores only what the origin says is shared.
		{"forced keeps authorization out", forced, req("GET", "/static/a.js", "Authorization", "Bearer x"), 200, hdr("Cache-Control", "no-cache"), ReasonAuthorization},
		{"override keeps authorization out", override, req("GET", "/static/a.js", "Authorization", "Bearer x"), 200, hdr(), ReasonAuthorization},
		{"authorization, public", forced, req("GET", "/static/a.js", "Authorization", "Bearer x"), 200, hdr("Cache-Control", "public"), ""},
		{"override keeps cookie+private out", override, req("GET", "/static/a.js", "Cookie", "wp=1"), 200, hdr("Cache-Control", "private"), ReasonCookiePrivate},
		{"override keeps cookie+no-store out", override, req("GET", "/static/a.js", "Cookie", "wp=1"), 200, hdr("Cache-Control", "no-store"), ReasonCookiePrivate},
		{"forced keeps cookie+private out", forced, req("GET", "/static/a.js", "Cookie", "wp=1"), 200, hdr("Cache-Control", "private"), ReasonPrivate},
		{"forced with cookie, plain response", forced, req("GET", "/static/a.js", "Cookie", "ga=1"), 200, hdr("Cache-Control", "no-cache"), ""},
		// A session cookie: the rule does not apply, and the cookie rule
		// keeps a page without explicit freshness out.
		{"forced keeps session cookie out", session, req("GET", "/", "Cookie", "_ga=1; wordpress_logged_in_abc=admin"), 200, hdr("Cache-Control", "no-cache, must-revalidate, max-age=0"), ReasonCookie},
		{"forced with analytics cookie", session, req("GET", "/", "Cookie", "_ga=1"), 200, hdr(), ""},
		{"forced not for 404", forced, req("GET", "/static/gone.js"), 404, hdr("Cache-Control", "no-store"), ReasonNoStore},
		{"forced not for 302", forced, req("GET", "/static/x"), 302, hdr(), ReasonNoFreshness},
		{"forced other path", forced, req("GET", "/page"), 200, hdr("Cache-Control", "no-store"), ReasonNoStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := tt.p.Storable(tt.r, tt.status, tt.h)
			if ok != (tt.want == "") || reason != tt.want {
				t.Errorf("got %v, %q; want %v, %q", ok, reason, tt.want == "", tt.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	// Every entry was received at t0 with Date t0.
	entry := func(status int, kv ...string) *Entry {
		h := hdr(kv...)
		h.Set("Date", httpDate(t0))
		return &Entry{Status: status, Header: h, RequestTime: t0, ResponseTime: t0}
	}
	base := Policy{}
	sie := Policy{StaleIfError: 7 * 24 * time.Hour}
	swr := Policy{StaleWhileRevalidate: time.Minute, StaleIfError: time.Hour}
	forced := Policy{Rules: []Rule{{Prefix: "/static/", TTL: time.Hour}}, StaleIfError: 24 * time.Hour}
	override := Policy{Rules: []Rule{{Prefix: "/static/", TTL: time.Hour, OverridePrivate: true}}, StaleIfError: 24 * time.Hour}
	html := Policy{Rules: []Rule{{Prefix: "/", Type: "text/html", TTL: time.Hour}}, StaleIfError: 24 * time.Hour,
		SessionCookie: func(h http.Header) bool { return strings.Contains(h.Get("Cookie"), "wordpress_logged_in_") }}
	type want struct {
		action  Action
		onError bool
		detail  string
	}
	tests := []struct {
		name string
		p    Policy
		r    *http.Request
		e    *Entry
		at   time.Duration // now = t0 + at
		want want
	}{
		{"fresh", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=60"), 30 * time.Second, want{Serve, true, ""}},
		{"stale", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=60"), 61 * time.Second, want{Revalidate, false, "stale"}},
		{"exactly expired is stale", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=60"), 60 * time.Second, want{Revalidate, false, "stale"}},
		{"stale, config stale-if-error", sie, req("GET", "/"), entry(200, "Cache-Control", "max-age=60"), time.Hour, want{Revalidate, true, "stale"}},
		{"stale past config window", sie, req("GET", "/"), entry(200, "Cache-Control", "max-age=60"), 8 * 24 * time.Hour, want{Revalidate, false, "stale"}},
		{"origin stale-if-error", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=60, stale-if-error=120"), 150 * time.Second, want{Revalidate, true, "stale"}},
		{"origin stale-if-error exceeded", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=60, stale-if-error=120"), 200 * time.Second, want{Revalidate, false, "stale"}},
		{"request stale-if-error", base, req("GET", "/", "Cache-Control", "stale-if-error=600"), entry(200, "Cache-Control", "max-age=60"), 200 * time.Second, want{Revalidate, true, "stale"}},
		{"origin stale-while-revalidate", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=60, stale-while-revalidate=30"), 80 * time.Second, want{ServeStale, false, ""}},
		{"config stale-while-revalidate", swr, req("GET", "/"), entry(200, "Cache-Control", "max-age=60"), 100 * time.Second, want{ServeStale, true, ""}},
		{"past stale-while-revalidate", swr, req("GET", "/"), entry(200, "Cache-Control", "max-age=60"), 200 * time.Second, want{Revalidate, true, "stale"}},
		{"must-revalidate never stale", sie, req("GET", "/"), entry(200, "Cache-Control", "max-age=60, must-revalidate, stale-while-revalidate=60"), 61 * time.Second, want{Revalidate, false, "stale"}},
		{"must-revalidate fresh ok on error", sie, req("GET", "/", "Cache-Control", "no-cache"), entry(200, "Cache-Control", "max-age=60, must-revalidate"), 10 * time.Second, want{Revalidate, true, "request-no-cache"}},
		{"proxy-revalidate", sie, req("GET", "/"), entry(200, "Cache-Control", "max-age=60, proxy-revalidate"), 61 * time.Second, want{Revalidate, false, "stale"}},
		{"s-maxage implies proxy-revalidate", sie, req("GET", "/"), entry(200, "Cache-Control", "s-maxage=60"), 61 * time.Second, want{Revalidate, false, "stale"}},
		{"no-cache response", sie, req("GET", "/"), entry(200, "Cache-Control", "no-cache, max-age=600"), time.Second, want{Revalidate, false, "no-cache"}},
		{"request no-cache", sie, req("GET", "/", "Cache-Control", "no-cache"), entry(200, "Cache-Control", "max-age=600"), time.Second, want{Revalidate, true, "request-no-cache"}},
		{"request max-age=0", base, req("GET", "/", "Cache-Control", "max-age=0"), entry(200, "Cache-Control", "max-age=600"), time.Second, want{Revalidate, true, "request-max-age"}},
		{"request max-age satisfied", base, req("GET", "/", "Cache-Control", "max-age=10"), entry(200, "Cache-Control", "max-age=600"), time.Second, want{Serve, true, ""}},
		{"request min-fresh", base, req("GET", "/", "Cache-Control", "min-fresh=100"), entry(200, "Cache-Control", "max-age=60"), time.Second, want{Revalidate, true, "request-min-fresh"}},
		{"request max-stale", base, req("GET", "/", "Cache-Control", "max-stale=100"), entry(200, "Cache-Control", "max-age=60"), 100 * time.Second, want{Serve, false, ""}},
		{"request max-stale exceeded", base, req("GET", "/", "Cache-Control", "max-stale=10"), entry(200, "Cache-Control", "max-age=60"), 100 * time.Second, want{Revalidate, false, "stale"}},
		{"request max-stale any", base, req("GET", "/", "Cache-Control", "max-stale"), entry(200, "Cache-Control", "max-age=60"), 1000 * time.Hour, want{Serve, false, ""}},
		{"max-stale vs must-revalidate", base, req("GET", "/", "Cache-Control", "max-stale"), entry(200, "Cache-Control", "max-age=60, must-revalidate"), 100 * time.Second, want{Revalidate, false, "stale"}},
		{"heuristic fresh", base, req("GET", "/"), entry(200, "Last-Modified", httpDate(t0.Add(-100*time.Hour))), 9 * time.Hour, want{Serve, true, ""}},
		{"no freshness is stale", sie, req("GET", "/"), entry(200), time.Second, want{Revalidate, true, "stale"}},
		{"forced ignores no-cache", forced, req("GET", "/static/a.js"), entry(200, "Cache-Control", "no-cache, must-revalidate, max-age=0"), 30 * time.Minute, want{Serve, true, ""}},
		{"no-store wins over a rule", forced, req("GET", "/static/a.js"), entry(200, "Cache-Control", "no-store, no-cache, must-revalidate, max-age=0"), 30 * time.Minute, want{Miss, false, ReasonNoStore}},
		{"private wins over a rule", forced, req("GET", "/static/a.js"), entry(200, "Cache-Control", "private"), 30 * time.Minute, want{Miss, false, ReasonPrivate}},
		{"override: private ignores no-store", override, req("GET", "/static/a.js"), entry(200, "Cache-Control", "no-store, no-cache, must-revalidate, max-age=0"), 30 * time.Minute, want{Serve, true, ""}},
		{"override: private serves a cookie visitor", override, req("GET", "/static/a.js", "Cookie", "_ga=1"), entry(200, "Cache-Control", "private"), 30 * time.Minute, want{Serve, true, ""}},
		{"typed rule", html, req("GET", "/about/"), entry(200, "Content-Type", "text/html; charset=UTF-8"), 30 * time.Minute, want{Serve, true, ""}},
		{"typed rule, other type", html, req("GET", "/feed/"), entry(200, "Content-Type", "application/rss+xml"), 30 * time.Minute, want{Revalidate, true, "stale"}},
		// No rule serves a request that is personal.
		{"rule, session cookie", html, req("GET", "/about/", "Cookie", "wordpress_logged_in_x=a"), entry(200, "Content-Type", "text/html"), 30 * time.Minute, want{Revalidate, true, "stale"}},
		// With Authorization, §3.5 decides too: an anonymous copy that
		// does not say it may be shared is not used at all.
		{"rule, authorization", html, req("GET", "/about/", "Authorization", "Basic eDp5"), entry(200, "Content-Type", "text/html"), 30 * time.Minute, want{Miss, false, ReasonAuthorization}},
		{"rule, authorization, public copy", html, req("GET", "/about/", "Authorization", "Basic eDp5"), entry(200, "Content-Type", "text/html", "Cache-Control", "public"), 30 * time.Minute, want{Revalidate, true, "stale"}},
		{"forced ignores request no-cache", forced, req("GET", "/static/a.js", "Cache-Control", "no-cache"), entry(200, "Cache-Control", "max-age=0"), 30 * time.Minute, want{Serve, true, ""}},
		{"forced stale serves on error", forced, req("GET", "/static/a.js"), entry(200, "Cache-Control", "no-cache, must-revalidate"), 2 * time.Hour, want{Revalidate, true, "stale"}},
		{"forced past stale-if-error", forced, req("GET", "/static/a.js"), entry(200, "Cache-Control", "no-cache"), 26 * time.Hour, want{Revalidate, false, "stale"}},
		{"private without rule is a miss", base, req("GET", "/static/a.js"), entry(200, "Cache-Control", "private"), time.Second, want{Miss, false, ReasonPrivate}},
		{"no-store without rule is a miss", base, req("GET", "/static/a.js"), entry(200, "Cache-Control", "no-store"), time.Second, want{Miss, false, ReasonNoStore}},
		// RFC 9111 §5.1: "Age: 7200, 0" is 7200 seconds old, so stale
		// against max-age=3600, however the list goes on.
		{"listed age keeps it stale", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=3600", "Age", "7200, 0"), time.Second, want{Revalidate, false, "stale"}},
		{"age on two lines keeps it stale", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=3600", "Age", "7200", "Age", "0"), time.Second, want{Revalidate, false, "stale"}},
		{"conflicting max-age is stale", base, req("GET", "/"), entry(200, "Cache-Control", "max-age=3600, max-age=60"), time.Second, want{Revalidate, false, "stale"}},
		{"invalid expires is stale", base, req("GET", "/"), entry(200, "Expires", "Thu, 01 Jan 2099 0:00:00 GMT"), time.Second, want{Revalidate, false, "stale"}},
		{"unknown status explicitly fresh", base, req("GET", "/"), entry(299, "Cache-Control", "max-age=60"), time.Second, want{Serve, true, ""}},
		{"unknown status gets no heuristic", base, req("GET", "/"), entry(299, "Cache-Control", "public", "Last-Modified", httpDate(t0.Add(-100*time.Hour))), time.Second, want{Revalidate, false, "stale"}},
		{"set-cookie is a miss", forced, req("GET", "/static/a.js"), entry(200, "Set-Cookie", "a=b"), time.Second, want{Miss, false, ReasonSetCookie}},
		// §3.5: a request with Authorization only gets a stored response
		// that says so, whoever stored it, and no rule forces one.
		{"authorization, public", base, req("GET", "/", "Authorization", "Bearer x"), entry(200, "Cache-Control", "public, max-age=60"), time.Second, want{Serve, true, ""}},
		{"authorization, s-maxage", base, req("GET", "/", "Authorization", "Bearer x"), entry(200, "Cache-Control", "s-maxage=60"), time.Second, want{Serve, true, ""}},
		{"authorization, must-revalidate stale", base, req("GET", "/", "Authorization", "Bearer x"), entry(200, "Cache-Control", "max-age=60, must-revalidate"), time.Hour, want{Revalidate, false, "stale"}},
		{"authorization, anonymous copy", base, req("GET", "/", "Authorization", "Bearer x"), entry(200, "Cache-Control", "max-age=60"), time.Second, want{Miss, false, ReasonAuthorization}},
		{"authorization, forced copy", forced, req("GET", "/static/a.js", "Authorization", "Bearer x"), entry(200, "Cache-Control", "no-store"), time.Second, want{Miss, false, ReasonNoStore}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.p.Decide(tt.r, tt.e, t0.Add(tt.at))
			got := want{d.Action, d.ServeOnError, d.Detail}
			if got != tt.want {
				t.Errorf("got %v; want %v (decision %+v)", got, tt.want, d)
			}
		})
	}
}

func TestDecideReportsAgeAndLifetime(t *testing.T) {
	e := &Entry{Status: 200, Header: hdr("Cache-Control", "max-age=60", "Age", "5", "Date", httpDate(t0)), RequestTime: t0, ResponseTime: t0}
	d := Policy{}.Decide(req("GET", "/"), e, t0.Add(10*time.Second))
	if d.Age != 15*time.Second || d.Lifetime != time.Minute || !d.Fresh() || d.Forced {
		t.Errorf("got age %v, lifetime %v, fresh %v, forced %v; want 15s, 1m0s, true, false", d.Age, d.Lifetime, d.Fresh(), d.Forced)
	}
	p := Policy{Rules: []Rule{{Prefix: "/", TTL: time.Hour}}}
	if l, forced := p.Lifetime(req("GET", "/x"), 200, hdr("Cache-Control", "no-cache"), t0); l != time.Hour || !forced {
		t.Errorf("got %v, %v; want 1h0m0s, true", l, forced)
	}
	if l, forced := p.Lifetime(req("GET", "/x"), 200, hdr("Cache-Control", "no-store"), t0); l != 0 || forced {
		t.Errorf("got %v, %v for no-store; want 0s, false", l, forced)
	}
}
