package compliance

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance/rdaptest"
)

func TestRegistrableDomain(t *testing.T) {
	tests := []struct{ host, domain, reason string }{
		{"icp.client.com.cn", "client.com.cn", ""},
		{"client.com.cn", "client.com.cn", ""},
		{"www.client.cn", "client.cn", ""},
		{"a.b.client.co.uk", "client.co.uk", ""},
		{"www.xn--fsqu00a.xn--fiqs8s", "xn--fsqu00a.xn--fiqs8s", ""}, // www.例子.中国
		{"client.github.io", "github.io", ""},                        // a private suffix is no registry
		{"intranet.corp.unknowntld", "corp.unknowntld", ""},
		{"icp.example.test", "example.test", ".test is a special-use name: no registry holds it"},
		{"router.home.arpa", "router.home.arpa", ".home.arpa is a special-use name: no registry holds it"},
		{"test", "test", ".test is a special-use name: no registry holds it"},
		{"127.0.0.1", "127.0.0.1", "an IP address has no domain registration"},
		{"[::1]", "[::1]", "an IP address has no domain registration"},
		{"localhost", "localhost", ".localhost is a special-use name: no registry holds it"},
		{"intranet", "intranet", "a single-label name has no domain registration"},
		{"com.cn", "com.cn", ".com.cn is a public suffix, not a registered domain"},
	}
	for _, tt := range tests {
		d, reason := registrableDomain(tt.host)
		if d != tt.domain || reason != tt.reason {
			t.Errorf("registrableDomain(%q) = %q, %q; want %q, %q", tt.host, d, reason, tt.domain, tt.reason)
		}
	}
}

// rdapChecker returns a checker whose RDAP client asks srv (unless told
// another bootstrap URL), keeping the bootstrap file in dir.
func rdapChecker(srv *rdaptest.Server, dir string, o Options, ro RDAPOptions) *Checker {
	if ro.BootstrapURL == "" {
		ro.BootstrapURL = srv.BootstrapURL()
	}
	ro.BootstrapDir = dir
	if srv.Certificate() != nil {
		ro.RootCAs = x509.NewCertPool()
		ro.RootCAs.AddCert(srv.Certificate())
	}
	if ro.Timeout == 0 {
		ro.Timeout = 10 * time.Second
	}
	o.RDAP = NewRDAP(ro)
	return New(o)
}

func bySiteCheck(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Site+" "+r.Check] = r
	}
	return m
}

// TestDomains runs the domain checks against an RDAP server speaking the
// protocol, over HTTPS.
func TestDomains(t *testing.T) {
	srv := rdaptest.NewTLSServer(t)
	c := rdapChecker(srv, t.TempDir(), Options{}, RDAPOptions{})
	rs := c.Domains(context.Background(), []string{
		"icp.client.com.cn", "client.com.cn", "www.expiring.cn", "www.held.cn", "www.client-global.com",
		"www.client.hk", "www.unknown.cn", "www.broken.xyz", "icp.example.test", "example.test", "127.0.0.1",
	})
	got := bySiteCheck(rs)
	if len(got) != len(rs) {
		t.Errorf("%d results for %d distinct site and check pairs; want each once", len(rs), len(got))
	}
	registry := srv.URL + "/cnnic/domain/"
	tests := []struct {
		site, check string
		status      Status
		detail      string // a prefix
		fix         string // a part, when it fails or warns
	}{
		{"client.com.cn", CheckDomainExpiry, OK, "expires on " + dateIn(400) + ", 400 days left", ""},
		{"client.com.cn", CheckDomainStatus, OK, "client delete prohibited, client transfer prohibited", ""},
		{"client.com.cn", CheckDomainRegistrar, OK, "北京示例网络科技有限公司, CN", ""},
		{"expiring.cn", CheckDomainExpiry, Fail, "expires on " + dateIn(10) + ", in 10 days", "renew expiring.cn at 北京示例网络科技有限公司 now"},
		{"expiring.cn", CheckDomainStatus, OK, "active", ""},
		{"held.cn", CheckDomainStatus, Fail, "on client hold (client hold, client transfer prohibited)", "ask Example Cloud Computing (Hangzhou) Co., Ltd. what is missing"},
		{"held.cn", CheckDomainExpiry, Warn, "expires on " + dateIn(30) + ", in 30 days", "turn on automatic renewal"},
		{"held.cn", CheckDomainRegistrar, OK, "Example Cloud Computing (Hangzhou) Co., Ltd., CN", ""},
		{"client-global.com", CheckDomainExpiry, OK, "expires on " + dateIn(200) + ", 200 days left", ""},
		{"client-global.com", CheckDomainRegistrar, Warn, "Example Registrar, LLC (IANA 9999), US: a registrar outside China",
			`Beijing and Hunan (北京、湖南通信管理局) no longer accept filings for domains held at a registrar outside China: transfer client-global.com to a registrar in China before filing or re-filing there; if the client's province accepts it, add "Example Registrar, LLC" to check.registrars`},
		{"client.hk", CheckDomainExpiry, Skip, "no RDAP server for .hk: the bootstrap file lists none", ""},
		{"client.hk", CheckDomainRegistrar, Skip, "no RDAP server for .hk", ""},
		{"unknown.cn", CheckDomainStatus, Skip, registry + "unknown.cn: the server does not know the domain (404)", ""},
		{"broken.xyz", CheckDomainExpiry, Skip, srv.URL + `/broken/domain/broken.xyz: the answer is "text/html; charset=utf-8", not RDAP JSON`, ""},
		{"example.test", CheckDomainRegistrar, Skip, ".test is a special-use name", ""},
		{"127.0.0.1", CheckDomainExpiry, Skip, "an IP address has no domain registration", ""},
	}
	for _, tt := range tests {
		r, ok := got[tt.site+" "+tt.check]
		if !ok {
			t.Errorf("%s %s: no result", tt.site, tt.check)
			continue
		}
		if r.Status != tt.status || !strings.HasPrefix(r.Detail, tt.detail) {
			t.Errorf("%s %s: got %s %q; want %s %q…", tt.site, tt.check, r.Status, r.Detail, tt.status, tt.detail)
		}
		if !strings.Contains(r.Fix, tt.fix) || (tt.status == Fail || tt.status == Warn) != (r.Fix != "") {
			t.Errorf("%s %s: fix %q; want one containing %q", tt.site, tt.check, r.Fix, tt.fix)
		}
	}

	// The JSON fields, and the URL asked: the https one of the two the
	// bootstrap file lists.
	if r := got["client.com.cn "+CheckDomainExpiry]; r.URL != registry+"client.com.cn" || r.DaysLeft == nil || *r.DaysLeft != 400 || r.Expires == "" {
		t.Errorf("client.com.cn expiry: URL %q, days_left %v, expires %q; want %s, 400 and a date", r.URL, r.DaysLeft, r.Expires, registry+"client.com.cn")
	}
	if r := got["client-global.com "+CheckDomainRegistrar]; r.Registrar != "Example Registrar, LLC" || r.IANAID != "9999" || r.Country != "US" {
		t.Errorf("client-global.com registrar fields: %q %q %q", r.Registrar, r.IANAID, r.Country)
	}
	if r := got["held.cn "+CheckDomainStatus]; strings.Join(r.DomainStatus, "|") != "client hold|client transfer prohibited" {
		t.Errorf("held.cn domain_status: %q", r.DomainStatus)
	}
	// The thin registry answer was completed from the registrar's, asked
	// once; the bootstrap file was fetched once for every domain.
	for path, want := range map[string]int{
		"/registrar/domain/CLIENT-GLOBAL.COM": 1, "/verisign/domain/client-global.com": 1,
		"/bootstrap/dns.json": 1, "/cnnic/domain/client.com.cn": 1, "/cnnic/domain/held.cn": 1,
	} {
		if n := srv.Requests(path); n != want {
			t.Errorf("%s asked %d times; want %d", path, n, want)
		}
	}
}

func dateIn(days int) string {
	return time.Now().UTC().Add(time.Duration(days)*24*time.Hour + 12*time.Hour).Format(time.DateOnly)
}

// TestDomainExpiryThresholds moves the clock: a warning under 60 days, a
// failure under 14 and once expired.
func TestDomainExpiryThresholds(t *testing.T) {
	srv := rdaptest.NewServer(t)
	dir := t.TempDir()
	tests := []struct {
		later  int // days from now
		status Status
		detail string
	}{
		{340, OK, "60 days left"},
		{341, Warn, "in 59 days"},
		{386, Warn, "in 14 days"},
		{387, Fail, "in 13 days"},
		{400, Fail, "expires today, " + dateIn(400) + " "},
		{401, Fail, "expired on " + dateIn(400) + " (1 day ago)"},
	}
	for _, tt := range tests {
		now := time.Now().Add(time.Duration(tt.later) * 24 * time.Hour)
		c := rdapChecker(srv, dir, Options{Now: func() time.Time { return now }}, RDAPOptions{})
		r := bySiteCheck(c.Domains(context.Background(), []string{"client.com.cn"}))["client.com.cn "+CheckDomainExpiry]
		if r.Status != tt.status || !strings.Contains(r.Detail, tt.detail) {
			t.Errorf("%d days later: got %s %q; want %s with %q", tt.later, r.Status, r.Detail, tt.status, tt.detail)
		}
	}
}

func TestAcceptedRegistrars(t *testing.T) {
	srv := rdaptest.NewServer(t)
	dir := t.TempDir()
	for _, accepted := range [][]string{{"example registrar,  LLC"}, {"9999"}} {
		c := rdapChecker(srv, dir, Options{Registrars: accepted}, RDAPOptions{})
		r := bySiteCheck(c.Domains(context.Background(), []string{"client-global.com"}))["client-global.com "+CheckDomainRegistrar]
		if want := "Example Registrar, LLC (IANA 9999), US; accepted in check.registrars"; r.Status != OK || r.Detail != want {
			t.Errorf("accepted %q: got %s %q; want ok %q", accepted, r.Status, r.Detail, want)
		}
	}
	c := rdapChecker(srv, dir, Options{Registrars: []string{"Example Registrar"}}, RDAPOptions{})
	if r := bySiteCheck(c.Domains(context.Background(), []string{"client-global.com"}))["client-global.com "+CheckDomainRegistrar]; r.Status != Warn {
		t.Errorf("another registrar accepted: got %s %q; want warn", r.Status, r.Detail)
	}
}

// TestRDAPServersOverride: check.rdap names a server for a TLD the
// bootstrap file lacks, and wins over the bootstrap file for a suffix it
// has.
func TestRDAPServersOverride(t *testing.T) {
	srv := rdaptest.NewServer(t)
	c := rdapChecker(srv, t.TempDir(), Options{}, RDAPOptions{Servers: map[string]string{
		"hk":     srv.URL + "/hkirc", // without the final "/"
		"com.cn": srv.URL + "/hkirc/",
	}})
	got := bySiteCheck(c.Domains(context.Background(), []string{"www.client.hk", "icp.client.com.cn", "www.held.cn"}))
	if r := got["client.hk "+CheckDomainRegistrar]; r.Status != Warn || r.Detail != "Example Domain Registration Limited, Hong Kong: a registrar outside China" {
		t.Errorf("client.hk registrar: got %s %q", r.Status, r.Detail)
	}
	if r := got["client.hk "+CheckDomainExpiry]; r.Status != OK || r.URL != srv.URL+"/hkirc/domain/client.hk" {
		t.Errorf("client.hk expiry: got %s %q from %s", r.Status, r.Detail, r.URL)
	}
	// com.cn goes to the configured server, which does not know it; cn
	// still follows the bootstrap file.
	if r := got["client.com.cn "+CheckDomainExpiry]; r.Status != Skip || !strings.Contains(r.Detail, "/hkirc/domain/client.com.cn: the server does not know the domain (404)") {
		t.Errorf("client.com.cn: got %s %q; want skipped with a 404 from /hkirc/", r.Status, r.Detail)
	}
	if r := got["held.cn "+CheckDomainStatus]; r.Status != Fail {
		t.Errorf("held.cn: got %s %q; want fail", r.Status, r.Detail)
	}
}

// TestBootstrapKept: the bootstrap file is kept in the state directory and
// fetched again only when it is a day old; a stale copy serves when the
// fetch fails.
func TestBootstrapKept(t *testing.T) {
	srv := rdaptest.NewServer(t)
	dir := t.TempDir()
	var logBuf syncBuffer
	lookup := func(ro RDAPOptions) Result {
		t.Helper()
		ro.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
		c := rdapChecker(srv, dir, Options{}, ro)
		return bySiteCheck(c.Domains(context.Background(), []string{"www.held.cn"}))["held.cn "+CheckDomainStatus]
	}
	fetches := func() int { return srv.Requests("/bootstrap/dns.json") }

	if r := lookup(RDAPOptions{}); r.Status != Fail || fetches() != 1 {
		t.Fatalf("first run: %s %q, %d fetches; want fail and 1 fetch", r.Status, r.Detail, fetches())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "rdap-dns-*.json"))
	if len(files) != 1 {
		t.Fatalf("kept files %q; want one, named for the URL", files)
	}
	file := files[0]
	kept, err := os.ReadFile(file)
	if err != nil || !bytes.Contains(kept, []byte(`"services"`)) {
		t.Fatalf("bootstrap file not kept: %v %.80q", err, kept)
	}
	if r := lookup(RDAPOptions{}); r.Status != Fail || fetches() != 1 {
		t.Errorf("second run: %s, %d fetches; want the kept file used", r.Status, fetches())
	}

	// A day later it is fetched again.
	day := time.Now().Add(-25 * time.Hour)
	if err := os.Chtimes(file, day, day); err != nil {
		t.Fatal(err)
	}
	if r := lookup(RDAPOptions{}); r.Status != Fail || fetches() != 2 {
		t.Errorf("a day later: %s, %d fetches; want 2", r.Status, fetches())
	}
	if fi, err := os.Stat(file); err != nil || time.Since(fi.ModTime()) > time.Hour {
		t.Errorf("the refreshed file was not written: %v", err)
	}

	// Stale, and the fetch fails: the stale copy serves, with a warning.
	if err := os.Chtimes(file, day, day); err != nil {
		t.Fatal(err)
	}
	srv.SetBootstrapDown(true)
	if r := lookup(RDAPOptions{}); r.Status != Fail || fetches() != 3 {
		t.Errorf("stale copy: %s %q; want it used", r.Status, r.Detail)
	}
	if log := logBuf.String(); !strings.Contains(log, `msg="RDAP bootstrap file not refreshed; using the kept copy"`) || !strings.Contains(log, "503 Service Unavailable") {
		t.Errorf("log: %s; want the stale copy and why", log)
	}
	srv.SetBootstrapDown(false)

	// Damaged, and the fetch works: replaced.
	if err := os.WriteFile(file, []byte(`{"version": "1.0", "services": [[["cn"`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := lookup(RDAPOptions{}); r.Status != Fail || fetches() != 4 {
		t.Errorf("damaged copy: %s, %d fetches; want it fetched again", r.Status, fetches())
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, kept) {
		t.Errorf("damaged copy not replaced: %.80q", b)
	}

	// Another URL, whose file is not kept, and the fetch fails: skipped
	// with the reason; the other URL's copy is not used.
	r := lookup(RDAPOptions{BootstrapURL: srv.URL + "/gone/dns.json"})
	if want := "the RDAP bootstrap file " + srv.URL + "/gone/dns.json could not be read: answered 400 Bad Request"; r.Status != Skip || r.Detail != want {
		t.Errorf("no bootstrap: %s %q; want skip %q", r.Status, r.Detail, want)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRDAPLimits: a server that never answers is given up on after the
// timeout, an answer too large is refused, and nothing is a pass.
func TestRDAPLimits(t *testing.T) {
	srv := rdaptest.NewServer(t)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rdap+json")
		w.Write([]byte(`{"objectClassName":"domain","status":["active"],"remarks":[{"description":["`))
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for range 20 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(`"]}]}`))
	}))
	defer big.Close()
	// A server that never answers needs no generous timeout to be
	// given up on; the large answer gets one, so that only its size
	// counts.
	slow := rdapChecker(srv, t.TempDir(), Options{}, RDAPOptions{Timeout: 300 * time.Millisecond})
	large := rdapChecker(srv, t.TempDir(), Options{}, RDAPOptions{Timeout: time.Minute, Servers: map[string]string{"big": big.URL + "/"}})
	got := bySiteCheck(slow.Domains(context.Background(), []string{"www.slow.org"}))
	for k, v := range bySiteCheck(large.Domains(context.Background(), []string{"www.client.big"})) {
		got[k] = v
	}
	for _, check := range DomainChecks {
		if r := got["slow.org "+check]; r.Status != Skip || r.Detail != srv.URL+"/slow/domain/slow.org: no answer within 300ms" {
			t.Errorf("slow.org %s: got %s %q; want skipped for the timeout", check, r.Status, r.Detail)
		}
		if r := got["client.big "+check]; r.Status != Skip || r.Detail != big.URL+"/domain/client.big: the answer is larger than 1024 KiB" {
			t.Errorf("client.big %s: got %s %q; want skipped as too large", check, r.Status, r.Detail)
		}
	}
}

// TestRelatedNotDowngraded: a registry answering over https is not
// completed from a registrar's link over http.
func TestRelatedNotDowngraded(t *testing.T) {
	plain := rdaptest.NewServer(t)
	registry := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rdap+json")
		json.NewEncoder(w).Encode(map[string]any{
			"objectClassName": "domain",
			"status":          []string{"active"},
			"entities":        []any{map[string]any{"roles": []string{"registrar"}, "handle": "9999"}},
			"links":           []any{map[string]any{"rel": "related", "type": "application/rdap+json", "href": plain.URL + "/registrar/domain/client-global.com"}},
		})
	}))
	defer registry.Close()
	roots := x509.NewCertPool()
	roots.AddCert(registry.Certificate())
	c := New(Options{RDAP: NewRDAP(RDAPOptions{RootCAs: roots, Servers: map[string]string{"com": registry.URL + "/"}})})
	got := bySiteCheck(c.Domains(context.Background(), []string{"client-global.com"}))
	if n := plain.Total(); n != 0 {
		t.Errorf("the http registrar was asked %d times; want 0", n)
	}
	if r := got["client-global.com "+CheckDomainExpiry]; r.Status != Skip {
		t.Errorf("expiry: got %s %q; want skipped, with no date from the registry", r.Status, r.Detail)
	}
	if r := got["client-global.com "+CheckDomainRegistrar]; r.Status != Warn || r.Detail != "9999: no country published" {
		t.Errorf("registrar: got %s %q; want a warning that the country is unknown", r.Status, r.Detail)
	}
}

// TestWarnInReport: warnings are counted apart, shown in capitals with
// their fix, and do not make the report fail.
func TestWarnInReport(t *testing.T) {
	var rep Report
	rep.Add(Result{Site: "client-global.com", Check: CheckDomainRegistrar, Status: Warn, Detail: "outside China", Fix: "transfer it"},
		Result{Site: "client.com.cn", Check: CheckDomainExpiry, Status: OK, Detail: "400 days left"})
	if !rep.OK || rep.Warnings != 1 || rep.Problems != 0 {
		t.Errorf("report: ok %v, %d warnings, %d problems; want ok, 1, 0", rep.OK, rep.Warnings, rep.Problems)
	}
	var b bytes.Buffer
	rep.WriteTable(&b)
	for _, want := range []string{"client-global.com  domain-registrar  WARN    outside China", "fix: transfer it", "ok: 2 checks, 0 problems, 1 warnings, 0 skipped"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table:\n%s\nwant it to contain %q", b.String(), want)
		}
	}
}

func TestBootstrapFileName(t *testing.T) {
	dir := t.TempDir()
	if got, want := NewRDAP(RDAPOptions{BootstrapDir: dir}).bootstrapFile(), filepath.Join(dir, "rdap-dns.json"); got != want {
		t.Errorf("IANA's: %s; want %s", got, want)
	}
	a := NewRDAP(RDAPOptions{BootstrapDir: dir, BootstrapURL: "https://mirror.example/dns.json"}).bootstrapFile()
	b := NewRDAP(RDAPOptions{BootstrapDir: dir, BootstrapURL: "https://mirror.example/dns2.json"}).bootstrapFile()
	if a == b || !strings.HasPrefix(filepath.Base(a), "rdap-dns-") {
		t.Errorf("other URLs: %s and %s; want a file for each", a, b)
	}
	if got := NewRDAP(RDAPOptions{}).bootstrapFile(); got != "" {
		t.Errorf("no directory: %q; want none", got)
	}
}

// TestRelatedFails: when the registrar's servers fail, at most two are
// asked, and the checks say why they lack what the registrar would give.
func TestRelatedFails(t *testing.T) {
	var mu sync.Mutex
	asked := 0
	registrar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked++
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer registrar.Close()
	var links []any
	for i := range 4 {
		links = append(links, map[string]any{"rel": "related", "type": "application/rdap+json", "href": fmt.Sprintf("%s/r%d/domain/thin.com", registrar.URL, i)})
	}
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rdap+json")
		json.NewEncoder(w).Encode(map[string]any{
			"objectClassName": "domain",
			"status":          []string{"active"},
			"entities":        []any{map[string]any{"roles": []string{"registrar"}, "vcardArray": []any{"vcard", []any{[]any{"fn", map[string]any{}, "text", "Thin Registrar"}}}}},
			"links":           links,
		})
	}))
	defer registry.Close()
	c := New(Options{RDAP: NewRDAP(RDAPOptions{Servers: map[string]string{"com": registry.URL}})})
	got := bySiteCheck(c.Domains(context.Background(), []string{"www.thin.com"}))
	note := "the registrar's RDAP server: " + registrar.URL + "/r1/domain/thin.com: the server does not know the domain (404)"
	if r := got["thin.com "+CheckDomainExpiry]; r.Status != Skip || !strings.HasSuffix(r.Detail, note) {
		t.Errorf("expiry: got %s %q; want skipped, ending %q", r.Status, r.Detail, note)
	}
	if r := got["thin.com "+CheckDomainRegistrar]; r.Status != Warn || !strings.HasPrefix(r.Detail, "Thin Registrar: no country published; "+note[:30]) {
		t.Errorf("registrar: got %s %q", r.Status, r.Detail)
	}
	if r := got["thin.com "+CheckDomainStatus]; r.Status != OK {
		t.Errorf("status: got %s %q; want ok from the registry", r.Status, r.Detail)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked != maxRelatedTries {
		t.Errorf("registrar servers asked %d times; want %d", asked, maxRelatedTries)
	}
}
