package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance/rdaptest"
)

// domainReport is the --json report with the domain checks' fields.
type domainReport struct {
	OK       bool           `json:"ok"`
	Problems int            `json:"problems"`
	Warnings int            `json:"warnings"`
	Results  []domainResult `json:"results"`
}

type domainResult struct {
	Site         string   `json:"site"`
	URL          string   `json:"url"`
	Check        string   `json:"check"`
	Status       string   `json:"status"`
	Detail       string   `json:"detail"`
	Fix          string   `json:"fix"`
	DaysLeft     *int     `json:"days_left"`
	Expires      string   `json:"expires"`
	DomainStatus []string `json:"domain_status"`
	Registrar    string   `json:"registrar"`
	IANAID       string   `json:"iana_id"`
	Country      string   `json:"country"`
}

func parseDomainReport(t *testing.T, out string) domainReport {
	t.Helper()
	var rep domainReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	return rep
}

// find returns the result of one check of one site, failing the test when
// there is none.
func (r domainReport) find(t *testing.T, site, check string) domainResult {
	t.Helper()
	for _, x := range r.Results {
		if x.Site == site && x.Check == check {
			return x
		}
	}
	t.Fatalf("no %s result for %s", check, site)
	return domainResult{}
}

// writeCA writes a test server's certificate as a PEM file for --ca.
func writeCA(t *testing.T, srv *rdaptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// domainHosts are the fixture domains of rdaptest, one host under each.
var domainHosts = []string{"icp.client.com.cn", "www.expiring.cn", "www.held.cn", "www.client-global.com", "www.client.hk"}

// TestDomainChecksEndToEnd runs icpedge check --json against an RDAP
// server speaking the protocol over HTTPS: a bootstrap file, two
// registries and a registrar.
func TestDomainChecksEndToEnd(t *testing.T) {
	rdap := rdaptest.NewTLSServer(t)
	ca := writeCA(t, rdap)
	origin := complianceOrigin(t)
	oport := portOf(strings.TrimPrefix(origin.URL, "http://"))
	dnsTable := map[string]string{}
	for _, h := range append(domainHosts, "client.com.cn") {
		dnsTable[h] = "127.0.0.1"
	}
	dns := startTestDNS(t, dnsTable)

	cfgText := fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: %s
state_dir: state
notice:
  icp: %s
apex:
  host: client.com.cn
check:
  expect_ips: [127.0.0.1]
  rdap_bootstrap: %s
`, strings.Join(domainHosts, ", "), origin.URL, freePort(t), testICP, rdap.BootstrapURL())
	path := writeConfig(t, cfgText)
	state := filepath.Join(filepath.Dir(path), "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", path, "--ca", ca, "--dns", dns, "--pages", "0"}
	for _, h := range append(domainHosts, "client.com.cn") {
		args = append(args, "--resolve", h+":"+oport+":127.0.0.1", "http://"+h+":"+oport+"/")
	}

	out, code := runCheck(t, append([]string{"--json"}, args...)...)
	rep := parseDomainReport(t, out)
	if code != 1 || rep.OK {
		t.Fatalf("exit %d, ok %v; want 1: expiring.cn and held.cn fail:\n%s", code, rep.OK, out)
	}
	registry := rdap.URL + "/cnnic/domain/"

	// The healthy .cn domain, once for its host and the apex.
	n := 0
	for _, x := range rep.Results {
		if x.Site == "client.com.cn" && x.Check == "domain-expiry" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("client.com.cn checked %d times; want once for icp.client.com.cn and the apex", n)
	}
	r := rep.find(t, "client.com.cn", "domain-expiry")
	if r.Status != "ok" || r.DaysLeft == nil || *r.DaysLeft != 400 || r.URL != registry+"client.com.cn" || !strings.HasSuffix(r.Detail, ", 400 days left") {
		t.Errorf("client.com.cn expiry: %s %q days_left %v from %s; want ok, 400 days, from %s", r.Status, r.Detail, r.DaysLeft, r.URL, registry)
	}
	if exp, err := time.Parse(time.RFC3339, r.Expires); err != nil || exp.Before(time.Now().Add(399*24*time.Hour)) {
		t.Errorf("client.com.cn expires %q: %v; want an RFC 3339 time 400 days on", r.Expires, err)
	}
	if r := rep.find(t, "client.com.cn", "domain-status"); r.Status != "ok" || strings.Join(r.DomainStatus, ",") != "client delete prohibited,client transfer prohibited" {
		t.Errorf("client.com.cn status: %s %q", r.Status, r.DomainStatus)
	}
	if r := rep.find(t, "client.com.cn", "domain-registrar"); r.Status != "ok" || r.Registrar != "北京示例网络科技有限公司" || r.Country != "CN" {
		t.Errorf("client.com.cn registrar: %s %q %q", r.Status, r.Registrar, r.Country)
	}

	// Ten days left: a failure, with what to do.
	if r := rep.find(t, "expiring.cn", "domain-expiry"); r.Status != "fail" || r.DaysLeft == nil || *r.DaysLeft != 10 || !strings.HasPrefix(r.Fix, "renew expiring.cn at 北京示例网络科技有限公司 now") {
		t.Errorf("expiring.cn: %s %q (%v days) fix %q; want fail, 10 days, renew", r.Status, r.Detail, r.DaysLeft, r.Fix)
	}
	// On clientHold.
	if r := rep.find(t, "held.cn", "domain-status"); r.Status != "fail" || r.Detail != "on client hold (client hold, client transfer prohibited)" || !strings.Contains(r.Fix, "have the hold lifted") {
		t.Errorf("held.cn: %s %q fix %q; want fail on client hold", r.Status, r.Detail, r.Fix)
	}
	// At a foreign registrar, found through the registry's related link.
	r = rep.find(t, "client-global.com", "domain-registrar")
	if r.Status != "warn" || r.Registrar != "Example Registrar, LLC" || r.IANAID != "9999" || r.Country != "US" || !strings.Contains(r.Fix, "Beijing and Hunan") {
		t.Errorf("client-global.com: %s %q %q %q %q fix %q; want a warning naming Beijing and Hunan", r.Status, r.Detail, r.Registrar, r.IANAID, r.Country, r.Fix)
	}
	if n := rdap.Requests("/registrar/domain/CLIENT-GLOBAL.COM"); n != 1 {
		t.Errorf("the registrar's RDAP server was asked %d times; want 1", n)
	}
	// A TLD missing from the bootstrap file: skipped, with why.
	for _, check := range []string{"domain-expiry", "domain-status", "domain-registrar"} {
		if r := rep.find(t, "client.hk", check); r.Status != "skip" || !strings.HasPrefix(r.Detail, "no RDAP server for .hk") {
			t.Errorf("client.hk %s: %s %q; want skipped", check, r.Status, r.Detail)
		}
	}
	if rep.Warnings < 2 {
		t.Errorf("%d warnings; want held.cn's expiry and client-global.com's registrar at least", rep.Warnings)
	}

	// The bootstrap file is kept in the state directory and used again.
	if kept, _ := filepath.Glob(filepath.Join(state, "rdap-dns-*.json")); len(kept) != 1 {
		t.Errorf("bootstrap files kept in state_dir: %q; want one", kept)
	}
	table, code := runCheck(t, args...)
	if code != 1 {
		t.Errorf("table: exit %d; want 1", code)
	}
	for _, want := range [][]string{
		{"held.cn", "domain-status", "FAIL", "on client hold"},
		{"client-global.com", "domain-registrar", "WARN", "Example Registrar, LLC (IANA 9999), US: a registrar outside China"},
		{"fix: Beijing and Hunan"},
		{"2 warnings,"},
	} {
		if !hasLine(table, want...) {
			t.Errorf("table has no line with %q", want)
		}
	}
	t.Logf("table:\n%s", table)
	if n := rdap.Requests("/bootstrap/dns.json"); n != 1 {
		t.Errorf("bootstrap file fetched %d times over two runs; want 1", n)
	}
	if n := rdap.Requests("/cnnic/domain/held.cn"); n != 2 {
		t.Errorf("held.cn asked %d times over two runs; want 2", n)
	}

	// check.registrars accepts the foreign registrar; check.rdap names
	// the .hk registry's server.
	accepted := writeConfig(t, cfgText+fmt.Sprintf(`  registrars: ["Example Registrar, LLC"]
  rdap:
    hk: %s/hkirc/
`, rdap.URL))
	out, _ = runCheck(t, append([]string{"--json", "--config", accepted}, args[2:]...)...)
	rep = parseDomainReport(t, out)
	if r := rep.find(t, "client-global.com", "domain-registrar"); r.Status != "ok" || !strings.HasSuffix(r.Detail, "accepted in check.registrars") {
		t.Errorf("accepted registrar: %s %q; want ok", r.Status, r.Detail)
	}
	if r := rep.find(t, "client.hk", "domain-registrar"); r.Status != "warn" || r.Detail != "Example Domain Registration Limited, Hong Kong: a registrar outside China" {
		t.Errorf("client.hk through check.rdap: %s %q; want a warning", r.Status, r.Detail)
	}

	t.Run("without a config", func(t *testing.T) {
		cache := t.TempDir()
		cmd := exec.Command(binPath, "check", "--json", "--ca", ca, "--pages", "0", "--rdap-bootstrap", rdap.BootstrapURL(),
			"--resolve", "www.held.cn:"+oport+":127.0.0.1", "http://www.held.cn:"+oport+"/")
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "HOME="+cache)
		b, _ := cmd.Output()
		rep := parseDomainReport(t, string(b))
		if r := rep.find(t, "held.cn", "domain-status"); r.Status != "fail" {
			t.Errorf("held.cn: %s %q; want fail", r.Status, r.Detail)
		}
		if kept, _ := filepath.Glob(filepath.Join(cache, "icpedge", "rdap-dns-*.json")); len(kept) != 1 {
			t.Errorf("bootstrap files kept in the user's cache directory: %q; want one", kept)
		}
	})

	t.Run("bad flag", func(t *testing.T) {
		if _, code := runCheck(t, "--rdap-bootstrap", "data.iana.org/rdap/dns.json", "http://www.held.cn/"); code != 2 {
			t.Errorf("bad --rdap-bootstrap: exit %d; want 2", code)
		}
	})
}

// TestDomainAuditEndToEnd: the running edge looks its domains up once,
// not at every check.interval, reports them in icpedge_compliance_ok and
// icpedge_domain_expiry_days, and keeps the bootstrap file across a
// restart.
func TestDomainAuditEndToEnd(t *testing.T) {
	rdap := rdaptest.NewServer(t)
	origin := complianceOrigin(t)
	path := writeConfig(t, fmt.Sprintf(`hosts: [www.held.cn]
origin: %s
listen:
  http: %s
state_dir: state
notice:
  icp: %s
admin:
  listen: 127.0.0.1:0
apex:
  host: expiring.cn
check:
  interval: 1s
  pages: 0
  expect_ips: [127.0.0.1]
  rdap_bootstrap: %s
`, origin.URL, freePort(t), testICP, rdap.BootstrapURL()))
	e := startEdge(t, path)
	e.waitListening(2, 20*time.Second)

	log := e.waitLog(`msg="compliance domain audit done"`, 30*time.Second)
	mustContain(t, log, `msg="compliance check failed" host=held.cn check=domain-status detail="on client hold`)
	mustContain(t, log, `msg="compliance check failed" host=expiring.cn check=domain-expiry`)
	mustContain(t, log, `msg="compliance check warning" host=held.cn check=domain-expiry`)
	// Two more page audits, and the domains were not asked again.
	audits := strings.Count(log, `msg="compliance audit done"`)
	waitFor(t, 30*time.Second, "two more page audits", func() bool {
		return strings.Count(e.Log(), `msg="compliance audit done"`) >= audits+2
	})
	for _, p := range []string{"/bootstrap/dns.json", "/cnnic/domain/held.cn", "/cnnic/domain/expiring.cn"} {
		if n := rdap.Requests(p); n != 1 {
			t.Errorf("%s asked %d times; want once", p, n)
		}
	}
	if n := strings.Count(e.Log(), `msg="compliance domain audit done"`); n != 1 {
		t.Errorf("%d domain audits; want 1", n)
	}

	metrics := metricsOf(t, e)
	for _, want := range []string{
		`icpedge_compliance_ok{check="domain-status",host="held.cn"} 0`,
		`icpedge_compliance_ok{check="domain-expiry",host="held.cn"} 1`,
		`icpedge_compliance_ok{check="domain-registrar",host="held.cn"} 1`,
		`icpedge_compliance_ok{check="domain-expiry",host="expiring.cn"} 0`,
		`icpedge_compliance_ok{check="apex",host="expiring.cn"} 1`,
		`icpedge_domain_expiry_days{domain="expiring.cn"} 10`,
		`icpedge_domain_expiry_days{domain="held.cn"} 30`,
	} {
		mustContain(t, metrics, want)
	}
	if kept, _ := filepath.Glob(filepath.Join(e.dir, "state", "rdap-dns-*.json")); len(kept) != 1 {
		t.Errorf("bootstrap files kept in state_dir: %q; want one", kept)
	}

	// A restart looks the domains up again, from the kept bootstrap file.
	e.stop()
	e2 := startEdge(t, path)
	e2.waitLog(`msg="compliance domain audit done"`, 30*time.Second)
	if n := rdap.Requests("/bootstrap/dns.json"); n != 1 {
		t.Errorf("bootstrap file fetched %d times across a restart; want once a day", n)
	}
	if n := rdap.Requests("/cnnic/domain/held.cn"); n != 2 {
		t.Errorf("held.cn asked %d times across a restart; want 2", n)
	}
}

// metricsOf returns the edge's /metrics.
func metricsOf(t *testing.T, e *edgeProc) string {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(e.dir, "state", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.Addr("admin")+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// hasLine reports whether a line of text holds parts, in order, with only
// spaces between them.
func hasLine(text string, parts ...string) bool {
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Join(strings.Fields(line), " ")
		if strings.Contains(fields, strings.Join(parts, " ")) {
			return true
		}
	}
	return false
}
