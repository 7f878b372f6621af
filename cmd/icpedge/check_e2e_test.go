package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const apexHost = "example.test"

// complianceOrigin is a client's origin whose pages lack the notice and
// link to a dead MIIT host and to a torrent, and which serves a video.
func complianceOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/about":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Client</title></head><body><h1>Client</h1>
<p>Products and news of the client company.</p><a href="/about">About</a>
<a href="http://www.miitbeian.gov.cn/">备案查询</a><footer>© Client</footer></body></html>`)
		case "/film.mp4":
			w.Header().Set("Content-Type", "video/mp4")
			w.Write(make([]byte, 4096))
		case "/x.torrent":
			w.Header().Set("Content-Type", "application/x-bittorrent")
			fmt.Fprint(w, "d8:announce...e")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(o.Close)
	return o
}

// startTestDNS answers A queries for names from a table on loopback UDP,
// NXDOMAIN otherwise, and returns its address.
func startTestDNS(t *testing.T, a map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			ip, known := a[strings.TrimSuffix(q.Name.String(), ".")]
			rh := dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
			if !known {
				rh.RCode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, rh)
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if known && q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.AResource{A: [4]byte(net.ParseIP(ip).To4())})
			}
			if msg, err := b.Finish(); err == nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String()
}

// runCheck runs "icpedge check args..." and returns its output and exit
// status.
func runCheck(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"check"}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if errOut.Len() > 0 {
		t.Logf("icpedge check stderr: %s", errOut.String())
	}
	return out.String(), code
}

type checkReport struct {
	OK       bool `json:"ok"`
	Problems int  `json:"problems"`
	Results  []struct {
		Site, Check, Status, Detail, Fix string
	} `json:"results"`
}

func (r checkReport) status(site, check string) string {
	for _, x := range r.Results {
		if x.Site == site && x.Check == check {
			return x.Status
		}
	}
	return ""
}

func complianceConfig(t *testing.T, origin string) string {
	t.Helper()
	return writeConfig(t, fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: %s
state_dir: state
notice:
  icp: %s
  company: 示例科技有限公司
admin:
  listen: 127.0.0.1:0
apex:
  host: %s
  mode: landing
policy:
  block:
    - {type: video/*, max_size: 1KiB}
check:
  interval: 1s
  pages: 5
  expect_ips: [127.0.0.1]
`, testHost, origin, freePort(t), testICP, apexHost))
}

// TestCheckEndToEnd runs the real binary: check passes against a running
// edge and fails against its origin; the edge audits itself.
func TestCheckEndToEnd(t *testing.T) {
	origin := complianceOrigin(t)
	path := complianceConfig(t, origin.URL)
	e := startEdge(t, path)
	e.waitListening(2, 20*time.Second)
	port := portOf(e.Addr("http"))
	dns := startTestDNS(t, map[string]string{testHost: "127.0.0.1", apexHost: "127.0.0.1"})
	edgeArgs := []string{"--config", path, "--dns", dns,
		"--resolve", testHost + ":" + port + ":127.0.0.1", "--resolve", apexHost + ":" + port + ":127.0.0.1",
		"http://" + testHost + ":" + port + "/", "http://" + apexHost + ":" + port + "/"}

	t.Run("edge passes", func(t *testing.T) {
		out, code := runCheck(t, edgeArgs...)
		if code != 0 {
			t.Fatalf("exit %d; want 0:\n%s", code, out)
		}
		for _, want := range []string{"icp.example.test  icp", "ok", "example.test", "apex", "resolves to 127.0.0.1", "0 problems"} {
			mustContain(t, out, want)
		}
		t.Logf("table:\n%s", out)

		out, code = runCheck(t, append([]string{"--json"}, edgeArgs...)...)
		var rep checkReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.OK {
			t.Fatalf("--json: exit %d, %v; want 0 and ok:\n%s", code, err, out)
		}
		for _, c := range []string{"reachable", "icp", "visible", "dead_links", "policy", "dns"} {
			if got := rep.status(testHost, c); got != "ok" {
				t.Errorf("%s %s: %q; want ok", testHost, c, got)
			}
		}
		if got := rep.status(apexHost, "apex"); got != "ok" {
			t.Errorf("apex: %q; want ok", got)
		}

		// --config-dir finds the same client in its directory.
		dirArgs := append([]string{"--config-dir", e.dir}, edgeArgs[2:]...)
		out, code = runCheck(t, dirArgs...)
		if code != 0 {
			t.Fatalf("--config-dir: exit %d; want 0:\n%s", code, out)
		}
		mustContain(t, out, "CONFIG")
	})

	t.Run("origin fails", func(t *testing.T) {
		oport := portOf(strings.TrimPrefix(origin.URL, "http://"))
		out, code := runCheck(t, "--json", "--config", path, "--dns", dns, "--pages", "0",
			"--resolve", testHost+":"+oport+":127.0.0.1", "--resolve", apexHost+":"+oport+":127.0.0.1",
			"http://"+testHost+":"+oport+"/", "http://"+apexHost+":"+oport+"/nothing")
		var rep checkReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if code != 1 || rep.OK {
			t.Fatalf("exit %d, ok %v; want 1 and problems:\n%s", code, rep.OK, out)
		}
		for _, c := range [][2]string{{testHost, "icp"}, {testHost, "dead_links"}, {apexHost, "apex"}} {
			if got := rep.status(c[0], c[1]); got != "fail" {
				t.Errorf("%s %s: %q; want fail", c[0], c[1], got)
			}
		}
		table, _ := runCheck(t, "--config", path, "--dns", dns, "--pages", "1",
			"--resolve", testHost+":"+oport+":127.0.0.1", "--resolve", apexHost+":"+oport+":127.0.0.1",
			"http://"+testHost+":"+oport+"/", "http://"+apexHost+":"+oport+"/nothing")
		t.Logf("table:\n%s\njson:\n%s", table, out)
		for _, x := range rep.Results {
			if x.Status == "fail" && x.Fix == "" {
				t.Errorf("%s %s fails without a fix", x.Site, x.Check)
			}
		}
	})

	t.Run("cannot run", func(t *testing.T) {
		if _, code := runCheck(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != 2 {
			t.Errorf("missing config: exit %d; want 2", code)
		}
		if _, code := runCheck(t); code != 2 {
			t.Errorf("nothing to check: exit %d; want 2", code)
		}
		if _, code := runCheck(t, "--resolve", "nonsense", "http://x.test/"); code != 2 {
			t.Errorf("bad --resolve: exit %d; want 2", code)
		}
	})

	t.Run("self-audit", func(t *testing.T) {
		// The audit asks the system's DNS, which knows nothing of the
		// test names: the dns check fails, the page checks pass.
		log := e.waitLog("compliance audit done", 20*time.Second)
		mustContain(t, log, `msg="compliance check failed" host=icp.example.test check=dns`)
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
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`icpedge_compliance_ok{check="icp",host="icp.example.test"} 1`,
			`icpedge_compliance_ok{check="visible",host="icp.example.test"} 1`,
			`icpedge_compliance_ok{check="apex",host="example.test"} 1`,
			`icpedge_compliance_ok{check="dns",host="icp.example.test"} 0`,
		} {
			mustContain(t, string(body), want)
		}
	})
}

// TestPolicyAndLandingEndToEnd: the binary answers blocked content 451
// with the notice and serves the apex landing page.
func TestPolicyAndLandingEndToEnd(t *testing.T) {
	origin := complianceOrigin(t)
	e := startEdge(t, complianceConfig(t, origin.URL))
	c := clientFor(e.Addr("http"))
	get := func(host, path string) (int, string) {
		t.Helper()
		resp, err := c.Get("http://" + host + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/x.torrent", "/film.mp4", "/film.mp4"} {
		code, body := get(testHost, p)
		if code != http.StatusUnavailableForLegalReasons {
			t.Errorf("GET %s: %d; want 451", p, code)
		}
		mustContain(t, body, `id="icpedge-notice"`)
	}
	log := e.waitLog(`rule=policy.block[0]`, 30*time.Second)
	mustContain(t, log, `msg="response blocked by content policy" id=`)
	mustContain(t, log, `rule=default:torrent-file`)

	code, body := get(apexHost, "/")
	if code != 200 {
		t.Fatalf("apex: %d; want 200", code)
	}
	for _, want := range []string{"<h1>示例科技有限公司</h1>", `href="http://icp.example.test/"`, `id="icpedge-notice"`, noticeLink} {
		mustContain(t, body, want)
	}
	if code, _ := get(testHost, "/"); code != 200 {
		t.Errorf("main host: %d; want 200", code)
	}
}

// TestSelfAuditKeepsMetrics: while an audit runs, /metrics still shows
// the outcome of the last one; the new outcome replaces it when the audit
// ends. The origin holds the audit's page request until the test has
// scraped, so the scrape falls inside the audit for sure.
func TestSelfAuditKeepsMetrics(t *testing.T) {
	var hold atomic.Bool
	arrived := make(chan struct{}, 64)
	release := make(chan struct{})
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold.Load() {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Client</title></head><body><h1>Client</h1><p>Products and news of the client company.</p><footer>© Client</footer></body></html>`)
	}))
	defer o.Close()
	defer close(release)
	path := writeConfig(t, fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: 127.0.0.1:0
state_dir: state
notice:
  icp: %s
admin:
  listen: 127.0.0.1:0
check:
  interval: 1s
  pages: 0
`, testHost, o.URL, testICP))
	e := startEdge(t, path)
	e.waitListening(2, 20*time.Second)
	e.waitLog("compliance audit done", 30*time.Second)
	const series = `icpedge_compliance_ok{check="icp",host="icp.example.test"} 1`
	mustContain(t, scrapeMetrics(t, e, filepath.Join(filepath.Dir(path), "state")), series)

	hold.Store(true)
	select {
	case <-arrived: // the next audit is fetching the home page
	case <-time.After(60 * time.Second):
		t.Fatal("no audit reached the origin within 60s")
	}
	if m := scrapeMetrics(t, e, filepath.Join(filepath.Dir(path), "state")); !strings.Contains(m, series) {
		t.Errorf("/metrics during an audit lacks %s:\n%s", series, m)
	}
	hold.Store(false)
}

// TestCheckConfigDirProgress: check --config-dir prints one line per
// client as that client's check finishes, not all of them with the
// report. The second client's origin holds every request until the test
// has read the first client's line, so the line can only have come
// before the second client was done.
func TestCheckConfigDirProgress(t *testing.T) {
	fast := complianceOrigin(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>B</title></head><body><p>B</p><a href="https://beian.miit.gov.cn/">%s</a></body></html>`, testICP)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(unblock) // before slow.Close, which waits for its handlers

	dir := t.TempDir()
	var args []string
	for _, c := range []struct{ name, origin string }{{"a", fast.URL}, {"b", slow.URL}} {
		host := c.name + ".example.test"
		// A timeout longer than the test: the slow client's check ends
		// only when its origin is released.
		yaml := fmt.Sprintf("hosts: [%s]\norigin: %s\nlisten:\n  http: 127.0.0.1:80\nstate_dir: %s\nnotice:\n  icp: %s\nadmin:\n  listen: \"\"\ncheck:\n  timeout: 10m\n",
			host, c.origin, filepath.Join(dir, "state-"+c.name), testICP)
		if err := os.WriteFile(filepath.Join(dir, c.name+".yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		port := portOf(strings.TrimPrefix(c.origin, "http://"))
		args = append(args, "--resolve", host+":"+port+":127.0.0.1", "http://"+host+":"+port+"/")
	}

	cmd := exec.Command(binPath, append([]string{"check", "--config-dir", dir, "--pages", "0"}, args...)...)
	var out strings.Builder
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(what string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("check's stderr ended before %s", what)
				}
				if strings.HasPrefix(l, "icpedge check: [") {
					return l
				}
				t.Logf("stderr: %s", l)
			case <-time.After(60 * time.Second):
				t.Fatalf("no line for %s within 60s", what)
			}
		}
	}
	defer func() {
		unblock()
		_ = cmd.Process.Kill() // only if a Fatal left it running
		for range lines {
		}
		_ = cmd.Wait()
	}()

	first := next("the first client")
	if !strings.HasPrefix(first, "icpedge check: [1/2] a: ") || !strings.Contains(first, "problem") {
		t.Fatalf("first line: got %q; want icpedge check: [1/2] a: N problems (…)", first)
	}
	unblock()
	second := next("the second client")
	if !strings.HasPrefix(second, "icpedge check: [2/2] b: ok (") {
		t.Fatalf("second line: got %q; want icpedge check: [2/2] b: ok (…)", second)
	}
	for range lines {
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v; want 1 (client a has problems)\n%s", err, out.String())
	}
	// The report still lists the clients in the order of their files.
	report := out.String()
	if a, b := strings.Index(report, "\na "), strings.Index(report, "\nb "); a < 0 || b < a {
		t.Errorf("report: want client a's rows before b's:\n%s", report)
	}
}
