package status

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/proxy"
)

// The proxy feeds a Window directly.
var _ proxy.Observer = (*Window)(nil)

func TestBoardAudits(t *testing.T) {
	c := newClock()
	b := NewBoard(c.Now)
	pagesAt := c.Now()
	b.SetAudit("a", "pages", []compliance.Result{
		{Site: "icp.a.com", Check: "reachable", Status: compliance.OK, Detail: "200 in 40 ms"},
		{Site: "icp.a.com", Check: "icp-conflict", Status: compliance.Fail, Detail: "shows 沪ICP备1号 besides 京ICP备2号", Fix: "remove the old number",
			Pages: []string{"/old", "/a", "/b", "/c", "/d"}},
		{Site: "-", Check: "apex", Status: compliance.Skip, Detail: "no apex configured"},
	})
	c.Advance(time.Minute)
	b.SetAudit("a", "domains", []compliance.Result{{Site: "a.com", Check: "domain-expiry", Status: compliance.Warn, Detail: "expires in 20 days"}})
	// The domains part recorded first for b: pages still come first.
	b.SetAudit("b", "domains", []compliance.Result{{Site: "b.cn", Check: "domain-expiry", Status: compliance.OK}})
	b.SetAudit("b", "pages", []compliance.Result{{Site: "www.b.cn", Check: "icp", Status: compliance.OK}})

	p := b.Page([]Client{{Name: "a", Hosts: []string{"icp.a.com"}}, {Name: "b", Hosts: []string{"www.b.cn", "b.cn"}}, {Name: "c", Hosts: []string{"c.com"}, AuditOff: "check.interval is 0"}, {Name: "d", Hosts: []string{"d.com"}}})
	if len(p.Sites) != 4 {
		t.Fatalf("got %d sites; want 4", len(p.Sites))
	}
	want := []Check{
		{Name: "reachable", Result: OK, At: pagesAt, Reason: "200 in 40 ms"},
		{Name: "icp-conflict", Result: Fail, At: pagesAt, Reason: "shows 沪ICP备1号 besides 京ICP备2号 (on /old, /a, /b and 2 more)", Fix: "remove the old number"},
		{Name: "apex", Result: Skip, At: pagesAt, Reason: "no apex configured"},
		{Name: "domain-expiry", Target: "a.com", Result: Warn, At: pagesAt.Add(time.Minute), Reason: "expires in 20 days"},
	}
	if got := p.Sites[0].Checks; !equalChecks(got, want) {
		t.Errorf("a's checks:\n got %+v\nwant %+v", got, want)
	}
	if got := p.Sites[1].Checks; len(got) != 2 || got[0].Name != "icp" || got[0].Target != "www.b.cn" || got[1].Name != "domain-expiry" {
		t.Errorf("b's checks %+v; want icp (www.b.cn) then domain-expiry", got)
	}
	if got := p.Sites[2].AuditNote; got != "check.interval is 0" {
		t.Errorf("c's audit note %q; want the reason no audit runs", got)
	}
	if got := p.Sites[3].AuditNote; got != "The first self-audit has not finished yet." {
		t.Errorf("d's audit note %q; want that none has finished", got)
	}
	// The page must not share the board's slices.
	p.Sites[0].Checks[0].Name = "changed"
	if b.Page([]Client{{Name: "a", Hosts: []string{"icp.a.com"}}}).Sites[0].Checks[0].Name != "reachable" {
		t.Error("changing a page changed the board")
	}
}

func equalChecks(a, b []Check) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBoardReloads(t *testing.T) {
	c := newClock()
	b := NewBoard(c.Now)
	clients := []Client{{Name: "a"}, {Name: "b"}}
	if r := b.Page(clients).Sites[0].Reload; !r.At.IsZero() {
		t.Errorf("before any reload: %+v; want none", r)
	}
	c.Advance(time.Hour)
	b.Reloaded(nil, map[string]error{"b": errors.New("b.yaml:3: origin: missing")})
	p := b.Page(clients)
	if r := p.Sites[0].Reload; r.At != c.Now() || r.Err != "" {
		t.Errorf("a: %+v; want applied now", r)
	}
	if r := p.Sites[1].Reload; r.At != c.Now() || r.Err != "b.yaml:3: origin: missing" {
		t.Errorf("b: %+v; want its file's error", r)
	}
	c.Advance(time.Minute)
	b.Reloaded(errors.New("reading /etc/icpedge/sites: permission denied"), nil)
	for _, s := range b.Page(clients).Sites {
		if s.Reload.Err != "reading /etc/icpedge/sites: permission denied" {
			t.Errorf("%s: %+v; want the rejected reload's error", s.Name, s.Reload)
		}
	}
}

func TestBoardWindowsSurviveReloads(t *testing.T) {
	b := NewBoard(newClock().Now)
	w := b.Window("a")
	w.Served("hit", false)
	if b.Window("a") != w {
		t.Fatal("a second Window(a) is another window")
	}
	if got := b.Page([]Client{{Name: "a"}}).Sites[0].Traffic.Lookups; got != 1 {
		t.Errorf("page shows %d lookups; want 1", got)
	}
	b.SetAudit("a", "pages", []compliance.Result{{Check: "icp", Status: compliance.OK}})
	b.Keep([]string{"b"})
	if b.Window("a") == w {
		t.Error("a removed client's window is kept")
	}
	if got := b.Page([]Client{{Name: "a"}}).Sites[0].Checks; len(got) != 0 {
		t.Errorf("a removed client's checks are kept: %+v", got)
	}
}

func TestBoardCerts(t *testing.T) {
	c := newClock()
	b := NewBoard(c.Now)
	notAfter := c.Now().Add(60 * 24 * time.Hour)
	le := &x509.Certificate{NotAfter: notAfter, Issuer: pkix.Name{CommonName: "R11", Organization: []string{"Let's Encrypt"}}}
	p := b.Page([]Client{
		{Name: "a", Hosts: []string{"icp.a.com", "a.com"}, Certs: map[string]*x509.Certificate{"icp.a.com": le}, CertErr: "acme: a.com: NXDOMAIN"},
		{Name: "b", Hosts: []string{"b.com"}},
	})
	want := []Cert{
		{Host: "icp.a.com", Issuer: "Let's Encrypt R11", NotAfter: notAfter, Err: "acme: a.com: NXDOMAIN"},
		{Host: "a.com", Err: "acme: a.com: NXDOMAIN"},
	}
	if got := p.Sites[0].Certs; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("a's certs:\n got %+v\nwant %+v", got, want)
	}
	if got := p.Sites[1].Certs; got != nil {
		t.Errorf("b (no HTTPS) certs %+v; want none", got)
	}
	// An issuer with no organisation shows its common name alone.
	if got := cert509("x", &x509.Certificate{Issuer: pkix.Name{CommonName: "Pebble Intermediate CA 1f2e"}}, "").Issuer; got != "Pebble Intermediate CA 1f2e" {
		t.Errorf("issuer %q", got)
	}
}

// A new client whose file does not load is not served: the page lists it
// apart, as refused.
func TestBoardRefusedNewFile(t *testing.T) {
	c := newClock()
	b := NewBoard(c.Now)
	b.Reloaded(nil, map[string]error{"new": errors.New("new.yaml:2: hosts: missing"), "a": errors.New("a.yaml:9: origin: bad")})
	p := b.Page([]Client{{Name: "a"}})
	if len(p.Refused) != 1 || p.Refused[0] != (Refused{Name: "new", Err: "new.yaml:2: hosts: missing", At: c.Now()}) {
		t.Errorf("Refused %+v; want new's file only (a keeps serving and shows its own)", p.Refused)
	}
	var buf strings.Builder
	if err := render(&buf, p, c.Now(), time.Minute, "/"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `data-refused="new"`) || !strings.Contains(buf.String(), "new.yaml:2: hosts: missing") {
		t.Errorf("page does not show the refused file:\n%s", buf.String())
	}
}

func TestBoardNil(t *testing.T) {
	var b *Board
	b.SetAudit("a", "pages", []compliance.Result{{Check: "icp"}})
	b.Reloaded(errors.New("x"), nil)
	b.Skipped(nil)
	b.Keep(nil)
	w := b.Window("a")
	if w != nil {
		t.Fatal("a nil Board made a Window")
	}
	w.Served("hit", false)
	if p := b.Page([]Client{{Name: "a"}}); len(p.Sites) != 1 || len(p.Sites[0].Checks) != 0 {
		t.Errorf("nil Board's page %+v; want the client and nothing else", p)
	}
}
