package edge

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

// localizeRules turns the localize section into the rewriter's rules: the
// instance's own rules first, so that they win over a preset's for the
// same match, then the presets', in the order listed.
func localizeRules(cfg *config.Config) ([]rewrite.LocalizeRule, error) {
	l := cfg.Localize
	var out []rewrite.LocalizeRule
	for _, r := range l.Rules {
		out = append(out, rewrite.LocalizeRule{Match: r.Match, Action: rewrite.Action(r.Action), With: r.With})
	}
	presets, err := rewrite.ExpandPresets(l.Presets, rewrite.PresetOptions{
		FontsCSS:   l.GoogleFontsMirror.CSS,
		FontsFiles: l.GoogleFontsMirror.Files,
		Trackers:   rewrite.Action(l.Trackers),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: localize: %w", cfg.File, err)
	}
	return append(out, presets...), nil
}

// proxyOptions maps the instance's config onto the handler's options.
func proxyOptions(cfg *config.Config, logger *slog.Logger) (proxy.Options, error) {
	var roots *x509.CertPool
	if cfg.OriginCA != "" {
		pem, err := os.ReadFile(cfg.OriginCA)
		if err != nil {
			return proxy.Options{}, fileProblem(cfg, "origin_ca", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return proxy.Options{}, fileProblem(cfg, "origin_ca", fmt.Errorf("%s holds no PEM certificate; expected one or more CERTIFICATE blocks", cfg.OriginCA))
		}
	}
	localize, err := localizeRules(cfg)
	if err != nil {
		return proxy.Options{}, err
	}
	preset, err := proxy.ExpandCachePreset(cfg.Cache.Preset, cfg.Cache.PresetTTL)
	if err != nil {
		return proxy.Options{}, fmt.Errorf("%s: cache.preset: %w", cfg.File, err)
	}
	return proxy.Options{
		RootCAs:    roots,
		Hosts:      cfg.Hosts,
		Origin:     cfg.Origin,
		OriginHost: cfg.OriginHost,
		Rewrite: rewrite.Options{
			Notice: rewrite.Notice{
				ICP:      cfg.Notice.ICP,
				Company:  cfg.Notice.Company,
				Police:   cfg.Notice.Police,
				Selector: cfg.Notice.Selector,
			},
			RewriteHosts: cfg.RewriteHosts,
			Localize:     localize,
		},
		TrustedProxies:     cfg.TrustedProxies,
		ConnectTimeout:     cfg.Timeouts.Connect,
		ResponseTimeout:    cfg.Timeouts.Response,
		OriginIdleTimeout:  cfg.Timeouts.OriginIdle,
		RequestBodyTimeout: cfg.Timeouts.RequestBody,
		MaxRequestBody:     cfg.Limits.RequestBody,
		MaxHTMLSize:        cfg.HTML.MaxSize,
		CachePolicy:        cachePolicy(cfg.Cache, preset),
		BypassCookies:      appendNew(cfg.Cache.BypassCookies, preset.BypassCookies),
		BypassPaths:        appendNew(cfg.Cache.BypassPaths, preset.BypassPaths),
		BypassQueries:      appendNew(cfg.Cache.BypassQueries, preset.BypassQueries),
		EarlyHintsMaxAge:   earlyHintsMaxAge(cfg.Cache.EarlyHintsMaxAge),
		PassOversize:       cfg.HTML.Oversize == "pass",
		Block:              blockRules(cfg.Policy),
		Landing:            landingFor(cfg),
		Logger:             logger,
	}, nil
}

// earlyHintsMaxAge maps cache.early_hints_max_age onto the proxy's
// option, where zero means the default and negative none.
func earlyHintsMaxAge(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// cachePolicy maps cache settings onto the proxy's policy: the file's own
// rules first, so that they win over the preset's for the same path and
// type.
func cachePolicy(c config.Cache, preset proxy.CachePreset) cache.Policy {
	p := cache.Policy{StaleIfError: c.StaleIfError, StaleWhileRevalidate: c.StaleWhileRevalidate, Targeted: c.Targeted}
	for _, r := range c.Rules {
		p.Rules = append(p.Rules, cache.Rule{Prefix: r.Path, Type: r.Type, TTL: r.TTL, OverridePrivate: r.OverridePrivate})
	}
	p.Rules = append(p.Rules, preset.Rules...)
	return p
}

// appendNew returns list with the items of more it lacks added, as a
// fresh slice. An empty, non-nil list stays non-nil: for bypass_cookies
// it means none, not the default.
func appendNew(list, more []string) []string {
	out := append(make([]string, 0, len(list)+len(more)), list...)
	for _, s := range more {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// blockRules is the content policy of a config: the default set unless
// turned off, then the instance's own rules.
func blockRules(p config.Policy) []proxy.BlockRule {
	var rules []proxy.BlockRule
	if p.Defaults {
		rules = proxy.DefaultBlockRules()
	}
	for _, r := range p.Block {
		rules = append(rules, proxy.BlockRule{Name: r.Key, Path: r.Path, Type: r.Type, MaxSize: r.MaxSize})
	}
	return rules
}

// landingFor is the apex landing page of a config, or nil.
func landingFor(cfg *config.Config) *proxy.Landing {
	if cfg.Apex.Host == "" || cfg.Apex.Mode != "landing" {
		return nil
	}
	scheme := "https"
	if cfg.TLS.Mode == "off" {
		scheme = "http"
	}
	// The public port: visitors reach the edge on 80 or 443.
	site := scheme + "://" + cfg.Hosts[0] + "/"
	return &proxy.Landing{Host: cfg.Apex.Host, Company: cfg.Notice.Company, SiteURL: site}
}
