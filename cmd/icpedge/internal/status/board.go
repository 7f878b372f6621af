package status

import (
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
)

// Board keeps what the status page shows that no other part of the edge
// keeps: each client's last self-audit results, its traffic Window, and
// the last reload's outcome. Clients are named as the edge names them
// (the config file's name); everything is kept across reloads until Keep
// drops a client. It is safe for concurrent use. A nil *Board records
// nothing, and its Windows are nil.
type Board struct {
	now     func() time.Time
	started time.Time

	mu      sync.Mutex
	windows map[string]*Window
	audits  map[string]map[string]audit // client → part → last audit
	reload  Reload                      // the process's last reload
	broken  map[string]string           // client → why its file was refused then
}

// audit is one part of a client's self-audit (its pages, its domains):
// the results of its last run and when it ended.
type audit struct {
	at      time.Time
	results []compliance.Result
}

// NewBoard returns an empty Board; now is the clock (nil: time.Now).
func NewBoard(now func() time.Time) *Board {
	if now == nil {
		now = time.Now
	}
	return &Board{now: now, started: now(), windows: map[string]*Window{}, audits: map[string]map[string]audit{}}
}

// Window returns client's traffic Window, made on first use and the same
// across reloads, so the hour's figures survive one.
func (b *Board) Window(client string) *Window {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.windows[client]
	if w == nil {
		w = NewWindow(b.now)
		b.windows[client] = w
	}
	return w
}

// SetAudit records the results of one part of client's self-audit
// ("pages", "domains"…), replacing that part's previous results. Parts
// are shown in the order they were first recorded.
func (b *Board) SetAudit(client, part string, rs []compliance.Result) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	parts := b.audits[client]
	if parts == nil {
		parts = map[string]audit{}
		b.audits[client] = parts
	}
	parts[part] = audit{at: b.now(), results: slices.Clone(rs)}
}

// Reloaded records a reload's outcome: err rejected it as a whole (the
// previous config serves on), broken names clients whose file was refused
// while the others were applied.
func (b *Board) Reloaded(err error, broken map[string]error) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reload = Reload{At: b.now()}
	if err != nil {
		b.reload.Err = err.Error()
	}
	b.broken = map[string]string{}
	for name, err := range broken {
		b.broken[name] = err.Error()
	}
}

// Skipped records the files skipped at start: the page lists them as
// refused until a reload says otherwise.
func (b *Board) Skipped(broken map[string]error) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.broken = map[string]string{}
	for name, err := range broken {
		b.broken[name] = err.Error()
	}
}

// Keep forgets every client not in clients: those a reload removed.
func (b *Board) Keep(clients []string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for name := range b.windows {
		if !slices.Contains(clients, name) {
			delete(b.windows, name)
		}
	}
	for name := range b.audits {
		if !slices.Contains(clients, name) {
			delete(b.audits, name)
		}
	}
}

// Client is what the edge knows of a client at the moment the page is
// asked for.
type Client struct {
	Name  string
	Hosts []string
	// Certs are the certificates served now, by host; nil for a client
	// without HTTPS. A host missing from a non-nil map has none yet.
	Certs map[string]*x509.Certificate
	// CertErr is the last error obtaining a certificate, "" for none.
	CertErr string
	// CacheBytes is what its cache holds on disk.
	CacheBytes int64
	// AuditOff explains why no self-audit runs, "" when one does.
	AuditOff string
}

// Page builds the page for clients, in their order.
func (b *Board) Page(clients []Client) Page {
	if b == nil {
		b = NewBoard(nil)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := Page{Started: b.started}
	for _, c := range clients {
		s := Site{Name: c.Name, Hosts: c.Hosts, CacheBytes: c.CacheBytes, AuditNote: c.AuditOff}
		if w := b.windows[c.Name]; w != nil {
			s.Traffic = w.Traffic()
		}
		s.Checks = b.checks(c)
		if s.AuditNote == "" && len(s.Checks) == 0 {
			s.AuditNote = "The first self-audit has not finished yet."
		}
		if c.Certs != nil {
			for _, h := range c.Hosts {
				s.Certs = append(s.Certs, cert509(h, c.Certs[h], c.CertErr))
			}
		}
		s.Reload = b.reload
		if why, ok := b.broken[c.Name]; ok {
			s.Reload.Err = why
		}
		p.Sites = append(p.Sites, s)
	}
	for _, name := range slices.Sorted(maps.Keys(b.broken)) {
		if !slices.ContainsFunc(clients, func(c Client) bool { return c.Name == name }) {
			at := b.reload.At
			if at.IsZero() {
				at = b.started
			}
			p.Refused = append(p.Refused, Refused{Name: name, Err: b.broken[name], At: at})
		}
	}
	return p
}

// checks lists c's last audit results, pages before domains, skipping
// nothing: a skipped check says what it needs.
func (b *Board) checks(c Client) []Check {
	parts := b.audits[c.Name]
	names := make([]string, 0, len(parts))
	for name := range parts {
		names = append(names, name)
	}
	// "domains" runs once a day, "pages" every check.interval: the
	// frequent part first, then alphabetical for anything else.
	slices.SortFunc(names, func(x, y string) int {
		switch {
		case x == "pages":
			return -1
		case y == "pages":
			return 1
		}
		return strings.Compare(x, y)
	})
	var out []Check
	for _, name := range names {
		a := parts[name]
		for _, r := range a.results {
			ch := Check{Name: r.Check, Result: Result(r.Status), At: a.at, Reason: r.Detail, Fix: r.Fix}
			if len(c.Hosts) > 1 || r.Site != first(c.Hosts) {
				ch.Target = r.Site
			}
			if r.Site == "-" {
				ch.Target = ""
			}
			if len(r.Pages) > 0 {
				ch.Reason += " (on " + pagesText(r.Pages) + ")"
			}
			out = append(out, ch)
		}
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// pagesText lists up to three pages and how many more.
func pagesText(pages []string) string {
	const show = 3
	if len(pages) <= show {
		return strings.Join(pages, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(pages[:show], ", "), len(pages)-show)
}

// cert509 describes the certificate served for host, nil for none.
func cert509(host string, c *x509.Certificate, err string) Cert {
	out := Cert{Host: host, Err: err}
	if c == nil {
		return out
	}
	out.NotAfter = c.NotAfter
	out.Issuer = c.Issuer.CommonName
	if org := c.Issuer.Organization; len(org) > 0 && !strings.Contains(out.Issuer, org[0]) {
		out.Issuer = strings.TrimSpace(org[0] + " " + out.Issuer)
	}
	if out.Issuer == "" {
		out.Issuer = c.Issuer.String()
	}
	return out
}
