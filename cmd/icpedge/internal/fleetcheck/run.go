package fleetcheck

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/edge"
	"github.com/icpedge/icpedge/config"
)

// Options are what the command line says over every config's check.
// Each names the flag of icpedge check that sets it, and so do the
// errors Run gives for a bad one.
type Options struct {
	// Resolve are curl's HOST:PORT:ADDR entries (--resolve): connect to
	// ADDR for HOST:PORT. DNS is still checked as published.
	Resolve []string
	// DNS is the DNS server (host:port, UDP) asked for the DNS check
	// (--dns); empty: the system resolver.
	DNS string
	// CA is a PEM file whose roots are trusted instead of the system
	// roots (--ca); empty: the system roots.
	CA string
	// Pages is how many linked pages per site are checked besides the
	// home page (--pages); -1: the config's check.pages.
	Pages int
	// RDAPBootstrap is the URL of the RDAP bootstrap file
	// (--rdap-bootstrap); empty: the config's check.rdap_bootstrap.
	RDAPBootstrap string
	// Named marks each result with its config's name, for the clients
	// of a config directory (--config-dir).
	Named bool
	// Progress, when not nil, gets one line per config as its check
	// ends, so that a check of many clients shows it is moving long
	// before the report, which waits for the slowest. Lines are written
	// while the RDAP clients may log: give Progress and Logger's writer
	// as one LockedWriter.
	Progress io.Writer
	// Logger gets the RDAP clients' warnings; nil discards them.
	Logger *slog.Logger
}

// Targets parses the URLs given on the command line: http or https, with
// a host; an empty path is "/".
func Targets(raw []string) ([]*url.URL, error) {
	var targets []*url.URL
	for _, r := range raw {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%q is not an http or https URL", r)
		}
		if u.Path == "" {
			u.Path = "/"
		}
		targets = append(targets, u)
	}
	return targets, nil
}

// Run checks the sites of cfgs and the targets, and returns the joined
// report, in the order of cfgs, then the targets no config serves. A
// target on one of a config's hosts replaces that host's home page in
// the config's check; the others are checked as no config says. The
// error is for an option that is wrong: then nothing was checked.
func Run(ctx context.Context, cfgs []*config.Config, targets []*url.URL, o Options) (compliance.Report, error) {
	var rep compliance.Report
	env, err := newEnv(o)
	if err != nil {
		return rep, err
	}
	used := make([]bool, len(targets))
	clients := make([]client, len(cfgs))
	resolved := resolvedHosts(o.Resolve)
	for k, cfg := range cfgs {
		sites := edge.CheckSites(cfg)
		for i, u := range targets {
			for j := range sites {
				if strings.EqualFold(sites[j].URL.Hostname(), u.Hostname()) {
					u := *u
					sites[j].URL, used[i] = &u, true
				}
			}
		}
		clients[k] = client{cfg: cfg, sites: sites}
		for j := range sites {
			if useListenPort(sites[j].URL, cfg, resolved) {
				clients[k].resolved = true
			}
		}
		if o.Named {
			clients[k].name = cfg.Name()
		}
	}
	for _, r := range env.checkClients(ctx, clients, o.Progress) {
		rep.Add(r.Results...)
	}
	var (
		rest      []compliance.Site
		restHosts []string
	)
	for i, u := range targets {
		if !used[i] {
			rest = append(rest, compliance.Site{URL: u})
			restHosts = append(restHosts, u.Hostname())
		}
	}
	if len(rest) > 0 {
		opts := env.apply(edge.CheckOptions(nil, false))
		opts.RDAP = compliance.NewRDAP(env.applyRDAP(edge.RDAPOptions(nil, false)))
		r := runChecks(ctx, compliance.New(opts), rest, restHosts)
		rep.Add(r.Results...)
	}
	return rep, nil
}
