package status

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	//go:embed page.html
	pageSource string
	//go:embed signin.html
	signInSource string
)

// The stylesheet goes into the templates' text, not their data: template
// text is trusted as written, and the CSP hash covers exactly it.
var (
	pageTemplate   = template.Must(template.New("page").Parse(strings.Replace(pageSource, "/*STYLE*/", stylesheet, 1)))
	signInTemplate = template.Must(template.New("signin").Parse(strings.Replace(signInSource, "/*STYLE*/", stylesheet, 1)))
)

const (
	// certWarnDays and certFailDays are when a certificate's days left
	// turn amber and red. ACME renews 30 days before expiry, so a
	// certificate under three weeks means renewal has been failing for a
	// while.
	certWarnDays = 21
	certFailDays = 7
)

type signInData struct {
	Action  string
	Problem string
}

// view is the page's data, worked out from a Page: the template only
// places it.
type view struct {
	Title        string
	Refresh      int
	Action       string
	Generated    string
	GeneratedISO string
	Started      string
	Version      string
	Sites        []siteView
	Refused      []refusedView
	Compression  string
}

type refusedView struct {
	Name, Err, When string
}

type siteView struct {
	ID, Name  string
	Hosts     []string
	State     string // ok, warn or fail: the worst of everything below
	Summary   string
	Checks    []checkView
	AuditNote string
	Certs     []certView
	Traffic   trafficView
	Origin    originView
	Reload    reloadView
}

type checkView struct {
	Name, Target  string
	Result, Label string
	When, WhenISO string
	Reason, Fix   string
}

type certView struct {
	Host, Issuer, DaysLeft, Expires, State, Err string
}

type trafficView struct {
	Span, HitRatio, Stored, CacheSize string
}

type originView struct {
	State, Fetches, P50, Stale, LastError, LastErrorWhen string
	StaleBad                                             bool
}

type reloadView struct {
	State, Label, When, Err string
}

func render(w io.Writer, p Page, now time.Time, refresh time.Duration, action string) error {
	v := view{
		Refresh:      max(1, int(refresh/time.Second)),
		Action:       action,
		Generated:    now.UTC().Format("2006-01-02 15:04:05 UTC"),
		GeneratedISO: now.UTC().Format(time.RFC3339),
		Version:      p.Version,
		Compression:  compressionText(p.Compression),
	}
	if !p.Started.IsZero() {
		v.Started = p.Started.UTC().Format("2006-01-02 15:04 UTC")
	}
	var failing, warning int
	for i, s := range p.Sites {
		sv := site(i, s, now)
		switch sv.State {
		case "fail":
			failing++
		case "warn":
			warning++
		}
		v.Sites = append(v.Sites, sv)
	}
	for _, f := range p.Refused {
		v.Refused = append(v.Refused, refusedView{Name: f.Name, Err: f.Err, When: ago(now, f.At)})
	}
	failing += len(p.Refused)
	switch {
	case failing > 0:
		v.Title = fmt.Sprintf("✗ %d failing · icpedge status", failing)
	case warning > 0:
		v.Title = fmt.Sprintf("! %d need attention · icpedge status", warning)
	default:
		v.Title = "✓ icpedge status"
	}
	return pageTemplate.Execute(w, v)
}

func site(i int, s Site, now time.Time) siteView {
	sv := siteView{ID: "site-" + strconv.Itoa(i+1), Name: s.Name, Hosts: s.Hosts, AuditNote: s.AuditNote}
	if sv.Name == "" && len(s.Hosts) > 0 {
		sv.Name = s.Hosts[0]
	}
	var fails, warns int
	count := func(state string) {
		switch state {
		case "fail":
			fails++
		case "warn":
			warns++
		}
	}
	for _, c := range s.Checks {
		cv := checkView{Name: c.Name, Target: c.Target, Result: resultClass(c.Result), Label: resultLabel(c.Result), Reason: c.Reason, Fix: c.Fix}
		if !c.At.IsZero() {
			cv.When, cv.WhenISO = ago(now, c.At), c.At.UTC().Format(time.RFC3339)
		}
		count(cv.Result)
		sv.Checks = append(sv.Checks, cv)
	}
	for _, c := range s.Certs {
		cv := cert(c, now)
		count(cv.State)
		sv.Certs = append(sv.Certs, cv)
	}
	t := s.Traffic
	sv.Traffic = trafficView{Span: span(t.Span), HitRatio: "no cacheable requests", Stored: bytesText(t.StoredBytes)}
	if r, ok := t.HitRatio(); ok {
		sv.Traffic.HitRatio = fmt.Sprintf("%.1f%% (%d of %d)", r*100, t.Hits, t.Lookups)
	}
	if s.CacheBytes > 0 {
		sv.Traffic.CacheSize = bytesText(s.CacheBytes)
	}
	sv.Origin = originView{State: "ok", Fetches: strconv.FormatInt(t.Fetches, 10), P50: "—", Stale: strconv.FormatInt(t.StaleOnError, 10), StaleBad: t.StaleOnError > 0}
	if t.FetchErrors > 0 {
		sv.Origin.Fetches += fmt.Sprintf(", %d failed", t.FetchErrors)
	}
	if t.Fetches > 0 {
		sv.Origin.P50 = durationText(t.FetchP50)
	}
	if t.LastError != "" {
		sv.Origin.LastError, sv.Origin.LastErrorWhen = t.LastError, ago(now, t.LastErrorAt)
	}
	// An origin that failed within the hour needs a look even when stale
	// copies hid it from visitors.
	if t.FetchErrors > 0 || t.StaleOnError > 0 {
		sv.Origin.State = "warn"
	}
	count(sv.Origin.State)
	switch r := s.Reload; {
	case r.At.IsZero():
		sv.Reload = reloadView{State: "ok"}
	case r.Err != "":
		sv.Reload = reloadView{State: "fail", Label: "✗ refused", When: ago(now, r.At), Err: r.Err}
	default:
		sv.Reload = reloadView{State: "ok", Label: "✓ applied", When: ago(now, r.At)}
	}
	count(sv.Reload.State)
	switch {
	case fails > 0:
		sv.State, sv.Summary = "fail", fmt.Sprintf("✗ %d failing", fails)
	case warns > 0:
		sv.State, sv.Summary = "warn", fmt.Sprintf("! %d to check", warns)
	default:
		sv.State, sv.Summary = "ok", "✓ ok"
	}
	return sv
}

func cert(c Cert, now time.Time) certView {
	cv := certView{Host: c.Host, Issuer: c.Issuer, Err: c.Err}
	if c.NotAfter.IsZero() {
		cv.DaysLeft, cv.State = "no certificate", "warn"
		if c.Err != "" {
			cv.State = "fail"
		}
		return cv
	}
	cv.Expires = c.NotAfter.UTC().Format("2006-01-02 15:04 UTC")
	days := int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
	switch {
	case !now.Before(c.NotAfter):
		cv.DaysLeft, cv.State = "expired", "fail"
	case days == 1:
		cv.DaysLeft = "1 day"
	default:
		cv.DaysLeft = strconv.Itoa(days) + " days"
	}
	switch {
	case cv.State != "":
	case days < certFailDays:
		cv.State = "fail"
	case days < certWarnDays || c.Err != "":
		cv.State = "warn"
	default:
		cv.State = "ok"
	}
	return cv
}

// resultClass is a Result as a CSS class; anything unknown shows grey.
func resultClass(r Result) string {
	switch r {
	case OK, Warn, Fail:
		return string(r)
	}
	return "skip"
}

func resultLabel(r Result) string {
	switch r {
	case OK:
		return "✓ ok"
	case Warn:
		return "! warn"
	case Fail:
		return "✗ fail"
	case Skip:
		return "– skip"
	}
	return "? " + string(r)
}

// ago says how long before now t was, for a person glancing at the page.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future (" + t.UTC().Format("2006-01-02 15:04:05 UTC") + ")"
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min ago", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

func span(d time.Duration) string {
	switch {
	case d <= 0:
		return "not recorded"
	case d >= windowSlots*slotLen:
		return "last hour"
	case d < time.Minute:
		return "since start (under a minute)"
	}
	return fmt.Sprintf("since start (%d min)", int(d/time.Minute))
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n), 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, [...]string{"B", "KiB", "MiB", "GiB", "TiB"}[i])
}

func durationText(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond)/time.Millisecond)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// compressionText is the bandwidth line: the share compression saved,
// then what was sent in each encoding, largest first. "" when nothing was
// sent yet.
func compressionText(c Compression) string {
	var total int64
	codings := make([]string, 0, len(c.Sent))
	for k, n := range c.Sent {
		if n > 0 {
			total += n
			codings = append(codings, k)
		}
	}
	if total == 0 {
		return ""
	}
	sort.Slice(codings, func(i, j int) bool {
		if c.Sent[codings[i]] != c.Sent[codings[j]] {
			return c.Sent[codings[i]] > c.Sent[codings[j]]
		}
		return codings[i] < codings[j]
	})
	parts := make([]string, len(codings))
	for i, k := range codings {
		parts[i] = k + " " + bytesText(c.Sent[k])
	}
	return fmt.Sprintf("Compression saved %s (%.0f%% of what compressed responses would have taken) · sent %s: %s",
		bytesText(c.Saved), c.Ratio*100, bytesText(total), strings.Join(parts, ", "))
}
