package config

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// valid is the smallest file that loads. Cases below replace or extend it
// line by line, so the line numbers in their messages are easy to check.
var valid = []string{
	"hosts: [icp.client.com]",        // 1
	"origin: https://www.client.com", // 2
	"listen:",                        // 3
	`  http: ":80"`,                  // 4
	"notice:",                        // 5
	"  icp: 京ICP备12345678号-1",        // 6
}

// file returns valid with line i (1-based) replaced by each of repl in
// turn, and any extra lines appended.
func file(repl map[int]string, extra ...string) []byte {
	lines := append([]string(nil), valid...)
	for i, s := range repl {
		lines[i-1] = s
	}
	return []byte(strings.Join(append(lines, extra...), "\n") + "\n")
}

// The expected-value texts, as the messages spell them.
const (
	wantICP      = `expected a province abbreviation, "ICP备", 8–10 digits, "号" and an optional "-N" (e.g. 京ICP备12345678号-1), or a licence "ICP证" + 6 digits + "号"`
	wantPolice   = `expected a province abbreviation, "公网安备", 14 digits and "号" (e.g. 京公网安备11010502012345号)`
	wantHost     = "expected a DNS name such as icp.client.com, without scheme, port, path or wildcard"
	wantOrigin   = "expected an absolute http or https URL with a host and no user info, query or fragment, e.g. https://www.client.com"
	wantDuration = "expected a number with a unit (ms, s, m, h or d), e.g. 30s, 5m, 7d or 1d12h"
	wantSize     = "expected bytes, or a number with a unit (KB, MB, GB in 1000s; KiB, MiB, GiB in 1024s), e.g. 64MiB"
	wantAddr     = `expected host:port or :port, e.g. ":80" or "127.0.0.1:8080"`
	wantTop      = "hosts, origin, origin_host, origin_ca, rewrite_hosts, trusted_proxies, listen, state_dir, notice, timeouts, html, limits, localize, log, cache, admin, tls, apex, policy, check, cluster"
)

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		// Keys.
		{"unknown key with suggestion", file(nil, "orign_host: www.client.com"),
			`site.yaml:7: orign_host: unknown key; did you mean origin_host?`},
		{"unknown nested key with suggestion", file(map[int]string{6: "  icb: 京ICP备12345678号-1"}),
			"site.yaml:5: notice.icp: missing; " + strings.Replace(wantICP, "expected ", "expected an ICP number: ", 1) + "\n" +
				"site.yaml:6: notice.icb: unknown key; did you mean notice.icp?"},
		{"hyphen for underscore", file(nil, "cache:", "  max-size: 1GiB"),
			`site.yaml:8: cache.max-size: unknown key; did you mean cache.max_size?`},
		{"unknown key without suggestion", file(nil, "color: red"),
			`site.yaml:7: color: unknown key; expected one of ` + wantTop},
		{"duplicate key", file(nil, "origin: https://other.client.com"),
			`site.yaml:7: origin: duplicate key, first set on line 2; expected each key once`},
		{"duplicate nested key", file(nil, `  icp: 京ICP备12345678号-2`),
			`site.yaml:7: notice.icp: duplicate key, first set on line 6; expected each key once`},
		{"missing required keys", []byte("listen: {http: \":80\"}\nnotice:\n  company: 客户\n"),
			"site.yaml:1: hosts: missing; expected a list of host names, e.g. [icp.client.com]\n" +
				"site.yaml:1: origin: missing; " + wantOrigin + "\n" +
				"site.yaml:2: notice.icp: missing; " + strings.Replace(wantICP, "expected ", "expected an ICP number: ", 1)},
		{"empty required value", file(map[int]string{2: "origin:"}),
			"site.yaml:2: origin: empty; " + wantOrigin},

		// Types.
		{"string for list", file(map[int]string{1: "hosts: icp.client.com"}),
			`site.yaml:1: hosts: "icp.client.com" is a string; expected a list of host names, e.g. [icp.client.com]`},
		{"list for string", file(map[int]string{6: "  icp: [京ICP备12345678号-1]"}),
			"site.yaml:6: notice.icp: got a list; expected an ICP number: " + strings.TrimPrefix(wantICP, "expected ")},
		{"string for mapping", file(nil, "timeouts: 5s"),
			`site.yaml:7: timeouts: "5s" is a string; expected a mapping with keys connect, response, origin_idle, shutdown, request_body`},
		{"string for boolean", file(nil, "cache:", "  enabled: yes"),
			`site.yaml:8: cache.enabled: "yes" is a string; expected true or false`},
		{"number for address", file(map[int]string{4: "  http: 80"}),
			`site.yaml:4: listen.http: 80 is not a listen address (no port); ` + wantAddr},

		// Hosts.
		{"host with port", file(map[int]string{1: "hosts: [icp.client.com:443]"}),
			`site.yaml:1: hosts[0]: "icp.client.com:443" is not a host name (has a port); ` + wantHost},
		{"host with scheme", file(map[int]string{1: "hosts: [https://icp.client.com]"}),
			`site.yaml:1: hosts[0]: "https://icp.client.com" is not a host name (has a scheme); ` + wantHost},
		{"wildcard host", file(map[int]string{1: `hosts: ["*.client.com"]`}),
			`site.yaml:1: hosts[0]: "*.client.com" is not a host name (has a wildcard); ` + wantHost},
		{"IP host", file(map[int]string{1: "hosts: [203.0.113.7]"}),
			`site.yaml:1: hosts[0]: "203.0.113.7" is not a host name (is an IP address); ` + wantHost},
		{"underscore host", file(map[int]string{1: "hosts: [icp_1.client.com]"}),
			`site.yaml:1: hosts[0]: "icp_1.client.com" is not a host name (has the character '_'); ` + wantHost},
		{"duplicate host", file(map[int]string{1: "hosts: [icp.client.com, ICP.client.com]"}),
			`site.yaml:1: hosts[1]: "ICP.client.com" repeats hosts[0]; expected each host once`},
		{"empty hosts", file(map[int]string{1: "hosts: []"}),
			`site.yaml:1: hosts: empty list; expected at least one host name, e.g. icp.client.com`},
		{"origin_host with port", file(nil, "origin_host: www.client.com:8443"),
			`site.yaml:7: origin_host: "www.client.com:8443" is not a host name (has a port); expected a host name such as www.client.com or an IP address, without scheme or port`},

		// Origin.
		{"origin without scheme", file(map[int]string{2: "origin: www.client.com"}),
			`site.yaml:2: origin: "www.client.com" is not an origin URL (has no scheme); ` + wantOrigin},
		{"origin ftp", file(map[int]string{2: "origin: ftp://www.client.com"}),
			`site.yaml:2: origin: "ftp://www.client.com" is not an origin URL (scheme ftp); ` + wantOrigin},
		{"origin with password is redacted", file(map[int]string{2: "origin: https://bob:hunter2@www.client.com"}),
			`site.yaml:2: origin: "https://bob:xxxxx@www.client.com" is not an origin URL (has user info); ` + wantOrigin},
		{"origin with query", file(map[int]string{2: "origin: https://www.client.com/?a=1"}),
			`site.yaml:2: origin: "https://www.client.com/?a=1" is not an origin URL (has a query); ` + wantOrigin},
		{"origin with fragment", file(map[int]string{2: "origin: https://www.client.com/#top"}),
			`site.yaml:2: origin: "https://www.client.com/#top" is not an origin URL (has a fragment); ` + wantOrigin},
		{"origin is the edge", file(map[int]string{2: "origin: https://icp.client.com"}),
			`site.yaml:2: origin: "https://icp.client.com" is served by this edge (see hosts), so the edge would proxy to itself; expected the origin's own address, e.g. https://origin.client.com or an IP address with origin_host`},

		// Notice.
		{"ICP without 备", file(map[int]string{6: "  icp: 京ICP12345678号"}),
			`site.yaml:6: notice.icp: "京ICP12345678号" is not an ICP number; ` + wantICP},
		{"ICP with 7 digits", file(map[int]string{6: "  icp: 京ICP备1234567号"}),
			`site.yaml:6: notice.icp: "京ICP备1234567号" is not an ICP number; ` + wantICP},
		{"ICP with 11 digits", file(map[int]string{6: "  icp: 京ICP备12345678901号"}),
			`site.yaml:6: notice.icp: "京ICP备12345678901号" is not an ICP number; ` + wantICP},
		{"ICP with unknown province", file(map[int]string{6: "  icp: 中ICP备12345678号"}),
			`site.yaml:6: notice.icp: "中ICP备12345678号" is not an ICP number; ` + wantICP},
		{"licence with 5 digits", file(map[int]string{6: "  icp: 京ICP证12345号"}),
			`site.yaml:6: notice.icp: "京ICP证12345号" is not an ICP number; ` + wantICP},
		{"police with 13 digits", file(nil, "  police: 京公网安备1101050201234号"),
			`site.yaml:7: notice.police: "京公网安备1101050201234号" is not a public security filing number; ` + wantPolice},
		{"police without 号", file(nil, "  police: 京公网安备11010502012345"),
			`site.yaml:7: notice.police: "京公网安备11010502012345" is not a public security filing number; ` + wantPolice},
		{"company with a newline", file(nil, `  company: "北京客户\n科技"`),
			`site.yaml:7: notice.company: "北京客户\n科技" contains the control character U+000A; expected plain text of at most 200 characters on one line`},
		{"company too long", file(nil, "  company: "+strings.Repeat("客", 201)),
			`site.yaml:7: notice.company: "` + strings.Repeat("客", 57) + `..." is 201 characters long; expected plain text of at most 200 characters on one line`},
		{"bad selector", file(nil, `  selector: "div["`),
			`site.yaml:7: notice.selector: "div[" is not a CSS selector (expected identifier, found EOF instead); expected a CSS selector such as "footer" or "div.copyright"`},

		// Durations and sizes.
		{"duration words", file(nil, "timeouts:", "  connect: 5 seconds"),
			`site.yaml:8: timeouts.connect: "5 seconds" is not a duration; ` + wantDuration},
		{"duration without unit", file(nil, "timeouts:", "  response: 60"),
			`site.yaml:8: timeouts.response: 60 is not a duration; ` + wantDuration},
		{"negative duration", file(nil, "cache:", "  stale_if_error: -1d"),
			`site.yaml:8: cache.stale_if_error: "-1d" is negative; ` + wantDuration},
		{"zero timeout", file(nil, "timeouts:", "  shutdown: 0s"),
			`site.yaml:8: timeouts.shutdown: "0s" is zero; expected a positive duration, e.g. 30s`},
		{"zero request body timeout", file(nil, "timeouts:", "  request_body: 0s"),
			`site.yaml:8: timeouts.request_body: "0s" is zero; expected a positive duration, e.g. 30s`},
		{"request body timeout without unit", file(nil, "timeouts:", "  request_body: 30"),
			`site.yaml:8: timeouts.request_body: 30 is not a duration; ` + wantDuration},

		// Limits.
		{"zero buffer memory", file(nil, "limits:", "  buffer_memory: 0"),
			`site.yaml:8: limits.buffer_memory: 0 is zero; expected a positive size, e.g. 64MiB`},
		{"fractional buffer memory", file(nil, "limits:", "  buffer_memory: 1.5GiB"),
			`site.yaml:8: limits.buffer_memory: "1.5GiB" is not a size; ` + wantSize},
		{"negative request body", file(nil, "limits:", "  request_body: -1"),
			`site.yaml:8: limits.request_body: -1 is negative; ` + wantSize},
		{"misspelt limit", file(nil, "limits:", "  request_bdy: 1MiB"),
			`site.yaml:8: limits.request_bdy: unknown key; did you mean limits.request_body?`},
		{"limits as a string", file(nil, "limits: 64MiB"),
			`site.yaml:7: limits: "64MiB" is a string; expected a mapping with keys buffer_memory, request_body`},
		{"day count after hours", file(map[int]string{4: `  https: ":443"`}, "tls:", "  hsts: 12h1d"),
			`site.yaml:8: tls.hsts: "12h1d" is not a duration; ` + wantDuration},
		{"size with unknown unit", file(nil, "cache:", "  max_size: 1gb"),
			`site.yaml:8: cache.max_size: "1gb" is not a size; ` + wantSize},
		{"fractional size", file(nil, "html:", "  max_size: 1.5MiB"),
			`site.yaml:8: html.max_size: "1.5MiB" is not a size; ` + wantSize},
		{"negative size", file(nil, "cache:", "  memory: -64MiB"),
			`site.yaml:8: cache.memory: "-64MiB" is negative; ` + wantSize},
		{"zero size", file(nil, "html:", "  max_size: 0"),
			`site.yaml:8: html.max_size: 0 is zero; expected a positive size, e.g. 64MiB`},
		{"overflowing size", file(nil, "cache:", "  max_size: 9999999999GiB"),
			`site.yaml:8: cache.max_size: "9999999999GiB" is not a size; ` + wantSize},

		// Lists of things.
		{"bad trusted proxy", file(nil, "trusted_proxies: [10.0.0.1, 10.0.0.300]"),
			`site.yaml:7: trusted_proxies[1]: "10.0.0.300" is not an IP address or CIDR prefix; expected an IP address or CIDR prefix, e.g. 10.0.0.1, 10.0.0.0/8 or 2001:db8::/32`},
		{"trusted proxy with host bits", file(nil, "trusted_proxies: [10.1.2.3/8]"),
			`site.yaml:7: trusted_proxies[0]: "10.1.2.3/8" has bits set past the prefix length; expected 10.0.0.0/8`},
		{"cache rule problems", file(nil, "cache:", "  rules:", "    - path: static/", "      ttl: 0s", "    - path: /news/", "      tll: 5m"),
			"site.yaml:9: cache.rules[0].path: \"static/\" is not a path prefix; expected a URL path prefix beginning with \"/\", e.g. /static/\n" +
				"site.yaml:10: cache.rules[0].ttl: \"0s\" is zero; expected a positive duration, e.g. 30s\n" +
				"site.yaml:11: cache.rules[1].ttl: missing; expected a duration such as 5m\n" +
				"site.yaml:12: cache.rules[1].tll: unknown key; did you mean cache.rules[1].ttl?"},
		{"bypass cookie problems", file(nil, "cache:", "  bypass_cookies:", "    - wordpress logged in", "    - PHPSESSID", "    - PHPSESSID", "    - sess=1", "    - ", "    - [a]", "    - 会话", "    - a/b"),
			"site.yaml:9: cache.bypass_cookies[0]: \"wordpress logged in\" is not a cookie name pattern (has a space); expected a cookie name, or a glob of them with * and ?, e.g. wordpress_logged_in_*\n" +
				"site.yaml:11: cache.bypass_cookies[2]: \"PHPSESSID\" repeats cache.bypass_cookies[1]; expected each pattern once\n" +
				"site.yaml:12: cache.bypass_cookies[3]: \"sess=1\" is not a cookie name pattern (has '=', which separates cookies or their values); expected a cookie name, or a glob of them with * and ?, e.g. wordpress_logged_in_*\n" +
				"site.yaml:13: cache.bypass_cookies[4]: empty; expected a cookie name, or a glob of them with * and ?, e.g. wordpress_logged_in_*\n" +
				"site.yaml:14: cache.bypass_cookies[5]: got a list; expected a cookie name, or a glob of them with * and ?, e.g. wordpress_logged_in_*\n" +
				"site.yaml:15: cache.bypass_cookies[6]: \"会话\" is not a cookie name pattern (has a character outside printable ASCII); expected a cookie name, or a glob of them with * and ?, e.g. wordpress_logged_in_*\n" +
				"site.yaml:16: cache.bypass_cookies[7]: \"a/b\" is not a cookie name pattern (has the character '/', which no cookie name holds); expected a cookie name, or a glob of them with * and ?, e.g. wordpress_logged_in_*"},
		{"targeted field problems", file(nil, "cache:", "  targeted: Content-Type"),
			`site.yaml:8: cache.targeted: "Content-Type" does not end in -Cache-Control; expected a header field name ending in -Cache-Control, other than CDN-Cache-Control, e.g. ICPEdge-Cache-Control`},
		{"targeted field not a name", file(nil, "cache:", "  targeted: \"My Cache-Control\""),
			`site.yaml:8: cache.targeted: "My Cache-Control" is not a header field name; expected a header field name ending in -Cache-Control, other than CDN-Cache-Control, e.g. ICPEdge-Cache-Control`},
		{"targeted field already obeyed", file(nil, "cache:", "  targeted: cdn-cache-control"),
			`site.yaml:8: cache.targeted: "cdn-cache-control" is obeyed without being named; expected a header field name ending in -Cache-Control, other than CDN-Cache-Control, e.g. ICPEdge-Cache-Control`},
		{"negative early hints age", file(nil, "cache:", "  early_hints_max_age: -1h"),
			`site.yaml:8: cache.early_hints_max_age: "-1h" is negative; ` + wantDuration},
		{"cache rule type and override problems", file(nil, "cache:", "  rules:", "    - {path: /, ttl: 5m, type: text/html}", "    - {path: /, ttl: 1m, type: HTML, override: public}",
			"    - {path: /, ttl: 5m, type: text/html}", "    - {path: /, ttl: 1m}", "    - {path: /, ttl: 1m}"),
			"site.yaml:10: cache.rules[1].type: \"HTML\" is not a media type; expected a media type, or a type with /*, e.g. application/x-bittorrent or video/*\n" +
				"site.yaml:10: cache.rules[1].override: \"public\" is not an override; expected private\n" +
				"site.yaml:11: cache.rules[2].path: \"/\" with type text/html repeats cache.rules[0].path; expected each path once per type\n" +
				"site.yaml:13: cache.rules[4].path: \"/\" repeats cache.rules[3].path; expected each path once, or once per type"},
		{"preset problems", file(nil, "cache:", "  preset: WordPress", "  preset_ttl: 0s"),
			"site.yaml:8: cache.preset: \"WordPress\" is not a cache preset; expected wordpress\n" +
				"site.yaml:9: cache.preset_ttl: only used with cache.preset; expected cache.preset: wordpress, or no cache.preset_ttl"},
		{"zero preset ttl", file(nil, "cache:", "  preset: wordpress", "  preset_ttl: 0s"),
			`site.yaml:9: cache.preset_ttl: "0s" is zero; expected a positive duration, e.g. 30s`},
		{"bypass path problems", file(nil, "cache:", "  bypass_paths: [wp-admin/, /wp-admin/, /wp-admin/, '/a b', '/[x']"),
			"site.yaml:8: cache.bypass_paths[0]: \"wp-admin/\" is not a path glob (has a \"/\" but does not begin with one); expected " + expectGlob + "\n" +
				"site.yaml:8: cache.bypass_paths[2]: \"/wp-admin/\" repeats cache.bypass_paths[1]; expected each glob once\n" +
				"site.yaml:8: cache.bypass_paths[3]: \"/a b\" is not a path glob (has a space); expected " + expectGlob + "\n" +
				"site.yaml:8: cache.bypass_paths[4]: \"/[x\" is not a path glob (unbalanced [ ] or a trailing \\); expected " + expectGlob},
		{"bypass query problems", file(nil, "cache:", "  bypass_queries: [s, s, '=x', 'a&b', '?s', 'a b']"),
			"site.yaml:8: cache.bypass_queries[1]: \"s\" repeats cache.bypass_queries[0]; expected each parameter once\n" +
				"site.yaml:8: cache.bypass_queries[2]: \"=x\" has no parameter name; expected a query parameter name, or name=value, e.g. s or preview=true\n" +
				"site.yaml:8: cache.bypass_queries[3]: \"a&b\" is not one query parameter (it holds &, #, ? or a space); expected a query parameter name, or name=value, e.g. s or preview=true\n" +
				"site.yaml:8: cache.bypass_queries[4]: \"?s\" is not one query parameter (it holds &, #, ? or a space); expected a query parameter name, or name=value, e.g. s or preview=true\n" +
				"site.yaml:8: cache.bypass_queries[5]: \"a b\" is not one query parameter (it holds &, #, ? or a space); expected a query parameter name, or name=value, e.g. s or preview=true"},
		{"bypass paths not a list", file(nil, "cache:", "  bypass_paths: /wp-admin/"),
			`site.yaml:8: cache.bypass_paths: "/wp-admin/" is a string; expected a list of path globs, e.g. [/wp-admin/, wp-login.php]`},
		{"bypass cookies not a list", file(nil, "cache:", "  bypass_cookies: PHPSESSID"),
			`site.yaml:8: cache.bypass_cookies: "PHPSESSID" is a string; expected a list of cookie names or globs, e.g. [PHPSESSID, wordpress_logged_in_*], or [] for none`},
		{"zero origin_idle", file(nil, "timeouts:", "  origin_idle: 0s"),
			`site.yaml:8: timeouts.origin_idle: "0s" is zero; expected a positive duration, e.g. 30s`},
		{"origin_idle without unit", file(nil, "timeouts:", "  origin_idle: 30"),
			`site.yaml:8: timeouts.origin_idle: 30 is not a duration; ` + wantDuration},

		// Listeners.
		{"no listener", file(map[int]string{4: `  http: ""`}),
			`site.yaml:3: listen: no listener; expected listen.http or listen.https, e.g. http: ":80"`},
		{"bad port", file(map[int]string{4: `  http: ":http"`}),
			`site.yaml:4: listen.http: ":http" is not a listen address (port "http" is not 0-65535); ` + wantAddr},
		{"admin on the edge's port", file(nil, "admin:", `  listen: "0.0.0.0:80"`),
			`site.yaml:8: admin.listen: "0.0.0.0:80" is the same port as listen.http; expected a different port, e.g. "127.0.0.1:9080"`},

		// TLS.
		{"unknown mode", file(nil, "tls:", "  mode: auto"),
			`site.yaml:8: tls.mode: "auto" is not a TLS mode; expected acme, manual or off`},
		{"acme without https", file(nil, "tls:", "  mode: acme"),
			`site.yaml:8: tls.mode: "acme" needs an HTTPS listener; expected listen.https, e.g. ":443", or tls.mode off`},
		{"https with mode off", file(map[int]string{4: `  https: ":443"`}, "tls:", "  mode: off", "  hsts: 180d"),
			"site.yaml:4: listen.https: \":443\" needs TLS but tls.mode is off; expected tls.mode acme or manual, or no listen.https\n" +
				"site.yaml:9: tls.hsts: only used with tls.mode acme or manual; expected no tls.hsts when tls.mode is off"},
		{"manual without files", file(map[int]string{4: `  https: ":443"`}, "tls:", "  mode: manual"),
			"site.yaml:7: tls.cert_file: missing; expected a PEM file path when tls.mode is manual\n" +
				"site.yaml:7: tls.key_file: missing; expected a PEM file path when tls.mode is manual"},
		{"cert_file with acme", file(map[int]string{4: `  https: ":443"`}, "tls:", "  cert_file: edge.crt"),
			`site.yaml:8: tls.cert_file: only used with tls.mode manual; expected no tls.cert_file when tls.mode is acme`},
		{"email without https", file(nil, "tls:", "  email: ops@client.com"),
			`site.yaml:8: tls.email: only used with tls.mode acme; expected no tls.email when tls.mode is off (the default without listen.https)`},
		{"plain http CA", file(map[int]string{4: `  https: ":443"`}, "tls:", "  ca: http://ca.client.com/directory"),
			`site.yaml:8: tls.ca: "http://ca.client.com/directory" is not an ACME directory URL (http is only allowed on a loopback host); expected an absolute https URL of an ACME directory (http only on a loopback host), e.g. https://acme-v02.api.letsencrypt.org/directory`},
		{"bad email", file(map[int]string{4: `  https: ":443"`}, "tls:", "  email: Ops <ops@client.com>"),
			`site.yaml:8: tls.email: "Ops <ops@client.com>" is not an email address; expected an email address such as ops@client.com`},
		{"unknown challenge", file(map[int]string{4: `  https: ":443"`}, "tls:", "  challenges: [dns-01, tls-alpn-01, tls-alpn-01]"),
			"site.yaml:8: tls.challenges[0]: \"dns-01\" is not an ACME challenge type; expected http-01 or tls-alpn-01\n" +
				"site.yaml:8: tls.challenges[2]: \"tls-alpn-01\" is listed twice; expected each challenge type once"},
		{"http-01 without listen.http", file(map[int]string{4: `  https: ":443"`}, "tls:", "  challenges: [http-01]"),
			`site.yaml:8: tls.challenges[0]: "http-01" needs an HTTP listener; expected listen.http, e.g. ":80", or only tls-alpn-01`},
		{"empty challenges", file(map[int]string{4: `  https: ":443"`}, "tls:", "  challenges: []"),
			`site.yaml:8: tls.challenges: empty list; expected at least one of http-01 or tls-alpn-01`},
		{"bad EAB", file(map[int]string{4: `  https: ":443"`}, "tls:", "  eab:", "    hmac_key: not+base64/url"),
			"site.yaml:8: tls.eab.key_id: missing; expected the key ID from the CA\n" +
				"site.yaml:9: tls.eab.hmac_key: the value is not base64url; expected the key from the CA in base64url (A-Z a-z 0-9 - _)"},

		// Log.
		{"bad log level", file(nil, "log:", "  level: verbose"),
			`site.yaml:8: log.level: "verbose" is not a log level; expected debug, info, warn or error`},
		{"bad log format", file(nil, "log:", "  format: JSON"),
			`site.yaml:8: log.format: "JSON" is not a log format; expected text or json`},
		{"bad oversize", file(nil, "html:", "  oversize: truncate"),
			`site.yaml:8: html.oversize: "truncate" is not an oversize mode; expected stream or pass`},

		// The file as a whole.
		{"syntax error", []byte("hosts: [icp.client.com\norigin: x\n"),
			`site.yaml:1: invalid YAML: did not find expected ',' or ']'`},
		{"tab indentation", []byte("notice:\n\ticp: 京ICP备12345678号\n"),
			`site.yaml:2: invalid YAML: found character that cannot start any token`},
		{"second document", file(nil, "---", "hosts: [b.client.com]"),
			`site.yaml:7: a second YAML document; expected one document per file`},
		{"top level list", []byte("- icp.client.com\n"),
			`site.yaml:1: got a list; expected a mapping with keys ` + wantTop},
		{"empty file", nil,
			"site.yaml:1: hosts: missing; expected a list of host names, e.g. [icp.client.com]\n" +
				"site.yaml:1: origin: missing; " + wantOrigin + "\n" +
				`site.yaml:1: listen: no listener; expected listen.http or listen.https, e.g. http: ":80"` + "\n" +
				"site.yaml:1: notice.icp: missing; " + strings.Replace(wantICP, "expected ", "expected an ICP number: ", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("site.yaml", tt.data)
			if err == nil {
				t.Fatalf("got %+v, no error; want\n%s", c, tt.want)
			}
			if c != nil {
				t.Errorf("got a Config with an error; want nil")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestLoadExample(t *testing.T) {
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("Load(example.yaml): %v", err)
	}
	if c.Notice.ICP != "京ICP备12345678号-1" || c.TLS.Mode != "acme" || len(c.Cache.Rules) != 2 {
		t.Errorf("got %+v; want the example's values", c)
	}
	onDisk, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := ExampleYAML(); !bytes.Equal(got, onDisk) {
		t.Errorf("ExampleYAML() differs from example.yaml")
	}
	ExampleYAML()[0] = 'X'
	if ExampleYAML()[0] == 'X' {
		t.Errorf("ExampleYAML() shares its backing array; want a fresh copy")
	}
	if _, err := Parse("/etc/icpedge/icp.yaml", ExampleYAML()); err != nil {
		t.Errorf("Parse(ExampleYAML()): %v", err)
	}
}

// TestExampleHasEveryKey keeps the example in step with the parser: every
// key the parser knows appears in it, set or commented out.
func TestExampleHasEveryKey(t *testing.T) {
	text := string(ExampleYAML())
	sections := map[string][]string{
		"": topKeys, "listen": listenKeys, "notice": noticeKeys, "timeouts": timeoutKeys,
		"html": htmlKeys, "limits": limitKeys, "log": logKeys, "cache": cacheKeys, "cache.rules": cacheRuleKey,
		"admin": adminKeys, "tls": tlsKeys, "tls.eab": eabKeys,
		"apex": apexKeys, "policy": policyKeys, "policy.block": blockKeys, "check": checkKeys,
		"localize": localizeKeys, "cluster": clusterKeys, "localize.google_fonts_mirror": mirrorKeys, "localize.rules": locRuleKeys,
	}
	for section, keys := range sections {
		for _, k := range keys {
			if !strings.Contains(text, k+":") {
				t.Errorf("example.yaml lacks %s", join(section, k))
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("/etc/icpedge/client.yaml", file(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Origin.String(); got != "https://www.client.com" {
		t.Errorf("Origin = %s; want https://www.client.com", got)
	}
	c.Origin = nil
	c.lines = nil
	want := &Config{
		File:         "/etc/icpedge/client.yaml",
		Hosts:        []string{"icp.client.com"},
		OriginHost:   "www.client.com",
		RewriteHosts: []string{"www.client.com"},
		Listen:       Listen{HTTP: ":80"},
		StateDir:     "/var/lib/icpedge/client",
		Notice:       Notice{ICP: "京ICP备12345678号-1"},
		Timeouts:     Timeouts{Connect: 5 * time.Second, Response: 60 * time.Second, OriginIdle: 30 * time.Second, Shutdown: 30 * time.Second, RequestBody: 30 * time.Second},
		HTML:         HTML{MaxSize: 8 << 20, Oversize: "stream"},
		Limits:       Limits{BufferMemory: 64 << 20, RequestBody: 64 << 20},
		Localize:     Localize{Trackers: "defer"},
		Log:          Log{Format: "text", Level: "info"},
		Cache: Cache{
			Enabled:          true,
			Dir:              "/var/lib/icpedge/client/cache",
			MaxSize:          1 << 30,
			Memory:           16 << 20,
			StaleIfError:     7 * 24 * time.Hour,
			BypassCookies:    DefaultBypassCookies(),
			EarlyHintsMaxAge: 24 * time.Hour,
		},
		Admin:  Admin{Listen: "127.0.0.1:9080", TokenFile: "/var/lib/icpedge/client/admin.token"},
		TLS:    TLS{Mode: "off"},
		Policy: Policy{Defaults: true},
		Check:  Check{Pages: 10, Timeout: 15 * time.Second, RDAPBootstrap: DefaultRDAPBootstrap},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestCacheTargeted(t *testing.T) {
	c, err := Parse("site.yaml", file(nil, "cache:", "  targeted: icpedge-cache-control", "  early_hints_max_age: 0s"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cache.Targeted != "Icpedge-Cache-Control" || c.Cache.EarlyHintsMaxAge != 0 {
		t.Errorf("got targeted %q, early hints max age %v; want Icpedge-Cache-Control, 0s", c.Cache.Targeted, c.Cache.EarlyHintsMaxAge)
	}
}

// An empty list turns session-cookie bypass off; an empty value means the
// default list, like every other key.
func TestBypassCookiesEmpty(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"  bypass_cookies: []", []string{}},
		{"  bypass_cookies:", DefaultBypassCookies()},
		{"  bypass_cookies: ~", DefaultBypassCookies()},
	} {
		c, err := Parse("site.yaml", file(nil, "cache:", tt.line))
		if err != nil {
			t.Fatalf("%q: %v", tt.line, err)
		}
		if !reflect.DeepEqual(c.Cache.BypassCookies, tt.want) {
			t.Errorf("%q: BypassCookies = %#v; want %#v", tt.line, c.Cache.BypassCookies, tt.want)
		}
	}
}

func TestDefaultsWithHTTPS(t *testing.T) {
	c, err := Parse("site.yml", file(map[int]string{4: `  https: ":443"`}, "admin:", `  listen: ""`, "rewrite_hosts: []"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.Mode != "acme" || c.TLS.CA != DefaultCA || !reflect.DeepEqual(c.TLS.Challenges, []string{"tls-alpn-01"}) {
		t.Errorf("TLS = %+v; want mode acme with CA %s, tls-alpn-01 only", c.TLS, DefaultCA)
	}
	if c.StateDir != "/var/lib/icpedge/site" {
		t.Errorf("StateDir = %q; want /var/lib/icpedge/site", c.StateDir)
	}
	if c.Admin.Listen != "" {
		t.Errorf("Admin.Listen = %q; want \"\" (off)", c.Admin.Listen)
	}
	if c.RewriteHosts == nil || len(c.RewriteHosts) != 0 {
		t.Errorf("RewriteHosts = %#v; want empty, as given", c.RewriteHosts)
	}
}

func TestValues(t *testing.T) {
	c, err := Parse("site.yaml", file(map[int]string{1: "hosts: [ICP.Client.com, 例子.中国]", 2: "origin: https://203.0.113.7:8443/base/"},
		"  company: 北京客户科技有限公司",
		"  police: 京公网安备11010502012345号",
		"  selector: div.copyright",
		"origin_host: WWW.Client.com",
		"trusted_proxies: [10.0.0.1, 2001:db8::/32]",
		"timeouts: {connect: 1d12h, response: 1.5s, origin_idle: 2m, request_body: 10s}",
		"html: {max_size: 1 MB, oversize: pass}",
		"limits: {buffer_memory: 256MiB, request_body: 10MB}",
		"cache: {enabled: false, max_size: 2GB, memory: 0, stale_while_revalidate: 30s, bypass_cookies: [PHPSESSID, 'my_app_*', '?sid'],",
		"  preset: wordpress, preset_ttl: 10m, bypass_paths: [/account/, checkout, '/shop/*.php'], bypass_queries: [s, preview=true, 'add-to-cart'],",
		"  rules: [{path: /static/, ttl: 30d}, {path: /, type: text/html, ttl: 2m, override: private}, {path: /, type: 'image/*', ttl: 1h}]}",
	))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Hosts", c.Hosts, []string{"icp.client.com", "xn--fsqu00a.xn--fiqs8s"}},
		{"Origin", c.Origin.String(), "https://203.0.113.7:8443/base"},
		{"OriginHost", c.OriginHost, "www.client.com"},
		{"RewriteHosts", c.RewriteHosts, []string{"www.client.com"}},
		{"TrustedProxies", c.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("2001:db8::/32")}},
		{"Notice", c.Notice, Notice{ICP: "京ICP备12345678号-1", Company: "北京客户科技有限公司", Police: "京公网安备11010502012345号", Selector: "div.copyright"}},
		{"Timeouts", c.Timeouts, Timeouts{Connect: 36 * time.Hour, Response: 1500 * time.Millisecond, OriginIdle: 2 * time.Minute, Shutdown: 30 * time.Second, RequestBody: 10 * time.Second}},
		{"HTML", c.HTML, HTML{MaxSize: 1000000, Oversize: "pass"}},
		{"Limits", c.Limits, Limits{BufferMemory: 256 << 20, RequestBody: 10000000}},
		{"Cache.Enabled", c.Cache.Enabled, false},
		{"Cache.MaxSize", c.Cache.MaxSize, int64(2000000000)},
		{"Cache.Memory", c.Cache.Memory, int64(0)},
		{"Cache.StaleWhileRevalidate", c.Cache.StaleWhileRevalidate, 30 * time.Second},
		{"Cache.BypassCookies", c.Cache.BypassCookies, []string{"PHPSESSID", "my_app_*", "?sid"}},
		{"Cache.Rules", c.Cache.Rules, []CacheRule{{Path: "/static/", TTL: 30 * 24 * time.Hour},
			{Path: "/", Type: "text/html", TTL: 2 * time.Minute, OverridePrivate: true}, {Path: "/", Type: "image/*", TTL: time.Hour}}},
		{"Cache.Preset", c.Cache.Preset, "wordpress"},
		{"Cache.PresetTTL", c.Cache.PresetTTL, 10 * time.Minute},
		{"Cache.BypassPaths", c.Cache.BypassPaths, []string{"/account/", "checkout", "/shop/*.php"}},
		{"Cache.BypassQueries", c.Cache.BypassQueries, []string{"s", "preview=true", "add-to-cart"}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v; want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	acme := write("acme.yaml", file(map[int]string{4: `  https: ":443"`},
		"state_dir: state", "log:", "  access_file: logs/access.log", "cache:", "  dir: ../shared/cache",
		"admin:", "  token_file: /etc/icpedge/token", "tls:", "  ca_root: pki/root.pem"))
	c, err := Load(acme)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range []struct{ name, got, want string }{
		{"StateDir", c.StateDir, filepath.Join(dir, "state")},
		{"Log.AccessFile", c.Log.AccessFile, filepath.Join(dir, "logs/access.log")},
		{"Cache.Dir", c.Cache.Dir, filepath.Join(filepath.Dir(dir), "shared/cache")},
		{"Admin.TokenFile", c.Admin.TokenFile, "/etc/icpedge/token"},
		{"TLS.CARoot", c.TLS.CARoot, filepath.Join(dir, "pki/root.pem")},
	} {
		if ck.got != ck.want {
			t.Errorf("%s = %q; want %q", ck.name, ck.got, ck.want)
		}
	}

	manual := write("manual.yaml", file(map[int]string{4: `  https: ":443"`}, "tls:", "  mode: manual", "  cert_file: edge.crt", "  key_file: ./keys/edge.key"))
	c, err = Load(manual)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "edge.crt"); c.TLS.CertFile != want {
		t.Errorf("TLS.CertFile = %q; want %q", c.TLS.CertFile, want)
	}
	if want := filepath.Join(dir, "keys/edge.key"); c.TLS.KeyFile != want {
		t.Errorf("TLS.KeyFile = %q; want %q", c.TLS.KeyFile, want)
	}
	if want := filepath.Join(dir, "state"); c.StateDir == want {
		t.Errorf("StateDir = %q; want the default, not another file's", c.StateDir)
	}

	// Parse joins relative paths to name's directory as given.
	c, err = Parse("conf/site.yaml", file(nil, "state_dir: state"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("conf", "state"); c.StateDir != want {
		t.Errorf("Parse: StateDir = %q; want %q", c.StateDir, want)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("testdata/missing.yaml")
	if want := "reading config: open testdata/missing.yaml: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("got %v; want %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false; want true", err)
	}

	_, err = Load("testdata/problems.yaml")
	if err == nil {
		t.Fatal("no error; want problems")
	}
	want, rerr := os.ReadFile("testdata/problems.txt")
	if rerr != nil {
		t.Fatal(rerr)
	}
	if got := err.Error() + "\n"; got != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// Each line is a *Problem that callers can inspect.
	var first *Problem
	if !errors.As(err, &first) {
		t.Fatalf("errors.As(err, *Problem) = false; want true")
	}
	if first.File != "testdata/problems.yaml" || first.Line != 2 || first.Key != "hosts[0]" {
		t.Errorf("first problem = %+v; want testdata/problems.yaml:2 hosts[0]", first)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%T has no Unwrap() []error", err)
	}
	if got, want := len(joined.Unwrap()), strings.Count(string(want), "\n"); got != want {
		t.Errorf("got %d problems; want %d", got, want)
	}
}

func TestICPNumbers(t *testing.T) {
	var accept []string
	for _, p := range "京津沪渝冀豫云滇辽黑湘皖鲁新苏浙赣鄂桂甘陇晋蒙陕秦吉闽贵黔粤青藏川蜀宁琼港澳台" {
		accept = append(accept, string(p)+"ICP备12345678号")
	}
	accept = append(accept,
		"蜀ICP备12345678号", "黔ICP备2021012345号", "滇ICP备123456789号-3", "陇ICP备12345678号-12",
		"京ICP证123456号", "粤ICP证030173号",
	)
	reject := []string{
		"京ICP备1234567号",       // 7 digits
		"京ICP备12345678901号",   // 11 digits
		"京ICP12345678号",       // no 备
		"京ICP备12345678",       // no 号
		"京ICP备12345678号-",     // empty sequence number
		"京ICP备12345678号-0",    // sequences start at 1
		"京ICP备12345678号－1",    // full-width hyphen
		"京 ICP备12345678号",     // space
		"京icp备12345678号",      // lower case
		"ICP备12345678号",       // no province
		"申ICP备12345678号",      // not an official abbreviation
		"京ICP证12345号",         // licence, 5 digits
		"京ICP证123456号-1",      // licences have no sequence
		"京ICP备12345678号京ICP备", // trailing junk
	}
	for _, s := range accept {
		if !icpRE.MatchString(s) {
			t.Errorf("icpRE rejects %s; want accepted", s)
		}
	}
	for _, s := range reject {
		if icpRE.MatchString(s) {
			t.Errorf("icpRE accepts %s; want rejected", s)
		}
	}
	if n := len([]rune(provinces)); n != 39 {
		t.Errorf("%d province abbreviations; want 39 (34 divisions, 5 with a classical form too)", n)
	}
}

func TestPoliceNumbers(t *testing.T) {
	for s, want := range map[string]bool{
		"京公网安备11010502012345号":  true,
		"川公网安备51010702001234号":  true,
		"京公网安备1101050201234号":   false,
		"京公网安备110105020123456号": false,
		"京公安网备11010502012345号":  false,
		"公网安备11010502012345号":   false,
	} {
		if got := policeRE.MatchString(s); got != want {
			t.Errorf("policeRE.MatchString(%s) = %v; want %v", s, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"30s", 30 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"180d", 180 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"1d0s", 24 * time.Hour, true},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"-1d", 0, false},
		{"1d-1h", 0, false},
		{"-5s", 0, false},
		{"+5s", 0, false},
		{"60", 0, false},
		{"5 s", 0, false},
		{"999999999d", 0, false},
		{"106751d24h", 0, false},
		{"", 0, false},
	} {
		got, ok := parseDuration(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"512B", 512, true},
		{"1KB", 1000, true},
		{"1KiB", 1024, true},
		{"64MiB", 64 << 20, true},
		{"64 MiB", 64 << 20, true},
		{"2GB", 2e9, true},
		{"1GiB", 1 << 30, true},
		{"8589934591GiB", 8589934591 << 30, true},
		{"8589934592GiB", 0, false},
		{"1gb", 0, false},
		{"1Gb", 0, false},
		{"1TB", 0, false},
		{"-1", 0, false},
		{"1.5MiB", 0, false},
		{"MiB", 0, false},
		{"1  MiB", 0, false},
		{"", 0, false},
	} {
		got, ok := parseSize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSize(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHostName(t *testing.T) {
	for _, tt := range []struct{ in, want, reason string }{
		{"icp.client.com", "icp.client.com", ""},
		{"ICP.Client.COM", "icp.client.com", ""},
		{"localhost", "localhost", ""},
		{"例子.中国", "xn--fsqu00a.xn--fiqs8s", ""},
		{"xn--fsqu00a.xn--fiqs8s", "xn--fsqu00a.xn--fiqs8s", ""},
		{"a-b.client.com", "a-b.client.com", ""},
		{"-a.client.com", "", "has a label that starts or ends with a hyphen"},
		{"icp.client.com.", "", "ends with a dot"},
		{"icp..client.com", "", "has an empty label"},
		{"::1", "", "is an IP address"},
		{"[::1]", "", "is an IP address"},
		{"1.2.3", "", "ends in a numeric label"},
		{"icp.client.com/path", "", "has a path"},
		{strings.Repeat("a", 64) + ".com", "", "has a label longer than 63 characters"},
		{strings.Repeat("a.", 127) + "com", "", "is longer than 253 characters"},
	} {
		got, reason := hostName(tt.in)
		if got != tt.want || reason != tt.reason {
			t.Errorf("hostName(%q) = %q, %q; want %q, %q", tt.in, got, reason, tt.want, tt.reason)
		}
	}
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		":80":            "",
		"127.0.0.1:0":    "",
		"[::1]:443":      "",
		"localhost:8080": "",
		"80":             "no port",
		":65536":         `port "65536" is not 0-65535`,
		"a b:80":         "host has a space",
		"[::1:80":        "not host:port",
	} {
		if got := listenAddr(in); got != want {
			t.Errorf("listenAddr(%q) = %q; want %q", in, got, want)
		}
	}
}

// FuzzParse checks that no file makes Parse panic, that a failure always
// explains itself, and that a success has its required fields.
func FuzzParse(f *testing.F) {
	f.Add(ExampleYAML())
	f.Add(file(nil))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("hosts: [a]\n<<: {b: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatalf("got a Config and an error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml:") {
					t.Fatalf("problem %q does not start with the file name", line)
				}
			}
			return
		}
		if len(c.Hosts) == 0 || c.Origin == nil || c.Notice.ICP == "" || c.Listen.HTTP == "" && c.Listen.HTTPS == "" {
			t.Fatalf("Parse succeeded without required fields: %+v", c)
		}
	})
}
