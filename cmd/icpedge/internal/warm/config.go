package warm

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"slices"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/admin"
	"github.com/icpedge/icpedge/config"
)

// Select picks the clients of a config directory dir to warm: those
// names (their files' names without .yaml), or all when names is empty,
// from what config.LoadDir returned. A client whose file sets no
// listener is given the process's, listen, as serve --config-dir does.
// A name that is not a client's, or whose file does not load, is an
// error, as is a directory of which no client is left.
func Select(dir string, cfgs []*config.Config, broken map[string]error, names []string, listen config.Listen) ([]*config.Config, error) {
	for _, n := range names {
		if err := broken[n]; err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(cfgs, func(c *config.Config) bool { return c.Name() == n }) {
			return nil, fmt.Errorf("no client %q in %s (expected the name of a *.yaml file there)", n, dir)
		}
	}
	var out []*config.Config
	for _, c := range cfgs {
		if len(names) == 0 || slices.Contains(names, c.Name()) {
			if c.Listen.HTTP == "" {
				c.Listen.HTTP = listen.HTTP
			}
			if c.Listen.HTTPS == "" {
				c.Listen.HTTPS = listen.HTTPS
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no client's file in %s loads", dir)
	}
	return out, nil
}

// ForConfig maps the client of cfg onto Options: where its edge listens
// and how to reach its admin listener (proc: the file's, or the shared
// process's). Pages are warmed over HTTPS when the edge serves it, since
// the scheme is part of the cache key, and over plain HTTP until it has
// a certificate. notes are what the operator should know that does not
// stop the warming.
func ForConfig(ctx context.Context, cfg *config.Config, proc config.Admin) (o Options, notes []string, err error) {
	o = Options{
		Hosts:      cfg.Hosts,
		SiteHosts:  append(slices.Clone(cfg.RewriteHosts), cfg.OriginHost),
		Origin:     cfg.Origin,
		OriginHost: cfg.OriginHost,
		Client:     cfg.Name(),
		Scheme:     "http",
		Edge:       admin.DialAddr(cfg.Listen.HTTP),
	}
	if cfg.OriginCA != "" {
		pem, err := os.ReadFile(cfg.OriginCA)
		if err != nil {
			return o, nil, fmt.Errorf("origin_ca: %w", err)
		}
		o.OriginCA = x509.NewCertPool()
		if !o.OriginCA.AppendCertsFromPEM(pem) {
			return o, nil, fmt.Errorf("origin_ca: %s holds no PEM certificate", cfg.OriginCA)
		}
	}
	if cfg.TLS.Mode != "off" && cfg.Listen.HTTPS != "" {
		addr := admin.DialAddr(cfg.Listen.HTTPS)
		err := HTTPSReady(ctx, addr, cfg.Hosts[0])
		switch {
		case err == nil:
			o.Scheme, o.Edge = "https", addr
		case cfg.Listen.HTTP == "":
			return o, nil, fmt.Errorf("the edge's HTTPS listener at %s has no certificate for %s yet (%v), and listen.http is off", addr, cfg.Hosts[0], err)
		default:
			notes = append(notes, fmt.Sprintf("no certificate for %s yet (%v): warming http:// pages; visitors use https://, so run icpedge warm again once the certificate is in place", cfg.Hosts[0], err))
		}
	}
	if o.Edge == "" {
		return o, nil, fmt.Errorf("no listener to warm through: listen.http and listen.https are off")
	}
	if proc.Listen != "" {
		o.Admin = admin.DialAddr(proc.Listen)
		if o.AdminToken, err = admin.ReadToken(proc.TokenFile); err != nil {
			// The pages warm without it; only the cache figures need it.
			notes = append(notes, fmt.Sprintf("%v (cache figures not shown)", err))
		}
	}
	return o, notes, nil
}
