package edge

import (
	"log/slog"
	"reflect"
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
