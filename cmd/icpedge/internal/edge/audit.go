package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/config"
)

// auditTick is how often the audit loop looks for a client whose
// check.interval has passed.
const auditTick = time.Second

// Self-audit schedule of the domain checks: registrations change over
// weeks, and RDAP servers limit how often they are asked, so the domains
// are looked up once a day whatever check.interval says, and an hour
// later when a lookup was skipped (a server down, a timeout).
const (
	domainAuditEvery = 24 * time.Hour
	domainRetryEvery = time.Hour
)

// startAudits runs the self-audit of every client whose check.interval is
// set: the checks of icpedge check, through the edge's own handler (no
// network for the pages), the DNS, and the local HTTPS listener for the
// certificate, every check.interval; and the domain checks through RDAP
// once a day. Outcomes go to icpedge_compliance_ok{host,check} and
// icpedge_domain_expiry_days{domain} on reg, and each failed check to one
// warning line. It runs until ctx is done or stop is called; stop waits
// for it to exit.
func (e *Edge) startAudits(ctx context.Context, reg prometheus.Registerer, httpsAddr net.Addr) (stop func()) {
	series := newAuditSeries()
	if reg != nil {
		for _, c := range []prometheus.Collector{series.ok, series.expiry} {
			if err := reg.Register(c); err != nil {
				e.logger.Warn("compliance metrics not registered", "err", err)
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Owned by Run, which calls stop before it returns.
	wg.Go(func() {
		last := map[string]time.Time{}
		domains := map[string]domainRun{}
		t := time.NewTicker(auditTick)
		defer t.Stop()
		for {
			audited := map[string]bool{}
			for _, s := range e.cur.Load().sites {
				every := s.cfg.Check.Interval
				if every <= 0 || ctx.Err() != nil {
					continue
				}
				audited[s.name] = true
				if time.Since(last[s.name]) >= every {
					last[s.name] = time.Now()
					e.audit(ctx, s, httpsAddr, series)
				}
				if run, key := domains[s.name], domainAuditKey(s.cfg); run.due(key, time.Now()) && ctx.Err() == nil {
					domains[s.name] = e.auditDomains(ctx, s, key, series)
				}
			}
			if ctx.Err() == nil {
				// Clients removed by a reload, or no longer audited,
				// take their outcomes with them, and start afresh if
				// they come back.
				series.keepOnly(func(client string) bool { return audited[client] })
				for name := range domains {
					if !audited[name] {
						delete(domains, name)
						delete(last, name)
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// audit checks one client's sites once. In a cluster, every node judges
// cluster-drift (one read from Redis), and the checks of the pages run on
// one node at a time: a node that finds another running them skips this
// round, keeping the outcomes it had.
func (e *Edge) audit(ctx context.Context, s *site, httpsAddr net.Addr, series *auditSeries) {
	if s.node != nil {
		e.auditDrift(ctx, s, series)
		release, ok, err := s.node.TryJob(ctx, "self-audit")
		switch {
		case err != nil:
			// Without Redis the nodes cannot agree; each audits itself
			// rather than none.
			s.logger.Warn("self-audit lock unavailable; auditing this node", "err", err)
		case !ok:
			s.logger.Info("self-audit skipped: another node of the cluster is running it")
			return
		default:
			defer release()
		}
	}
	opts := CheckOptions(s.cfg, true)
	opts.Transport = handlerTransport{http: e.handler(false), https: e.handler(true)}
	if httpsAddr != nil {
		addr := httpsAddr.String()
		opts.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	} else {
		opts.SkipTLS = "no HTTPS listener"
	}
	rep := compliance.New(opts).Run(ctx, CheckSites(s.cfg))
	if ctx.Err() != nil {
		return // shutting down: the outcome is not the site's
	}
	series.replace(s.name, auditPages, rep.Results)
	e.board.SetAudit(s.name, auditPages, rep.Results)
	logOutcomes(s.logger, rep.Results, false)
	s.logger.Info("compliance audit done", "problems", rep.Problems, "skipped", rep.Skipped)
}

// auditDrift judges cluster-drift from the nodes' heartbeats. While Redis
// is unreachable the outcome is unknown, and the last one stays.
func (e *Edge) auditDrift(ctx context.Context, s *site, series *auditSeries) {
	nodes, err := s.node.Nodes(ctx)
	if err != nil {
		s.logger.Warn("cluster-drift not checked", "err", err)
		return
	}
	rs := DriftResults(s.cfg, nodes)
	series.replace(s.name, auditCluster, rs)
	logOutcomes(s.logger, rs, false)
}

// domainRun is when a client's domains were last looked up, and with what.
type domainRun struct {
	at      time.Time
	key     string // domainAuditKey of the config then
	skipped bool   // some check was skipped
}

// due reports whether the domains are to be looked up again: a day on,
// an hour on after a skipped check, or at once when what is looked up, or
// how, has changed.
func (r domainRun) due(key string, now time.Time) bool {
	every := domainAuditEvery
	if r.skipped {
		every = domainRetryEvery
	}
	return r.at.IsZero() || key != r.key || now.Sub(r.at) >= every
}

// domainAuditKey is what a client's domain checks depend on in its config.
func domainAuditKey(cfg *config.Config) string {
	return fmt.Sprint(cfg.Hosts, cfg.Check.RDAPBootstrap, cfg.Check.RDAP, cfg.Check.Registrars, cfg.Check.Timeout, cfg.StateDir)
}

// auditDomains runs the domain checks of one client once, keeping the
// RDAP bootstrap file in its state directory.
func (e *Edge) auditDomains(ctx context.Context, s *site, key string, series *auditSeries) domainRun {
	opts := CheckOptions(s.cfg, true)
	ro := RDAPOptions(s.cfg, true)
	ro.Logger = s.logger
	opts.RDAP = compliance.NewRDAP(ro)
	rs := compliance.New(opts).Domains(ctx, s.cfg.Hosts)
	run := domainRun{at: time.Now(), key: key}
	if ctx.Err() != nil {
		return domainRun{} // shutting down: try again next time
	}
	var rep compliance.Report
	rep.Add(rs...)
	series.replace(s.name, auditDomainChecks, rs)
	e.board.SetAudit(s.name, auditDomainChecks, rs)
	logOutcomes(s.logger, rs, true)
	run.skipped = rep.Skipped > 0
	s.logger.Info("compliance domain audit done", "results", len(rs), "problems", rep.Problems, "warnings", rep.Warnings, "skipped", rep.Skipped)
	return run
}

// logOutcomes logs each failed check as a warning, each warning too, and,
// with skips set, each domain whose checks were skipped, once, with why.
func logOutcomes(logger *slog.Logger, rs []compliance.Result, skips bool) {
	skipped := map[string]bool{}
	for _, r := range rs {
		switch {
		case r.Status == compliance.Fail:
			logger.Warn("compliance check failed", "host", r.Site, "check", r.Check, "detail", r.Detail, "fix", r.Fix)
		case r.Status == compliance.Warn:
			logger.Warn("compliance check warning", "host", r.Site, "check", r.Check, "detail", r.Detail, "fix", r.Fix)
		case r.Status == compliance.Skip && skips && !skipped[r.Site+"\x00"+r.Detail]:
			skipped[r.Site+"\x00"+r.Detail] = true
			logger.Info("compliance check skipped", "host", r.Site, "check", r.Check, "detail", r.Detail)
		}
	}
}

// The parts of a client's audit, each owning its own series.
const (
	auditPages        = "pages"
	auditDomainChecks = "domains"
	auditCluster      = "cluster"
)

// auditSeries exports the self-audit's outcomes: icpedge_compliance_ok
// and icpedge_domain_expiry_days. Each part of a client's audit (its
// pages, its domains) owns the series it set last, and its next outcome
// replaces exactly those once it is known: a scrape never finds a series
// missing mid-audit, and no part removes another's, even when a domain
// check and a page check share a host (client.com as apex and domain).
type auditSeries struct {
	ok, expiry *prometheus.GaugeVec

	mu    sync.Mutex
	owned map[auditOwner]map[seriesKey]bool
}

type auditOwner struct{ client, part string }

// seriesKey is one series: of ok (host, check) or of expiry (domain).
type seriesKey struct {
	expiry      bool
	host, check string
}

func newAuditSeries() *auditSeries {
	return &auditSeries{
		ok: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "icpedge_compliance_ok",
			Help: "Outcome of the last self-audit check of a host or domain: 1 passed (or warned), 0 failed (see icpedge check).",
		}, []string{"host", "check"}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "icpedge_domain_expiry_days",
			Help: "Whole days until the domain's registration expires, from RDAP, looked up once a day by the self-audit; negative once expired.",
		}, []string{"domain"}),
		owned: map[auditOwner]map[seriesKey]bool{},
	}
}

// replace sets the series of one part of a client's audit from its
// results, and removes those it set last time and no longer does.
// Skipped checks and checks of no one site have no series.
func (a *auditSeries) replace(client, part string, rs []compliance.Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := map[seriesKey]bool{}
	for _, r := range rs {
		if r.Status == compliance.Skip || r.Site == "-" {
			continue
		}
		v := 0.0
		if r.Status != compliance.Fail {
			v = 1
		}
		a.ok.WithLabelValues(r.Site, r.Check).Set(v)
		now[seriesKey{host: r.Site, check: r.Check}] = true
		if r.Check == compliance.CheckDomainExpiry && r.DaysLeft != nil {
			a.expiry.WithLabelValues(r.Site).Set(float64(*r.DaysLeft))
			now[seriesKey{expiry: true, host: r.Site}] = true
		}
	}
	owner := auditOwner{client, part}
	old := a.owned[owner]
	if len(now) == 0 {
		delete(a.owned, owner)
	} else {
		a.owned[owner] = now
	}
	for k := range old {
		if !now[k] && !a.ownedElsewhere(k) {
			a.delete(k)
		}
	}
}

// keepOnly removes the series of clients for which keep is false.
func (a *auditSeries) keepOnly(keep func(client string) bool) {
	a.mu.Lock()
	var gone []auditOwner
	for o := range a.owned {
		if !keep(o.client) {
			gone = append(gone, o)
		}
	}
	a.mu.Unlock()
	for _, o := range gone {
		a.replace(o.client, o.part, nil)
	}
}

func (a *auditSeries) ownedElsewhere(k seriesKey) bool {
	for _, keys := range a.owned {
		if keys[k] {
			return true
		}
	}
	return false
}

func (a *auditSeries) delete(k seriesKey) {
	if k.expiry {
		a.expiry.DeleteLabelValues(k.host)
	} else {
		a.ok.DeleteLabelValues(k.host, k.check)
	}
}
