package proxy

import (
	"fmt"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
)

// CachePreset is a bundle of cache settings for the software an origin
// runs: what bypasses the cache, and what is cached whatever the origin
// says. Every part is plain configuration too (Options.BypassCookies,
// BypassPaths, BypassQueries and cache.Policy.Rules); a preset adds to
// those, and the operator's own rules win over its rules for the same
// path and type.
type CachePreset struct {
	BypassCookies []string
	BypassPaths   []string // globs, as BlockRule.Path
	BypassQueries []string // "name" or "name=value"
	Rules         []cache.Rule
}

// ExpandCachePreset returns the preset called name, its rules forcing
// ttl. The only preset is "wordpress":
//
//   - Cookies: the logged-in and secure logged-in cookies, password-
//     protected posts, commenters (the comment form filled in with their
//     name and e-mail), and WooCommerce's and Easy Digital Downloads'
//     carts and sessions.
//   - Paths, in any directory (a site installed under /blog/ too): wp-admin
//     (the dashboard and admin-ajax.php), the wp-*.php scripts (wp-login,
//     wp-cron, wp-signup, wp-activate, wp-comments-post, wp-trackback),
//     xmlrpc.php and the REST API under wp-json.
//   - Queries: rest_route (the REST API without pretty permalinks), s
//     (searches), preview=true, a pending comment's unapproved and
//     moderation-hash (WordPress shows it to whoever has that URL, for 10
//     minutes, with max-age=600), doing_wp_cron, and WooCommerce's
//     wc-ajax and add-to-cart, which act on a GET.
//   - Rules: HTML pages, anywhere, for ttl: WordPress sends no freshness
//     on its pages, so without a rule each is fetched across the border
//     on every visit. Feeds, images and scripts keep the origin's own.
//
// Every method but GET and HEAD bypasses the cache with or without a
// preset, and feeds for logged-in users bypass it through their cookies.
func ExpandCachePreset(name string, ttl time.Duration) (CachePreset, error) {
	switch name {
	case "":
		return CachePreset{}, nil
	case "wordpress":
		if ttl <= 0 {
			return CachePreset{}, fmt.Errorf("cache preset wordpress: ttl %v is not positive", ttl)
		}
		return CachePreset{
			BypassCookies: []string{
				"wordpress_logged_in_*", "wordpress_sec_*", "wp-postpass_*", "comment_author_*",
				"woocommerce_items_in_cart", "woocommerce_cart_hash", "wp_woocommerce_session_*",
				"edd_items_in_cart",
			},
			BypassPaths: []string{"wp-admin", "wp-*.php", "xmlrpc.php", "wp-json"},
			BypassQueries: []string{
				"rest_route", "s", "preview=true", "unapproved", "moderation-hash", "doing_wp_cron",
				"wc-ajax", "add-to-cart",
			},
			Rules: []cache.Rule{{Prefix: "/", Type: "text/html", TTL: ttl}},
		}, nil
	}
	return CachePreset{}, fmt.Errorf("unknown cache preset %q; expected wordpress", name)
}
