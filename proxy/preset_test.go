package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
)

// wordpressEdge is an edge in front of o with the wordpress preset, as
// cmd/icpedge sets it up from cache.preset.
func wordpressEdge(t *testing.T, o *safetyOrigin) *safetyEdge {
	t.Helper()
	preset, err := ExpandCachePreset("wordpress", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return newSafetyEdge(t, o, func(opts *Options) {
		opts.BypassCookies = append(DefaultBypassCookies(), preset.BypassCookies...)
		opts.BypassPaths = preset.BypassPaths
		opts.BypassQueries = preset.BypassQueries
		opts.CachePolicy.Rules = preset.Rules
	})
}

// wpPage answers like WordPress: HTML without Cache-Control, personal by
// the uid cookie.
var wpPage = page("")

func TestWordPressPresetCachesAnonymousHTML(t *testing.T) {
	o := newSafetyOrigin(t)
	e := wordpressEdge(t, o)
	o.set("/hello-world/", wpPage)
	if w := e.get("/hello-world/"); cacheStatusOf(w) != "icpedge; fwd=miss; stored" {
		t.Fatalf("first visit: Cache-Status %q; want icpedge; fwd=miss; stored", cacheStatusOf(w))
	}
	// Analytics and consent cookies are not a session: still a hit.
	for _, cookie := range []string{"", "_ga=GA1.2.3; _gid=GA1.2.4", "_fbp=fb.1.2; CookieConsent={necessary:true}", "cookielawinfo-checkbox-necessary=yes; wordpress_test_cookie=WP%20Cookie%20check"} {
		w := e.get("/hello-world/", "Cookie", cookie)
		if cs := cacheStatusOf(w); !strings.HasPrefix(cs, "icpedge; hit; ttl=") {
			t.Errorf("cookie %q: Cache-Status %q; want a hit", cookie, cs)
		}
	}
	if n := o.count("/hello-world/"); n != 1 {
		t.Errorf("origin saw %d requests; want 1", n)
	}

	// Only HTML is forced: a feed keeps the origin's own freshness, and
	// an image without any is not stored.
	o.set("/feed/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml; charset=UTF-8")
		w.Write([]byte("<rss/>"))
	})
	e.get("/feed/")
	if w := e.get("/feed/"); !strings.Contains(cacheStatusOf(w), "fwd=") || o.count("/feed/") != 2 {
		t.Errorf("feed without freshness: Cache-Status %q after %d origin requests; want a second trip to the origin", cacheStatusOf(w), o.count("/feed/"))
	}
}

// Everything the WordPress recipes keep out of a shared cache goes to the
// origin every time, with a Cache-Status that says why.
func TestWordPressPresetBypasses(t *testing.T) {
	tests := []struct {
		name, method, target string
		hdr                  []string
		detail               string
	}{
		{"dashboard", "GET", "/wp-admin/", nil, "path"},
		{"admin-ajax", "GET", "/wp-admin/admin-ajax.php?action=x", nil, "path"},
		{"admin in a subdirectory install", "GET", "/blog/wp-admin/edit.php", nil, "path"},
		{"login", "GET", "/wp-login.php", nil, "path"},
		{"login with a query", "GET", "/wp-login.php?redirect_to=%2Fwp-admin%2F", nil, "path"},
		{"cron", "GET", "/wp-cron.php?doing_wp_cron=1", nil, "path"},
		{"signup", "GET", "/wp-signup.php", nil, "path"},
		{"xmlrpc", "GET", "/xmlrpc.php?rsd", nil, "path"},
		{"rest api", "GET", "/wp-json/wp/v2/posts", nil, "path"},
		{"rest api root", "GET", "/wp-json/", nil, "path"},
		{"rest route", "GET", "/?rest_route=/wp/v2/posts", nil, "query"},
		{"rest route encoded", "GET", "/index.php?rest%5Froute=%2F", nil, "query"},
		{"preview", "GET", "/?p=1&preview=true", nil, "query"},
		{"search", "GET", "/?s=hello", nil, "query"},
		{"empty search", "GET", "/?s=", nil, "query"},
		{"search as an array", "GET", "/?s%5B%5D=hello", nil, "query"},
		{"pending comment", "GET", "/hello-world/?unapproved=2&moderation-hash=abc", nil, "query"},
		{"cron spawn", "GET", "/?doing_wp_cron=1700000000.1", nil, "query"},
		{"add to cart", "GET", "/shop/?add-to-cart=12", nil, "query"},
		{"logged in", "GET", "/", []string{"Cookie", "_ga=1; wordpress_logged_in_0123abcd=admin%7C1"}, "session-cookie"},
		{"logged in over https", "GET", "/", []string{"Cookie", "wordpress_sec_0123abcd=admin%7C1"}, "session-cookie"},
		{"feed for a logged-in user", "GET", "/feed/", []string{"Cookie", "wordpress_logged_in_0123abcd=admin%7C1"}, "session-cookie"},
		{"password-protected post", "GET", "/secret/", []string{"Cookie", "wp-postpass_0123abcd=%24P%24B"}, "session-cookie"},
		{"commenter", "GET", "/hello-world/", []string{"Cookie", "comment_author_0123abcd=Ann; comment_author_email_0123abcd=ann%40example.test"}, "session-cookie"},
		{"cart", "GET", "/", []string{"Cookie", "woocommerce_items_in_cart=1"}, "session-cookie"},
		{"cart hash", "GET", "/", []string{"Cookie", "woocommerce_cart_hash=abc"}, "session-cookie"},
		{"shop session", "GET", "/", []string{"Cookie", "wp_woocommerce_session_0123abcd=1"}, "session-cookie"},
		{"edd cart", "GET", "/", []string{"Cookie", "edd_items_in_cart=1"}, "session-cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newSafetyOrigin(t)
			e := wordpressEdge(t, o)
			path, _, _ := strings.Cut(tt.target, "?")
			o.set(path, wpPage)
			for i := range 2 {
				w := e.do(tt.method, tt.target, nil, tt.hdr...)
				if cs, want := cacheStatusOf(w), "icpedge; fwd=bypass; detail="+tt.detail; cs != want {
					t.Errorf("request %d: Cache-Status %q; want %q", i+1, cs, want)
				}
			}
			if n := o.count(path); n != 2 {
				t.Errorf("origin saw %d requests for 2; want 2", n)
			}
		})
	}
}

// Methods other than GET and HEAD reach the origin with or without a
// preset, and what they answer is never stored.
func TestWordPressPresetMethods(t *testing.T) {
	o := newSafetyOrigin(t)
	e := wordpressEdge(t, o)
	o.set("/hello-world/", wpPage)
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		if w := e.do(m, "/hello-world/", strings.NewReader("x=1"), "Content-Type", "application/x-www-form-urlencoded"); !strings.HasPrefix(cacheStatusOf(w), "icpedge; fwd=method") {
			t.Errorf("%s: Cache-Status %q; want fwd=method", m, cacheStatusOf(w))
		}
	}
	if w := e.get("/hello-world/"); cacheStatusOf(w) != "icpedge; fwd=miss; stored" {
		t.Errorf("GET after the unsafe methods: Cache-Status %q; want a miss, stored", cacheStatusOf(w))
	}
}

// Things that look like the bypass list but are not on it are cached:
// the preset bypasses no more than it must.
func TestWordPressPresetDoesNotOverBypass(t *testing.T) {
	for _, target := range []string{
		"/preview/", "/?p=1&preview=false", "/search/", "/?sort=s", "/?ss=1", "/wp-content/themes/x/style.html",
		"/wp-admins-guide/", "/json/", "/?paged=2",
	} {
		t.Run(target, func(t *testing.T) {
			o := newSafetyOrigin(t)
			e := wordpressEdge(t, o)
			path, _, _ := strings.Cut(target, "?")
			o.set(path, wpPage)
			e.get(target)
			if w := e.get(target); !strings.HasPrefix(cacheStatusOf(w), "icpedge; hit") {
				t.Errorf("Cache-Status %q; want a hit", cacheStatusOf(w))
			}
		})
	}
}

// A forced rule stores and serves only what bears no sign of being
// personal; private and no-store win unless the rule overrides them.
func TestForcedRuleSafeByConstruction(t *testing.T) {
	tests := []struct {
		name     string
		override bool
		answer   http.HandlerFunc
		first    []string // the request that fills
		next     []string // the one that follows
		hit      bool
	}{
		{"no cache-control", false, page(""), nil, nil, true},
		{"no-cache, max-age=0", false, page("no-cache, must-revalidate, max-age=0"), nil, nil, true},
		{"private wins", false, page("private"), nil, nil, false},
		{"no-store wins", false, page("no-store, no-cache, must-revalidate"), nil, nil, false},
		{"override: private, private", true, page("private"), nil, nil, true},
		{"override: private, no-store", true, page("no-store, no-cache, must-revalidate"), nil, nil, true},
		{"override: private, analytics visitor answered private", true, page("private"), []string{"Cookie", "_ga=1"}, nil, false},
		{"set-cookie", true, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Set-Cookie", "sid=1; Path=/")
			page("")(w, r)
		}, nil, nil, false},
		{"authorization never served", true, page(""), nil, []string{"Authorization", "Basic YTpi"}, false},
		{"authorization never stored", true, page(""), []string{"Authorization", "Basic YTpi"}, nil, false},
		{"session cookie never served", true, page(""), nil, []string{"Cookie", "PHPSESSID=1"}, false},
		{"session cookie never stored", true, page(""), []string{"Cookie", "PHPSESSID=1; uid=admin"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newSafetyOrigin(t)
			e := newSafetyEdge(t, o, func(opts *Options) {
				opts.CachePolicy.Rules = []cache.Rule{{Prefix: "/", TTL: time.Hour, OverridePrivate: tt.override}}
			})
			o.set("/p", tt.answer)
			e.get("/p", tt.first...)
			w := e.get("/p", tt.next...)
			hit := strings.HasPrefix(cacheStatusOf(w), "icpedge; hit")
			if hit != tt.hit {
				t.Errorf("second request: Cache-Status %q; want a hit: %v", cacheStatusOf(w), tt.hit)
			}
			if !tt.hit && o.count("/p") != 2 {
				t.Errorf("origin saw %d requests; want 2", o.count("/p"))
			}
			if strings.Contains(w.Body.String(), "user=admin") && len(tt.next) == 0 {
				t.Errorf("an anonymous visitor got the admin's page")
			}
		})
	}
}

func TestExpandCachePreset(t *testing.T) {
	if p, err := ExpandCachePreset("", time.Minute); err != nil || len(p.Rules)+len(p.BypassPaths) != 0 {
		t.Errorf("no preset: got %+v, %v; want nothing", p, err)
	}
	if _, err := ExpandCachePreset("drupal", time.Minute); err == nil || !strings.Contains(err.Error(), `unknown cache preset "drupal"`) {
		t.Errorf("unknown preset: got %v; want an error naming it", err)
	}
	if _, err := ExpandCachePreset("wordpress", 0); err == nil {
		t.Errorf("wordpress with no ttl: no error; want one")
	}
	p, err := ExpandCachePreset("wordpress", 7*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rules) != 1 || p.Rules[0] != (cache.Rule{Prefix: "/", Type: "text/html", TTL: 7 * time.Minute}) {
		t.Errorf("rules %+v; want one for text/html under / for 7m", p.Rules)
	}
}
