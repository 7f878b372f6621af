package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/warm"
	"github.com/icpedge/icpedge/config"
	"golang.org/x/term"
)

const warmSynopsis = "warm (--config FILE | --config-dir DIR [NAME...]) [--sitemap URL] [--concurrency N] [--rate R]"

func warmMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("warm", warmSynopsis, stdout, stderr)
	path := fs.String("config", "", "the client's YAML config `file`")
	dir := fs.String("config-dir", "", "the shared process's config `DIR`: warm the clients NAME... (file names without .yaml), or all")
	sitemap := fs.String("sitemap", "", "read this sitemap `URL` instead of the edge's /sitemap.xml")
	concurrency := fs.Int("concurrency", 4, "the most pages fetched at once")
	rate := fs.Float64("rate", 5, "the most requests started per second")
	listen := procListenFlags(fs)
	admin := procAdminFlags(fs)
	// Names follow --config-dir, and flags may come after them.
	names, ok, code := fs.ParseInterleaved(args)
	if !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "icpedge warm: "+format+"\n", a...)
		return 2
	}
	switch {
	case (*path == "") == (*dir == ""):
		return fail("give one of --config FILE or --config-dir DIR")
	case *path != "" && len(names) > 0:
		return fail("client names only go with --config-dir: %s", strings.Join(names, " "))
	case *concurrency < 1:
		return fail("--concurrency %d: expected 1 or more", *concurrency)
	case !(*rate > 0):
		return fail("--rate %v: expected more than 0 pages per second", *rate)
	}

	var cfgs []*config.Config
	proc := admin.value()
	if *path != "" {
		cfg, err := config.Load(*path)
		if err != nil {
			fmt.Fprintf(stderr, "icpedge warm: %v\n", err)
			return 1
		}
		cfgs, proc = []*config.Config{cfg}, cfg.Admin
	} else {
		all, broken, err := config.LoadDir(*dir)
		if err != nil {
			fmt.Fprintf(stderr, "icpedge warm: %v\n", err)
			return 1
		}
		for _, n := range names {
			if err := broken[n]; err != nil {
				fmt.Fprintf(stderr, "icpedge warm: %v\n", err)
				return 1
			}
			if !slices.ContainsFunc(all, func(c *config.Config) bool { return c.Name() == n }) {
				fmt.Fprintf(stderr, "icpedge warm: no client %q in %s (expected the name of a *.yaml file there)\n", n, *dir)
				return 1
			}
		}
		for _, c := range all {
			if len(names) == 0 || slices.Contains(names, c.Name()) {
				if c.Listen.HTTP == "" {
					c.Listen.HTTP = *listen.http
				}
				if c.Listen.HTTPS == "" {
					c.Listen.HTTPS = *listen.https
				}
				cfgs = append(cfgs, c)
			}
		}
		if len(cfgs) == 0 {
			fmt.Fprintf(stderr, "icpedge warm: no client's file in %s loads\n", *dir)
			return 1
		}
	}
	if *sitemap != "" && len(cfgs) > 1 {
		return fail("--sitemap is for one client; name it after --config-dir DIR")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	terminal := false
	if f, ok := stdout.(*os.File); ok {
		terminal = term.IsTerminal(int(f.Fd()))
	}
	code = 0
	for _, cfg := range cfgs {
		if len(cfgs) > 1 {
			fmt.Fprintf(stdout, "== %s\n", cfg.Name())
		}
		o, err := warmOptions(ctx, cfg, proc, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "icpedge warm: %s: %v\n", cfg.File, err)
			code = 1
			continue
		}
		o.Sitemap, o.Concurrency, o.Rate = *sitemap, *concurrency, *rate
		o.Progress, o.Terminal = stdout, terminal
		rep, err := warm.Run(ctx, o)
		if rep != nil {
			rep.WriteSummary(stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "icpedge warm: %s: %v\n", cfg.Name(), err)
			code = 1
		} else if !rep.OK() {
			code = 1
		}
		if ctx.Err() != nil {
			break
		}
	}
	return code
}

// warmOptions says where the client's edge listens and how to reach its
// admin listener (admin: the file's, or the shared process's). Pages are
// warmed over HTTPS when the edge serves it, since the scheme is part of
// the cache key, and over plain HTTP until it has a certificate.
func warmOptions(ctx context.Context, cfg *config.Config, admin config.Admin, stderr io.Writer) (warm.Options, error) {
	o := warm.Options{
		Hosts:      cfg.Hosts,
		SiteHosts:  append(slices.Clone(cfg.RewriteHosts), cfg.OriginHost),
		Origin:     cfg.Origin,
		OriginHost: cfg.OriginHost,
		Client:     cfg.Name(),
		Scheme:     "http",
		Edge:       dialAddr(cfg.Listen.HTTP),
	}
	if cfg.OriginCA != "" {
		pem, err := os.ReadFile(cfg.OriginCA)
		if err != nil {
			return o, fmt.Errorf("origin_ca: %w", err)
		}
		o.OriginCA = x509.NewCertPool()
		if !o.OriginCA.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("origin_ca: %s holds no PEM certificate", cfg.OriginCA)
		}
	}
	if cfg.TLS.Mode != "off" && cfg.Listen.HTTPS != "" {
		addr := dialAddr(cfg.Listen.HTTPS)
		err := warm.HTTPSReady(ctx, addr, cfg.Hosts[0])
		switch {
		case err == nil:
			o.Scheme, o.Edge = "https", addr
		case cfg.Listen.HTTP == "":
			return o, fmt.Errorf("the edge's HTTPS listener at %s has no certificate for %s yet (%v), and listen.http is off", addr, cfg.Hosts[0], err)
		default:
			fmt.Fprintf(stderr, "icpedge warm: no certificate for %s yet (%v): warming http:// pages; visitors use https://, so run icpedge warm again once the certificate is in place\n", cfg.Hosts[0], err)
		}
	}
	if o.Edge == "" {
		return o, fmt.Errorf("no listener to warm through: listen.http and listen.https are off")
	}
	if admin.Listen != "" {
		o.Admin = dialAddr(admin.Listen)
		tok, err := os.ReadFile(admin.TokenFile)
		if err != nil {
			// The pages warm without it; only the cache figures need it.
			fmt.Fprintf(stderr, "icpedge warm: reading the admin token: %v (cache figures not shown)\n", err)
		} else {
			o.AdminToken = strings.TrimSpace(string(tok))
		}
	}
	return o, nil
}
