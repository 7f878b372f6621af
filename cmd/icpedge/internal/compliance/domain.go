package compliance

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"
)

// The domain checks, as named in results, metrics and the README.
const (
	CheckDomainExpiry    = "domain-expiry"    // the registration's expiration date
	CheckDomainStatus    = "domain-status"    // no hold, redemption or pending delete
	CheckDomainRegistrar = "domain-registrar" // a registrar in China, or an accepted one
)

// DomainChecks are the checks Domains runs on each domain.
var DomainChecks = []string{CheckDomainExpiry, CheckDomainStatus, CheckDomainRegistrar}

// Thresholds of the domain-expiry check, in days left.
const (
	// expiryWarnDays leaves two months to renew: a renewal through an
	// agency, with a client's real-name paperwork, takes weeks.
	expiryWarnDays = 60
	// expiryFailDays: past it a lapse is near, and an expired domain
	// loses its filing for good.
	expiryFailDays = 14
)

// maxParallelDomains bounds the domains looked up at once.
const maxParallelDomains = 4

// refusingProvinces are the provinces whose communications
// administrations no longer accept filings for domains held at a
// registrar outside China.
const refusingProvinces = "Beijing and Hunan (北京、湖南通信管理局)"

// Domains checks the registration of the registrable domain behind each
// host (client.com.cn for icp.client.com.cn), once per domain however
// many hosts share it: its expiry, its status and its registrar, looked up
// with RDAP. A host without a registrable domain that a registry holds (an
// IP address, a name under .test) gets its checks skipped with the reason.
func (c *Checker) Domains(ctx context.Context, hosts []string) []Result {
	var (
		domains []string
		out     []Result
		seen    = map[string]bool{}
	)
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.ToLower(h), ".")
		d, reason := registrableDomain(h)
		if seen[d] {
			continue
		}
		seen[d] = true
		if reason != "" {
			out = append(out, skipDomain(d, "", reason)...)
			continue
		}
		domains = append(domains, d)
	}
	results := make([][]Result, len(domains))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelDomains)
	for i, d := range domains {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				results[i] = skipDomain(d, "", "not looked up: "+ctx.Err().Error())
				return
			}
			results[i] = c.domain(ctx, d)
		})
	}
	wg.Wait()
	for _, rs := range results {
		out = append(out, rs...)
	}
	return out
}

// domain runs the domain checks on one registrable domain.
func (c *Checker) domain(ctx context.Context, d string) []Result {
	if c.opts.RDAP == nil {
		reason := c.opts.RDAPSkip
		if reason == "" {
			reason = "no RDAP client"
		}
		return skipDomain(d, "", reason)
	}
	reg, asked, note, err := c.opts.RDAP.lookup(ctx, d)
	if err != nil {
		return skipDomain(d, asked, err.Error())
	}
	out := []Result{
		c.expiryResult(d, reg, note),
		statusResult(d, reg),
		c.registrarResult(d, reg, note),
	}
	for i := range out {
		out[i].Site, out[i].URL = d, asked
	}
	return out
}

func skipDomain(site, url, reason string) []Result {
	out := make([]Result, len(DomainChecks))
	for i, name := range DomainChecks {
		out[i] = Result{Site: site, URL: url, Check: name, Status: Skip, Detail: reason}
	}
	return out
}

// expiryResult judges the days left before the domain expires.
func (c *Checker) expiryResult(d string, reg registration, note string) Result {
	r := Result{Check: CheckDomainExpiry}
	if reg.expires.IsZero() {
		r.Status, r.Detail = Skip, "the registry publishes no expiration date"
		if note != "" {
			r.Detail += "; " + note
		}
		return r
	}
	now := c.opts.Now()
	days := int(math.Floor(reg.expires.Sub(now).Hours() / 24))
	r.DaysLeft = &days
	r.Expires = reg.expires.Format(time.RFC3339)
	date := reg.expires.Format(time.DateOnly)
	at := "its registrar"
	if reg.name != "" {
		at = reg.name
	}
	fix := "renew " + d + " at " + at + " now, for a year or more, and turn on automatic renewal: an expired domain loses its ICP filing, and a cancelled filing number cannot be restored"
	switch {
	case !reg.expires.After(now):
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("expired on %s (%s ago)", date, countDays(-days))
	case days == 0:
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("expires today, %s", reg.expires.Format("2006-01-02 15:04 MST"))
	case days < expiryFailDays:
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("expires on %s, in %s", date, countDays(days))
	case days < expiryWarnDays:
		r.Status, r.Fix = Warn, fix
		r.Detail = fmt.Sprintf("expires on %s, in %s", date, countDays(days))
	default:
		r.Status = OK
		r.Detail = fmt.Sprintf("expires on %s, %s left", date, countDays(days))
	}
	return r
}

func countDays(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// domainStatusFixes are the RDAP status values (RFC 9083 §10.2.2) that
// stop a domain resolving, or are about to lose it, with what to do.
var domainStatusFixes = []struct {
	status string
	fail   bool // false: a warning
	fix    string
}{
	{"client hold", true, "the registrar has suspended %[1]s, so it does not resolve: usually an unpaid renewal, unfinished real-name verification (实名认证) or a complaint; ask %[2]s what is missing and have the hold lifted"},
	{"server hold", true, "the registry has suspended %[1]s, so it does not resolve (for .cn, CNNIC: usually failed real-name verification or a regulator's order); ask %[2]s which, and what lifts it"},
	{"redemption period", true, "%[1]s expired and was deleted; during the redemption period only the registrar can restore it: ask %[2]s to restore it now, before it is released to anyone"},
	{"pending delete", true, "%[1]s is about to be released and can no longer be renewed or restored: ask %[2]s at once whether anything can be done, and be ready to register it again when it is released; its filing will have to be made again"},
	{"pending transfer", false, "a transfer of %[1]s to another registrar is pending: if nobody at the client asked for it, reject it at %[2]s and set client transfer prohibited; a domain that changes hands loses its filing"},
}

// statusResult judges the domain's status values.
func statusResult(d string, reg registration) Result {
	r := Result{Check: CheckDomainStatus, DomainStatus: reg.statuses}
	if len(reg.statuses) == 0 {
		r.Status, r.Detail = Skip, "the registry publishes no status"
		return r
	}
	at := "the registrar"
	if reg.name != "" {
		at = reg.name
	}
	r.Status = OK
	var bad, fixes []string
	for _, f := range domainStatusFixes {
		if !slices.Contains(reg.statuses, f.status) {
			continue
		}
		bad = append(bad, f.status)
		fixes = append(fixes, fmt.Sprintf(f.fix, d, at))
		switch {
		case f.fail:
			r.Status = Fail
		case r.Status == OK:
			r.Status = Warn
		}
	}
	all := strings.Join(reg.statuses, ", ")
	if len(bad) == 0 {
		r.Detail = all
		return r
	}
	r.Detail = "on " + strings.Join(bad, " and ") + " (" + all + ")"
	r.Fix = strings.Join(fixes, "; ")
	return r
}

// registrarResult judges where the domain's registrar is.
func (c *Checker) registrarResult(d string, reg registration, note string) Result {
	r := Result{Check: CheckDomainRegistrar, Registrar: reg.name, IANAID: reg.ianaID, Country: reg.country}
	if reg.name == "" && reg.ianaID == "" {
		r.Status, r.Detail = Skip, "the registry's answer names no registrar"
		if note != "" {
			r.Detail += "; " + note
		}
		return r
	}
	who := reg.name
	if who == "" {
		who = "the registrar"
	}
	if reg.ianaID != "" {
		who += " (IANA " + reg.ianaID + ")"
	}
	accepted := c.acceptedRegistrar(reg.registrar)
	name := reg.name
	if name == "" {
		name = reg.ianaID
	}
	accept := fmt.Sprintf("the client's province accepts it, add %q to check.registrars", name)
	switch {
	case reg.country == "CN":
		r.Status, r.Detail = OK, who+", CN"
	case accepted && reg.country != "":
		r.Status, r.Detail = OK, who+", "+reg.country+"; accepted in check.registrars"
	case accepted:
		r.Status, r.Detail = OK, who+", country not published; accepted in check.registrars"
	case reg.country != "":
		r.Status = Warn
		r.Detail = who + ", " + reg.country + ": a registrar outside China"
		r.Fix = refusingProvinces + " no longer accept filings for domains held at a registrar outside China: transfer " + d + " to a registrar in China before filing or re-filing there; if " + accept
	default:
		r.Status = Warn
		r.Detail = who + ": no country published"
		if note != "" {
			r.Detail += "; " + note
		}
		r.Fix = "find out where the registrar is: " + refusingProvinces + " no longer accept filings for domains held at a registrar outside China; if it is in China, or " + accept
	}
	return r
}

// acceptedRegistrar reports whether check.registrars names the
// registrar, by name (case and spacing aside) or IANA ID.
func (c *Checker) acceptedRegistrar(reg registrar) bool {
	name := strings.ToLower(strings.Join(strings.Fields(reg.name), " "))
	for _, a := range c.opts.Registrars {
		a = strings.ToLower(strings.Join(strings.Fields(a), " "))
		if a != "" && (a == name || a == strings.ToLower(reg.ianaID)) {
			return true
		}
	}
	return false
}

// specialUse are the TLDs and domains no registry holds (RFC 6761 §6,
// RFC 6762 for .local, RFC 7686 .onion, RFC 8375 home.arpa, RFC 9476
// .alt) and ICANN's private-use .internal.
var specialUse = []string{"test", "example", "invalid", "localhost", "local", "onion", "alt", "internal", "home.arpa"}

// registrableDomain returns the domain a registry holds for host: the
// label below its ICANN public suffix (client.com.cn for
// icp.client.com.cn). Suffixes from the Public Suffix List's private
// section (github.io, say) are not registries and are skipped over. A
// non-empty reason says why host has none; domain is then what to report
// it under (example.test for icp.example.test).
func registrableDomain(host string) (domain, reason string) {
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return host, "an IP address has no domain registration"
	}
	for _, s := range specialUse {
		if host == s || strings.HasSuffix(host, "."+s) {
			return labelBelow(host, s), "." + s + " is a special-use name: no registry holds it"
		}
	}
	if !strings.Contains(host, ".") {
		return host, "a single-label name has no domain registration"
	}
	suffix, icann := publicsuffix.PublicSuffix(host)
	for !icann && strings.Contains(suffix, ".") {
		suffix, icann = publicsuffix.PublicSuffix(suffix[strings.IndexByte(suffix, '.')+1:])
	}
	if host == suffix {
		return host, "." + suffix + " is a public suffix, not a registered domain"
	}
	return labelBelow(host, suffix), ""
}

// labelBelow returns suffix with the label of host just below it.
func labelBelow(host, suffix string) string {
	if host == suffix {
		return host
	}
	rest := strings.TrimSuffix(host, "."+suffix)
	return rest[strings.LastIndexByte(rest, '.')+1:] + "." + suffix
}
