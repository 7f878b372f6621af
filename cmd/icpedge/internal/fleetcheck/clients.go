package fleetcheck

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/edge"
	"github.com/icpedge/icpedge/config"
)

// parallel is how many clients of a config directory are checked at
// once: enough that a fleet is not checked one slow origin after
// another, few enough that the checking host and the RDAP servers (which
// limit request rates) are not flooded.
const parallel = 4

// client is one config's share of a check.
type client struct {
	name  string // the config's name with Options.Named, else ""
	cfg   *config.Config
	sites []compliance.Site
	// resolved is set when --resolve names where one of its hosts is:
	// then this machine's interfaces say nothing about the address the
	// hosts must resolve to, even when it holds the state directory.
	resolved bool
}

// checkClients checks clients, parallel at a time, and returns their
// reports in the order of clients, each result marked with its client's
// name. When progress is not nil, one line per client is written to it as
// that client's check finishes.
func (e env) checkClients(ctx context.Context, clients []client, progress io.Writer) []compliance.Report {
	reps := make([]compliance.Report, len(clients))
	sem := make(chan struct{}, parallel)
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
			r := e.checkClient(ctx, c)
			reps[i] = r
			if progress == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			done++
			fmt.Fprintf(progress, "icpedge check: [%d/%d] %s: %s (%s)\n", done, len(clients), c.name, summary(r), time.Since(start).Round(100*time.Millisecond))
		}()
	}
	wg.Wait()
	return reps
}

// checkClient checks one client's sites and domains, and its cluster's
// agreement.
func (e env) checkClient(ctx context.Context, c client) compliance.Report {
	here := onEdge(c.cfg)
	opts := e.apply(edge.CheckOptions(c.cfg, here && !c.resolved))
	if c.resolved && len(opts.ExpectIPs) == 0 {
		opts.DNSSkip = "no check.expect_ips, and --resolve says where the edge is, so this machine's addresses are not the ones to expect; set check.expect_ips to the edge's public address"
	}
	opts.RDAP = compliance.NewRDAP(e.applyRDAP(edge.RDAPOptions(c.cfg, here)))
	r := runChecks(ctx, compliance.New(opts), c.sites, c.cfg.Hosts)
	// A node's notice is only as good as its cluster's agreement: read
	// the nodes' fingerprints through Redis.
	r.Add(edge.InspectDrift(ctx, c.cfg)...)
	for j := range r.Results {
		r.Results[j].Config = c.name
	}
	return r
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

// summary is a report in a few words: "ok", or its problems and
// warnings.
func summary(r compliance.Report) string {
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

// LockedWriter returns a writer that serialises writes to w, one line
// each, from several goroutines: progress lines and the RDAP clients'
// warnings come at once.
func LockedWriter(w io.Writer) io.Writer { return &lockedWriter{w: w} }

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *lockedWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
