package main

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	testPolice  = "京公网安备11010502012345号"
	testCompany = "示例科技有限公司"
	oldICP      = "沪ICP备87654321号-2"
)

// ownNoticeOrigin is an origin whose footer links the client's number to
// MIIT itself but lacks the company and the police number; /old still
// shows the number of a filing the client used to have.
func ownNoticeOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		footer := `<a href="https://beian.miit.gov.cn/" target="_blank">` + testICP + `</a>`
		switch r.URL.Path {
		case "/":
			fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>Client</title></head><body><h1>Client</h1>
<p>Products and news of the client company.</p><a href="/old">Archive</a><footer>%s</footer></body></html>`, footer)
		case "/old":
			fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>Archive</title></head><body><h1>Archive</h1>
<p>Pages from before the move.</p><footer>%s</footer></body></html>`, `<a href="https://beian.miit.gov.cn/">`+oldICP+`</a>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(o.Close)
	return o
}

// TestNoticeCompletedE2E: a page that links the number to MIIT itself
// still gets the company and the police number with its badge, so that
// icpedge's own check passes it; a page showing a second filing number is
// flagged as icp-conflict by check (table and JSON) and by the self-audit.
func TestNoticeCompletedE2E(t *testing.T) {
	origin := ownNoticeOrigin(t)
	path := writeConfig(t, fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: %s
state_dir: state
notice:
  icp: %s
  company: %s
  police: %s
admin:
  listen: 127.0.0.1:0
check:
  interval: 1s
  pages: 5
  expect_ips: [127.0.0.1]
`, testHost, origin.URL, freePort(t), testICP, testCompany, testPolice))
	e := startEdge(t, path)
	e.waitListening(2, 20*time.Second)
	port := portOf(e.Addr("http"))

	_, body := getBody(t, e.Addr("http"), "http://"+testHost+":"+port+"/")
	for _, want := range []string{testCompany, testPolice, "https://beian.mps.gov.cn/#/query/webSearch?code=11010502012345", `<img src="/.icpedge/police.png"`} {
		mustContain(t, body, want)
	}
	if n := strings.Count(body, "https://beian.miit.gov.cn/"); n != 1 || strings.Count(body, testICP) != 1 {
		t.Errorf("got %d MIIT links, %d numbers; want the page's own one only:\n%s", n, strings.Count(body, testICP), abbrev(body))
	}

	dns := startTestDNS(t, map[string]string{testHost: "127.0.0.1"})
	args := []string{"--config", path, "--dns", dns, "--resolve", testHost + ":" + port + ":127.0.0.1", "http://" + testHost + ":" + port + "/"}
	out, code := runCheck(t, append([]string{"--json"}, args...)...)
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	for check, want := range map[string]string{"icp": "ok", "police": "ok", "visible": "ok", "icp-conflict": "fail"} {
		if got := rep.status(testHost, check); got != want {
			t.Errorf("--json %s: %q; want %q\n%s", check, got, want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d; want 1 for the conflict", code)
	}
	table, _ := runCheck(t, args...)
	if !slices.ContainsFunc(strings.Split(table, "\n"), func(l string) bool {
		return strings.Join(strings.Fields(l)[:min(3, len(strings.Fields(l)))], " ") == testHost+" icp-conflict FAIL"
	}) {
		t.Errorf("table lacks a failing icp-conflict line:\n%s", table)
	}
	mustContain(t, table, "/old: shows "+oldICP+" besides "+testICP)

	// The self-audit reports the same.
	e.waitLog("compliance audit done", 30*time.Second)
	metrics := scrapeMetrics(t, e, filepath.Join(filepath.Dir(path), "state"))
	for _, want := range []string{
		`icpedge_compliance_ok{check="icp",host="icp.example.test"} 1`,
		`icpedge_compliance_ok{check="police",host="icp.example.test"} 1`,
		`icpedge_compliance_ok{check="icp-conflict",host="icp.example.test"} 0`,
	} {
		mustContain(t, metrics, want)
	}
	mustContain(t, html.UnescapeString(e.Log()), `msg="compliance check failed" host=icp.example.test check=icp-conflict detail="/old: shows `+oldICP)
}
