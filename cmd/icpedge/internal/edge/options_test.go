package edge

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
)

// The default session cookies are written down twice, because config and
// proxy don't import each other: they must not drift apart.
func TestDefaultBypassCookiesAgree(t *testing.T) {
	if c, p := config.DefaultBypassCookies(), proxy.DefaultBypassCookies(); !reflect.DeepEqual(c, p) {
		t.Errorf("config's default bypass_cookies %q; proxy's %q; want the same list", c, p)
	}
}

func TestProxyOptionsCacheSafety(t *testing.T) {
	cfg, err := config.Parse("site.yaml", []byte(`hosts: [icp.client.com]
origin: https://www.client.com
listen: {http: ":80"}
notice: {icp: 京ICP备12345678号-1}
timeouts: {origin_idle: 45s}
cache: {bypass_cookies: [], targeted: ICPEdge-Cache-Control, early_hints_max_age: 0s}
`))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := proxyOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if opts.OriginIdleTimeout != 45*time.Second {
		t.Errorf("OriginIdleTimeout %v; want 45s", opts.OriginIdleTimeout)
	}
	if opts.EarlyHintsMaxAge >= 0 {
		t.Errorf("EarlyHintsMaxAge %v; want negative (off) for early_hints_max_age: 0s", opts.EarlyHintsMaxAge)
	}
	if opts.CachePolicy.Targeted != "Icpedge-Cache-Control" {
		t.Errorf("CachePolicy.Targeted %q; want Icpedge-Cache-Control", opts.CachePolicy.Targeted)
	}
	// [] must reach the proxy as "none", not as nil, which means the default.
	if opts.BypassCookies == nil || len(opts.BypassCookies) != 0 {
		t.Errorf("BypassCookies %#v; want empty, not nil", opts.BypassCookies)
	}
}

func wpOptions(t *testing.T, cache string) proxy.Options {
	t.Helper()
	cfg, err := config.Parse("site.yaml", []byte(`hosts: [icp.client.com]
origin: https://www.client.com
listen: {http: ":80"}
notice: {icp: 京ICP备12345678号-1}
`+cache))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := proxyOptions(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// cache.preset: wordpress is the README's plain configuration for
// WordPress, added to the defaults: the preset and its written-out form
// must not drift apart.
func TestWordPressPresetAsPlainConfig(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## WordPress\n")
	_, rest, ok := strings.Cut(section, "Each part is plain configuration too.")
	if !ok {
		t.Fatal("README.md's WordPress section lacks the preset written out")
	}
	_, block, _ := strings.Cut(rest, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	plain := wpOptions(t, block)
	preset := wpOptions(t, "cache: {preset: wordpress}\n")
	if !reflect.DeepEqual(plain.BypassPaths, preset.BypassPaths) || !reflect.DeepEqual(plain.BypassQueries, preset.BypassQueries) ||
		!reflect.DeepEqual(plain.CachePolicy.Rules, preset.CachePolicy.Rules) {
		t.Errorf("README: paths %q, queries %q, rules %+v; the preset: %q, %q, %+v",
			plain.BypassPaths, plain.BypassQueries, plain.CachePolicy.Rules, preset.BypassPaths, preset.BypassQueries, preset.CachePolicy.Rules)
	}
	want := append(config.DefaultBypassCookies(), plain.BypassCookies...)
	for _, c := range want {
		if !slices.Contains(preset.BypassCookies, c) {
			t.Errorf("the preset's bypass cookies lack %s", c)
		}
	}
	for _, c := range preset.BypassCookies {
		if !slices.Contains(want, c) {
			t.Errorf("the preset bypasses %s, which the README's plain form and the default list don't", c)
		}
	}
	// Your own rules come first, and win over the preset's for the same
	// path and type; preset_ttl sets the preset's.
	own := wpOptions(t, "cache: {preset: wordpress, preset_ttl: 1m, bypass_cookies: [], rules: [{path: /, type: text/html, ttl: 30s}]}\n")
	if r, _ := own.CachePolicy.Match("/", "text/html"); r.TTL != 30*time.Second {
		t.Errorf("own rule and the preset's: %v wins; want the own rule's 30s", r.TTL)
	}
	if n := len(own.CachePolicy.Rules); n != 2 || own.CachePolicy.Rules[1].TTL != time.Minute {
		t.Errorf("rules %+v; want the own rule, then the preset's for 1m", own.CachePolicy.Rules)
	}
	if !slices.Contains(own.BypassCookies, "wordpress_logged_in_*") {
		t.Errorf("bypass_cookies: [] with the preset: %q; want the preset's cookies still", own.BypassCookies)
	}
}
