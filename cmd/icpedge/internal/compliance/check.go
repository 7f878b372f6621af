package compliance

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html/charset"
)

// The checks, as named in results, metrics and the README.
const (
	CheckReachable = "reachable"  // the home page answers 2xx; status and timing
	CheckICP       = "icp"        // the number, exactly as configured, linked to MIIT
	CheckVisible   = "visible"    // the linked number is not hidden
	CheckPolice    = "police"     // the public-security number and its link
	CheckDeadLinks = "dead_links" // no links to retired MIIT hosts
	CheckPolicy    = "policy"     // no links to content the policy blocks
	CheckApex      = "apex"       // the root domain shows real content
	CheckDNS       = "dns"        // A/AAAA records point only at the edge
	CheckTLS       = "tls"        // the certificate is valid for the name, days left
)

// Status is the outcome of one check.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn" // passed, but needs attention soon
	Fail Status = "fail"
	Skip Status = "skip" // the check needs configuration, or does not apply
)

// Result is one check of one site.
type Result struct {
	// Config is the config file the site came from, when several are
	// checked at once (--config-dir).
	Config string `json:"config,omitempty"`
	Site   string `json:"site"` // the host name; "-" for checks of no one site
	URL    string `json:"url,omitempty"`
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail,omitempty"`
	// Fix says how to fix a failure.
	Fix string `json:"fix,omitempty"`
	// Pages are the pages a failure was found on.
	Pages []string `json:"pages,omitempty"`
	// HTTPStatus and Millis are the home page's status and time to its
	// whole body (reachable only).
	HTTPStatus int   `json:"http_status,omitempty"`
	Millis     int64 `json:"ms,omitempty"`
	// DaysLeft is the certificate's remaining validity (tls), or the
	// domain's registration's (domain-expiry).
	DaysLeft *int `json:"days_left,omitempty"`
	// Expires is when the domain's registration expires, RFC 3339
	// (domain-expiry only).
	Expires string `json:"expires,omitempty"`
	// DomainStatus are the domain's RDAP status values (domain-status
	// only).
	DomainStatus []string `json:"domain_status,omitempty"`
	// Registrar, IANAID and Country describe the domain's registrar:
	// Country is an ISO 3166 code when known, else the name it gave
	// (domain-registrar only).
	Registrar string `json:"registrar,omitempty"`
	IANAID    string `json:"iana_id,omitempty"`
	Country   string `json:"country,omitempty"`
}

// Report is the outcome of a whole check. OK is true when nothing
// failed; warnings do not count against it.
type Report struct {
	OK       bool     `json:"ok"`
	Problems int      `json:"problems"`
	Warnings int      `json:"warnings"`
	Skipped  int      `json:"skipped"`
	Results  []Result `json:"results"`
}

// Add appends results and updates the counts.
func (r *Report) Add(rs ...Result) {
	for _, x := range rs {
		switch x.Status {
		case Fail:
			r.Problems++
		case Warn:
			r.Warnings++
		case Skip:
			r.Skipped++
		}
		r.Results = append(r.Results, x)
	}
	r.OK = r.Problems == 0
}

// Site is one site to check: its home page, and whether it is the
// configured apex.
type Site struct {
	URL  *url.URL
	Apex bool
}

// BlockFunc tells whether the content policy blocks a response for a
// path, with a Content-Type ("" when unknown) and a size in bytes (-1 when
// unknown); it returns the rule's name.
type BlockFunc func(path, contentType string, size int64) (rule string, blocked bool)

// Options configure a Checker. Zero values mean the documented default.
type Options struct {
	// ICP is the filing number the pages must show, e.g.
	// 京ICP备12345678号-1. Empty: any number linked to MIIT passes.
	ICP string
	// Police is the public-security filing number, e.g.
	// 京公网安备11010502012345号. Empty skips that check.
	Police string
	// ExpectIPs are the addresses every site must resolve to. Empty skips
	// the DNS check, giving DNSSkip as the reason.
	ExpectIPs []netip.Addr
	// ExpectFrom names where ExpectIPs came from, for messages, e.g.
	// "check.expect_ips".
	ExpectFrom string
	// ExpectGuessed is set when ExpectIPs were found on the interfaces
	// of the machine running the check rather than configured: the advice
	// then says to point the records at the edge's public address, and
	// how to name it, instead of naming a guess as the answer.
	ExpectGuessed bool
	// DNSSkip is the reason shown when ExpectIPs is empty.
	DNSSkip string
	// ApexSkip, when no site is the apex, is the reason shown for the apex
	// check. Default "no apex configured".
	ApexSkip string
	// MainHosts are the hosts the apex may redirect to.
	MainHosts []string
	// Pages is how many same-host pages linked from the home page are
	// checked besides it. Negative means none; zero means the default, 10.
	Pages int
	// Timeout bounds each request. Default 15s.
	Timeout time.Duration
	// Resolver answers the DNS check. Default net.DefaultResolver.
	Resolver *net.Resolver
	// Dial opens connections for pages and TLS, e.g. one built by
	// ResolveDialer. Default a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Transport fetches pages. Default: an http.Transport on Dial that
	// verifies certificates against RootCAs. The self-audit passes one
	// that calls the edge's handler.
	Transport http.RoundTripper
	// RootCAs verify certificates. Nil means the system roots.
	RootCAs *x509.CertPool
	// Blocked is the content policy. Nil skips the policy check.
	Blocked BlockFunc
	// SkipTLS, when set, is the reason the TLS check is skipped for every
	// site.
	SkipTLS string
	// Now is the clock for certificate and domain lifetimes. Default
	// time.Now.
	Now func() time.Time
	// RDAP looks up the domains' registrations for Domains. Nil skips the
	// domain checks, giving RDAPSkip as the reason.
	RDAP *RDAP
	// RDAPSkip is the reason shown when RDAP is nil.
	RDAPSkip string
	// Registrars are registrars accepted wherever they are, by name (case
	// and spacing aside) or IANA ID: the domain-registrar check passes
	// for them.
	Registrars []string
}

// Checker runs checks. It is safe for concurrent use.
type Checker struct {
	opts   Options
	client *http.Client
}

const (
	defaultPages   = 10
	defaultTimeout = 15 * time.Second
	// maxPageBytes bounds a page read for checking.
	maxPageBytes = 8 << 20
	// maxHeads bounds the HEAD requests per site for the policy check.
	maxHeads = 20
	// renewWarnDays: a certificate with fewer days left is a problem.
	// ACME clients renew at about 30 days left; at 14 renewal is failing.
	renewWarnDays = 14
)

// New returns a Checker for opts.
func New(opts Options) *Checker {
	if opts.Pages == 0 {
		opts.Pages = defaultPages
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: opts.Timeout}
		opts.Dial = d.DialContext
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ApexSkip == "" {
		opts.ApexSkip = "no apex configured"
	}
	tr := opts.Transport
	if tr == nil {
		t := &http.Transport{
			DialContext:           opts.Dial,
			TLSHandshakeTimeout:   opts.Timeout,
			ResponseHeaderTimeout: opts.Timeout,
			MaxIdleConnsPerHost:   4,
			ForceAttemptHTTP2:     true,
		}
		t.TLSClientConfig = tlsClientConfig(opts.RootCAs, "")
		tr = t
	}
	return &Checker{opts: opts, client: &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		},
	}}
}

// Run checks every site and returns the report. Sites are checked one
// after another, the checks of one site concurrently.
func (c *Checker) Run(ctx context.Context, sites []Site) Report {
	var rep Report
	apex := false
	for _, s := range sites {
		rep.Add(c.Site(ctx, s)...)
		apex = apex || s.Apex
	}
	if !apex {
		rep.Add(Result{Site: "-", Check: CheckApex, Status: Skip, Detail: c.opts.ApexSkip})
	}
	return rep
}

// Site runs every check on one site.
func (c *Checker) Site(ctx context.Context, s Site) []Result {
	host := strings.ToLower(s.URL.Hostname())
	var (
		wg            sync.WaitGroup
		dnsRes, tlsRs Result
	)
	wg.Go(func() { dnsRes = c.checkDNS(ctx, host) })
	wg.Go(func() { tlsRs = c.checkTLS(ctx, s.URL) })
	pageRes := c.checkPages(ctx, s)
	wg.Wait()
	out := append(pageRes, dnsRes, tlsRs)
	for i := range out {
		out[i].Site = host
		if out[i].URL == "" {
			out[i].URL = s.URL.String()
		}
	}
	return out
}

// fetched is one page fetched for checking.
type fetched struct {
	url     *url.URL // after redirects
	status  int
	elapsed time.Duration
	ctype   string
	doc     *goquery.Document // nil unless HTML
	err     error
}

// fetch GETs a page and parses it when it is HTML, in its own charset.
func (c *Checker) fetch(ctx context.Context, u *url.URL) fetched {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fetched{url: u, err: err}
	}
	req.Header.Set("User-Agent", "icpedge-check")
	req.Header.Set("Accept", "text/html,*/*;q=0.5")
	resp, err := c.client.Do(req)
	if err != nil {
		return fetched{url: u, err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	f := fetched{url: resp.Request.URL, status: resp.StatusCode, ctype: resp.Header.Get("Content-Type")}
	mt, _, _ := mime.ParseMediaType(f.ctype)
	if mt == "text/html" || mt == "application/xhtml+xml" || f.ctype == "" {
		body, err := charset.NewReader(io.LimitReader(resp.Body, maxPageBytes), f.ctype)
		if err == nil {
			f.doc, f.err = goquery.NewDocumentFromReader(body)
		} else {
			f.err = err
		}
	} else {
		_, f.err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPageBytes))
	}
	f.elapsed = time.Since(start)
	return f
}

// checkPages fetches the home page and the pages it links to on the same
// host, and runs the page checks over them.
func (c *Checker) checkPages(ctx context.Context, s Site) []Result {
	host := strings.ToLower(s.URL.Hostname())
	home := c.fetch(ctx, s.URL)
	reach := Result{Check: CheckReachable, HTTPStatus: home.status, Millis: home.elapsed.Milliseconds()}
	pageChecks := []string{CheckICP, CheckICPConflict, CheckVisible, CheckPolice, CheckDeadLinks, CheckPolicy, CheckBlocked}
	switch {
	case home.err != nil && home.status == 0:
		reach.Status, reach.Detail = Fail, "no answer: "+shortErr(home.err)
		reach.Fix = "check that icpedge runs, listens on this address and is reachable (firewall, security group), and that the host's DNS record points at it"
	case home.status < 200 || home.status > 299:
		reach.Status, reach.Detail = Fail, fmt.Sprintf("answered %d %s in %s", home.status, http.StatusText(home.status), roundMS(home.elapsed))
		reach.Fix = "the home page must answer 200 with the site; check the edge's log for the request and whether the origin is up"
	default:
		reach.Status, reach.Detail = OK, fmt.Sprintf("%d in %s", home.status, roundMS(home.elapsed))
		if home.url.String() != s.URL.String() {
			reach.Detail += " (at " + home.url.String() + ")"
		}
	}
	var apexRes *Result
	if s.Apex {
		r := c.apexResult(home, host)
		apexRes = &r
	}
	if home.doc == nil {
		why := "the home page could not be read"
		if home.status != 0 {
			why = "the home page is not HTML (" + home.ctype + ")"
		}
		out := []Result{reach}
		for _, name := range pageChecks {
			out = append(out, Result{Check: name, Status: Skip, Detail: why})
		}
		if apexRes != nil {
			out = append(out, *apexRes)
		}
		return out
	}

	pages := []fetched{home}
	links, resources := sameHostLinks(home.doc, home.url, host)
	limit := c.opts.Pages
	if limit < 0 {
		limit = 0
	}
	var failed []string
	for _, u := range links {
		if len(pages)-1 >= limit {
			break
		}
		if u.String() == home.url.String() || u.String() == s.URL.String() {
			continue
		}
		p := c.fetch(ctx, u)
		switch {
		case p.err != nil && p.status == 0:
			failed = append(failed, pathOf(u)+" ("+shortErr(p.err)+")")
			continue
		case p.status >= 500:
			failed = append(failed, fmt.Sprintf("%s (%d)", pathOf(u), p.status))
		}
		if p.doc != nil && p.status >= 200 && p.status <= 299 {
			pages = append(pages, p)
		}
	}
	if reach.Status == OK {
		reach.Detail += "; " + strings.Replace(countPages(len(pages)-1), "page", "linked page", 1) + " checked"
		if len(failed) > 0 {
			reach.Status = Fail
			reach.Detail += "; failing: " + strings.Join(failed, ", ")
			reach.Fix = "linked pages fail with a server error or no answer; check the edge's log and the origin"
		}
	}

	var found []pageFindings
	for _, p := range pages {
		if p.status >= 200 && p.status <= 299 || p.url == home.url {
			found = append(found, analyze(p.doc, p.url))
		}
	}
	out := []Result{
		reach,
		c.icpResult(found),
		c.conflictResult(found),
		c.visibleResult(found),
		c.policeResult(found),
		deadLinksResult(found),
		c.policyResult(ctx, found, resources),
		blockedResult(found),
	}
	if apexRes != nil {
		out = append(out, *apexRes)
	}
	return out
}

// sameHostLinks returns the distinct http(s) links on host in doc: pages
// to crawl, and resources (media, archives, downloads) to ask about with
// HEAD for the content policy.
func sameHostLinks(doc *goquery.Document, base *url.URL, host string) (pages, resources []*url.URL) {
	seen := map[string]bool{}
	doc.Find("a[href], area[href], video[src], audio[src], source[src], iframe[src], embed[src]").Each(func(_ int, s *goquery.Selection) {
		raw, ok := s.Attr("href")
		if !ok {
			raw, _ = s.Attr("src")
		}
		u, err := base.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Hostname(), host) {
			return
		}
		u.Fragment, u.RawFragment = "", ""
		// Fetch with the scheme and port the check uses, whatever the
		// page's links say.
		u.Scheme, u.Host = base.Scheme, base.Host
		if seen[u.String()] {
			return
		}
		seen[u.String()] = true
		if isPageLink(u.Path) && goquery.NodeName(s) == "a" {
			pages = append(pages, u)
		} else {
			resources = append(resources, u)
		}
	})
	return pages, resources
}

// pageExtensions are the extensions of links crawled as pages.
var pageExtensions = []string{"", ".html", ".htm", ".shtml", ".xhtml", ".php", ".asp", ".aspx", ".jsp", ".do", ".action", ".cgi"}

func isPageLink(p string) bool {
	return strings.HasSuffix(p, "/") || slices.Contains(pageExtensions, strings.ToLower(path.Ext(p)))
}

func pathOf(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p
}

func roundMS(d time.Duration) string { return d.Round(time.Millisecond).String() }

// shortErr trims the URL prefix Go puts on client errors.
func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
