package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/cluster"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/edge"
	"github.com/icpedge/icpedge/config"
)

const checkSynopsis = "check [--config FILE | --config-dir DIR] [--resolve HOST:PORT:ADDR]... [--json] [URL...]"

// Exit statuses of icpedge check.
const (
	checkPassed   = 0 // every check passed or was skipped
	checkProblems = 1 // a problem was found
	checkCantRun  = 2 // the check itself could not run
)

func checkMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("check", checkSynopsis, stdout, stderr)
	path := fs.String("config", "", "check the sites of this instance's YAML config `file`")
	dir := fs.String("config-dir", "", "check the sites of every *.yaml config in `dir`")
	var resolve cli.Repeated
	fs.Var(&resolve, "resolve", "connect to `HOST:PORT:ADDR` for HOST:PORT, like curl (repeatable); DNS is still checked as published")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	dnsServer := fs.String("dns", "", "ask this DNS server (`host:port`, UDP) for the DNS check instead of the system resolver")
	caFile := fs.String("ca", "", "trust the roots in this PEM `file` instead of the system roots")
	pages := fs.Int("pages", -1, "linked pages checked per site besides the home page (default check.pages, or 10)")
	rdapBoot := fs.String("rdap-bootstrap", "", "read the RDAP servers of TLDs from the bootstrap file at this `URL` (default check.rdap_bootstrap, or IANA's)")
	urls, ok, code := fs.ParseInterleaved(args)
	if !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "icpedge check: "+format+"\n", a...)
		return checkCantRun
	}
	if *path != "" && *dir != "" {
		return fail("give --config or --config-dir, not both")
	}

	var cfgs []*config.Config
	cantRun := false
	switch {
	case *path != "":
		cfg, err := config.Load(*path)
		if err != nil {
			return fail("%v", err)
		}
		cfgs = []*config.Config{cfg}
	case *dir != "":
		loaded, broken, err := config.LoadDir(*dir)
		if err != nil {
			return fail("%v", err)
		}
		for name, err := range broken {
			fmt.Fprintf(stderr, "icpedge check: %s not checked: %v\n", name, err)
			cantRun = true
		}
		cfgs = loaded
	}

	var targets []*url.URL
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail("%q is not an http or https URL", raw)
		}
		if u.Path == "" {
			u.Path = "/"
		}
		targets = append(targets, u)
	}
	if len(cfgs) == 0 && len(targets) == 0 {
		if cantRun {
			return checkCantRun
		}
		return fail("nothing to check: give --config FILE, --config-dir DIR or URLs")
	}

	// Progress lines and the RDAP client's warnings come from several
	// goroutines at once.
	stderr = &syncWriter{w: stderr}
	env := checkEnv{pages: *pages, rdapBootstrap: *rdapBoot, logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	// cluster-drift reads a cluster's Redis: its client logs like ours.
	cluster.LogTo(env.logger)
	if *rdapBoot != "" {
		if u, err := url.Parse(*rdapBoot); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail("--rdap-bootstrap %q: expected an http or https URL, e.g. %s", *rdapBoot, compliance.DefaultRDAPBootstrap)
		}
	}
	var err error
	if env.dial, err = compliance.ResolveDialer(resolve, 15*time.Second); err != nil {
		return fail("%v", err)
	}
	if *dnsServer != "" {
		if _, _, err := net.SplitHostPort(*dnsServer); err != nil {
			return fail("--dns %q: expected host:port, e.g. 127.0.0.1:53", *dnsServer)
		}
		env.resolver = udpResolver(*dnsServer)
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return fail("--ca: %v", err)
		}
		env.roots = x509.NewCertPool()
		if !env.roots.AppendCertsFromPEM(pem) {
			return fail("--ca: %s holds no PEM certificate", *caFile)
		}
	}

	ctx := context.Background()
	var rep compliance.Report
	used := make([]bool, len(targets))
	clients := make([]checkClient, len(cfgs))
	resolved := resolvedHosts(resolve)
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
		clients[k] = checkClient{cfg: cfg, sites: sites}
		for j := range sites {
			if useListenPort(sites[j].URL, cfg, resolved) {
				clients[k].resolved = true
			}
		}
		if *dir != "" {
			clients[k].name = strings.TrimSuffix(filepath.Base(cfg.File), filepath.Ext(cfg.File))
		}
	}
	var progress io.Writer
	if *dir != "" {
		progress = stderr
	}
	for _, r := range checkClients(ctx, env, clients, progress) {
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

	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	switch {
	case err != nil:
		return fail("writing the report: %v", err)
	case cantRun:
		return checkCantRun
	case !rep.OK:
		return checkProblems
	}
	return checkPassed
}

// checkParallel is how many clients of a --config-dir are checked at
// once: enough that a fleet is not checked one slow origin after another,
// few enough that the checking host and the RDAP servers (which limit
// request rates) are not flooded.
const checkParallel = 4

// checkClient is one config's share of a check.
type checkClient struct {
	name  string // the config's name with --config-dir, else ""
	cfg   *config.Config
	sites []compliance.Site
	// resolved is set when --resolve names where one of its hosts is:
	// then this machine's interfaces say nothing about the address the
	// hosts must resolve to, even when it holds the state directory.
	resolved bool
}

// checkClients checks clients, checkParallel at a time, and returns their
// reports in the order of clients, each result marked with its client's
// name. When progress is not nil, one line per client is written to it as
// that client's check finishes, so that a check of many clients shows it
// is moving long before the report, which waits for the slowest.
func checkClients(ctx context.Context, env checkEnv, clients []checkClient, progress io.Writer) []compliance.Report {
	reps := make([]compliance.Report, len(clients))
	sem := make(chan struct{}, checkParallel)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for i, c := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			here := onEdge(c.cfg)
			opts := env.apply(edge.CheckOptions(c.cfg, here && !c.resolved))
			if c.resolved && len(opts.ExpectIPs) == 0 {
				opts.DNSSkip = "no check.expect_ips, and --resolve says where the edge is, so this machine's addresses are not the ones to expect; set check.expect_ips to the edge's public address"
			}
			opts.RDAP = compliance.NewRDAP(env.applyRDAP(edge.RDAPOptions(c.cfg, here)))
			r := runChecks(ctx, compliance.New(opts), c.sites, c.cfg.Hosts)
			// A node's notice is only as good as its cluster's
			// agreement: read the nodes' fingerprints through Redis.
			r.Add(edge.InspectDrift(ctx, c.cfg)...)
			for j := range r.Results {
				r.Results[j].Config = c.name
			}
			reps[i] = r
			if progress == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			done++
			fmt.Fprintf(progress, "icpedge check: [%d/%d] %s: %s (%s)\n", done, len(clients), c.name, checkSummary(r), time.Since(start).Round(100*time.Millisecond))
		}()
	}
	wg.Wait()
	return reps
}

// checkSummary is a report in a few words: "ok", or its problems and
// warnings.
func checkSummary(r compliance.Report) string {
	var parts []string
	if r.Problems > 0 {
		parts = append(parts, plural(r.Problems, "problem"))
	}
	if r.Warnings > 0 {
		parts = append(parts, plural(r.Warnings, "warning"))
	}
	if len(parts) == 0 {
		return "ok"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// syncWriter serialises writes to w, one line each, from several
// goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// runChecks checks sites, and the domains behind hosts at the same time.
func runChecks(ctx context.Context, c *compliance.Checker, sites []compliance.Site, hosts []string) compliance.Report {
	var domains []compliance.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		domains = c.Domains(ctx, hosts)
	}()
	rep := c.Run(ctx, sites)
	<-done
	rep.Add(domains...)
	return rep
}

// checkEnv holds what the command line overrides in every config's check.
type checkEnv struct {
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	resolver      *net.Resolver
	roots         *x509.CertPool
	pages         int    // -1: the config's
	rdapBootstrap string // "": the config's
	logger        *slog.Logger
}

func (e checkEnv) apply(o compliance.Options) compliance.Options {
	o.Dial, o.Resolver, o.RootCAs = e.dial, e.resolver, e.roots
	if e.pages >= 0 {
		o.Pages = e.pages
		if e.pages == 0 {
			o.Pages = -1 // compliance: none
		}
	}
	return o
}

func (e checkEnv) applyRDAP(o compliance.RDAPOptions) compliance.RDAPOptions {
	o.Dial, o.RootCAs, o.Logger = e.dial, e.roots, e.logger
	if e.rdapBootstrap != "" {
		o.BootstrapURL = e.rdapBootstrap
	}
	return o
}

// udpResolver asks only addr, over UDP (and TCP for truncated answers).
func udpResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// resolvedHosts lists the hosts --resolve sends elsewhere (lower case),
// with the ports given for each. The entries are checked by
// compliance.ResolveDialer.
func resolvedHosts(entries []string) map[string][]string {
	m := map[string][]string{}
	for _, e := range entries {
		host, rest, _ := strings.Cut(e, ":")
		port, _, _ := strings.Cut(rest, ":")
		m[strings.ToLower(host)] = append(m[strings.ToLower(host)], port)
	}
	return m
}

// useListenPort gives u, a site of cfg whose URL has no port, the port of
// cfg's listener for its scheme, when --resolve sends that host and port
// somewhere: an edge under test often listens on other ports than the
// public 80 and 443. It reports whether --resolve names u's host at all.
func useListenPort(u *url.URL, cfg *config.Config, resolved map[string][]string) bool {
	ports, ok := resolved[strings.ToLower(u.Hostname())]
	if !ok || u.Port() != "" {
		return ok
	}
	listen := cfg.Listen.HTTP
	if u.Scheme == "https" {
		listen = cfg.Listen.HTTPS
	}
	if _, port, err := net.SplitHostPort(listen); err == nil && port != "0" && slices.Contains(ports, port) {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return true
}

// onEdge reports whether this machine runs the instance: its state
// directory exists here.
func onEdge(cfg *config.Config) bool {
	fi, err := os.Stat(cfg.StateDir)
	return err == nil && fi.IsDir()
}
