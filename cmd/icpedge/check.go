package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/cluster"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/fleetcheck"
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
	cfgs, broken, err := config.Source{File: *path, Dir: *dir}.Load()
	if err != nil {
		return fail("%v", err)
	}
	for name, err := range broken {
		fmt.Fprintf(stderr, "icpedge check: %s not checked: %v\n", name, err)
	}
	targets, err := fleetcheck.Targets(urls)
	if err != nil {
		return fail("%v", err)
	}
	if len(cfgs) == 0 && len(targets) == 0 {
		if len(broken) > 0 {
			return checkCantRun
		}
		return fail("nothing to check: give --config FILE, --config-dir DIR or URLs")
	}

	// Progress lines and the RDAP client's warnings come from several
	// goroutines at once.
	stderr = fleetcheck.LockedWriter(stderr)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// cluster-drift reads a cluster's Redis: its client logs like ours.
	cluster.LogTo(logger)
	o := fleetcheck.Options{Resolve: resolve, DNS: *dnsServer, CA: *caFile, Pages: *pages, RDAPBootstrap: *rdapBoot, Named: *dir != "", Logger: logger}
	if *dir != "" {
		o.Progress = stderr
	}
	rep, err := fleetcheck.Run(context.Background(), cfgs, targets, o)
	if err != nil {
		return fail("%v", err)
	}

	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	switch {
	case err != nil:
		return fail("writing the report: %v", err)
	case len(broken) > 0:
		return checkCantRun
	case !rep.OK:
		return checkProblems
	}
	return checkPassed
}
