package edge

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
)

// TestAuditSeries: each part of an audit replaces only its own series,
// when it ends, and a client that is gone takes its series with it.
func TestAuditSeries(t *testing.T) {
	a := newAuditSeries()
	days := func(n int) *int { return &n }
	// expose counts the series: an "o" for each of ok, an "e" for each
	// of expiry.
	expose := func() string {
		return strings.Repeat("o", countSeries(a.ok)) + strings.Repeat("e", countSeries(a.expiry))
	}
	ok := func(host, check string) float64 { return gaugeValue(t, a.ok.WithLabelValues(host, check)) }

	// client.com is both a served host (the apex) and a domain.
	a.replace("acme", auditPages, []compliance.Result{
		{Site: "client.com", Check: "apex", Status: compliance.OK},
		{Site: "icp.client.com", Check: "icp", Status: compliance.Fail},
		{Site: "icp.client.com", Check: "police", Status: compliance.Skip},
		{Site: "-", Check: "apex", Status: compliance.Skip},
	})
	a.replace("acme", auditDomainChecks, []compliance.Result{
		{Site: "client.com", Check: compliance.CheckDomainExpiry, Status: compliance.Warn, DaysLeft: days(40)},
		{Site: "client.com", Check: compliance.CheckDomainStatus, Status: compliance.Fail},
		{Site: "client.com", Check: compliance.CheckDomainRegistrar, Status: compliance.Skip},
	})
	if got := expose(); got != "ooooe" {
		t.Fatalf("series %q; want 4 of icpedge_compliance_ok and 1 of icpedge_domain_expiry_days", got)
	}
	if ok("icp.client.com", "icp") != 0 || ok("client.com", compliance.CheckDomainExpiry) != 1 || ok("client.com", compliance.CheckDomainStatus) != 0 {
		t.Errorf("values: a failure is 0, a warning 1")
	}
	if got := gaugeValue(t, a.expiry.WithLabelValues("client.com")); got != 40 {
		t.Errorf("icpedge_domain_expiry_days = %v; want 40", got)
	}

	// The next page audit: icp passes, apex is now skipped. The domain
	// series stay.
	a.replace("acme", auditPages, []compliance.Result{
		{Site: "client.com", Check: "apex", Status: compliance.Skip},
		{Site: "icp.client.com", Check: "icp", Status: compliance.OK},
	})
	if got := expose(); got != "oooe" {
		t.Fatalf("after the second page audit: series %q; want apex gone, the domain's kept", got)
	}
	if ok("icp.client.com", "icp") != 1 {
		t.Errorf("icp not updated")
	}

	// Another client with the same domain: removing it leaves acme's.
	a.replace("other", auditDomainChecks, []compliance.Result{
		{Site: "client.com", Check: compliance.CheckDomainExpiry, Status: compliance.Warn, DaysLeft: days(40)},
	})
	a.keepOnly(func(c string) bool { return c == "acme" })
	if got := expose(); got != "oooe" {
		t.Fatalf("after removing a client sharing the domain: series %q; want acme's kept", got)
	}
	a.keepOnly(func(string) bool { return false })
	if got := expose(); got != "" {
		t.Fatalf("after removing every client: series %q; want none", got)
	}
}

func countSeries(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func TestDomainRunDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		run  domainRun
		key  string
		now  time.Time
		want bool
	}{
		{domainRun{}, "k", t0, true},
		{domainRun{at: t0, key: "k"}, "k", t0.Add(23 * time.Hour), false},
		{domainRun{at: t0, key: "k"}, "k", t0.Add(24 * time.Hour), true},
		{domainRun{at: t0, key: "k"}, "k2", t0.Add(time.Minute), true},
		{domainRun{at: t0, key: "k", skipped: true}, "k", t0.Add(59 * time.Minute), false},
		{domainRun{at: t0, key: "k", skipped: true}, "k", t0.Add(time.Hour), true},
	}
	for i, tt := range tests {
		if got := tt.run.due(tt.key, tt.now); got != tt.want {
			t.Errorf("%d: due = %v; want %v", i, got, tt.want)
		}
	}
}
