package main

import (
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheckResolveListenPort: check --resolve HOST:PORT:ADDR, with no URL,
// checks the config's sites on the config's listen port (the edge under
// test is not on 80 or 443); the DNS advice names check.expect_ips, and
// without them no address of the machine running the check.
func TestCheckResolveListenPort(t *testing.T) {
	origin := complianceOrigin(t)
	path := complianceConfig(t, origin.URL)
	e := startEdge(t, path)
	e.waitListening(2, 20*time.Second)
	port := portOf(e.Addr("http"))
	dns := startTestDNS(t, map[string]string{testHost: "198.51.100.9"})
	check := func() checkReport {
		t.Helper()
		out, _ := runCheck(t, "--json", "--config", path, "--dns", dns, "--pages", "0", "--resolve", testHost+":"+port+":127.0.0.1")
		var rep checkReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		return rep
	}
	result := func(rep checkReport, name string) (status, detail, fix string) {
		for _, x := range rep.Results {
			if x.Site == testHost && x.Check == name {
				return x.Status, x.Detail, x.Fix
			}
		}
		t.Fatalf("no %s result for %s in %+v", name, testHost, rep.Results)
		return
	}

	rep := check()
	for _, c := range []string{"reachable", "icp"} {
		if st, detail, _ := result(rep, c); st != "ok" {
			t.Errorf("%s through --resolve on the listen port: %s (%s); want ok", c, st, detail)
		}
	}
	st, detail, fix := result(rep, "dns")
	if st != "fail" || !strings.Contains(detail, "198.51.100.9 not this edge (check.expect_ips: 127.0.0.1)") ||
		!strings.Contains(fix, "set the A record of "+testHost+" to 127.0.0.1 only") {
		t.Errorf("dns with a wrong record: %s, %q, fix %q; want a failure whose advice names check.expect_ips' 127.0.0.1", st, detail, fix)
	}

	// Without check.expect_ips, and with --resolve naming where the edge
	// is, this machine's interface addresses are no answer.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rewriteConfig(t, path, strings.Replace(string(data), "  expect_ips: [127.0.0.1]\n", "", 1))
	rep = check()
	st, detail, fix = result(rep, "dns")
	if st != "skip" || !strings.Contains(detail, "set check.expect_ips to the edge's public address") {
		t.Errorf("dns without check.expect_ips: %s, %q; want skipped, saying to set check.expect_ips", st, detail)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil || p.Addr().IsLoopback() {
			continue
		}
		if ip := p.Addr().String(); strings.Contains(detail+fix, ip) {
			t.Errorf("dns advice %q %q names %s, an address of the machine running the check", detail, fix, ip)
		}
	}
	if st, detail, _ := result(rep, "reachable"); st != "ok" {
		t.Errorf("reachable without check.expect_ips: %s (%s); want ok", st, detail)
	}
}
