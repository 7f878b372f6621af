package compliance

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// icpResult judges the filing number on every page: present, exactly as
// configured, and linked to the live MIIT lookup.
func (c *Checker) icpResult(pages []pageFindings) Result {
	want := c.opts.ICP
	r := Result{Check: CheckICP}
	var problems []string
	for _, p := range pages {
		if msg := icpProblem(p, want); msg != "" {
			problems = append(problems, msg)
			r.Pages = append(r.Pages, p.page)
		}
	}
	if len(problems) > 0 {
		r.Status = Fail
		r.Detail = summarize(problems, len(pages))
		r.Fix = "every page must show " + orAny(want) + " linked to " + miitURL + "; through icpedge it is injected unless the page already shows another number linked to MIIT: fix notice.icp in the config or the number in the origin's footer"
		return r
	}
	r.Status = OK
	shown := want
	if shown == "" {
		shown = pages[0].firstLinked()
		r.Detail = "(no configured number to compare) "
	}
	r.Detail += fmt.Sprintf("%s linked to %s on %s", shown, miitURL, countPages(len(pages)))
	return r
}

// icpProblem says what is wrong with one page's filing number, or "".
func icpProblem(p pageFindings, want string) string {
	var exact, others []occurrence
	for _, o := range p.icp {
		if want == "" || o.number == want {
			exact = append(exact, o)
		} else {
			others = append(others, o)
		}
	}
	if slices.ContainsFunc(exact, func(o occurrence) bool { return liveMIIT(o.href) }) {
		return ""
	}
	switch {
	case len(exact) > 0 && exact[0].href != "":
		return fmt.Sprintf("%s: %s is linked to %s, not %s", p.page, exact[0].number, abbreviate(exact[0].href, 60), miitURL)
	case len(exact) > 0:
		return fmt.Sprintf("%s: %s is not linked to %s", p.page, exact[0].number, miitURL)
	case len(others) > 0:
		return fmt.Sprintf("%s: shows %s, not the configured %s", p.page, others[0].number, want)
	}
	return fmt.Sprintf("%s: no ICP number", p.page)
}

func (p pageFindings) firstLinked() string {
	for _, o := range p.icp {
		if liveMIIT(o.href) {
			return o.number
		}
	}
	return ""
}

// visibleResult judges whether the linked number is visible on every page
// that has one.
func (c *Checker) visibleResult(pages []pageFindings) Result {
	r := Result{Check: CheckVisible}
	var problems []string
	checked := 0
	for _, p := range pages {
		var linked []occurrence
		for _, o := range p.icp {
			if (c.opts.ICP == "" || o.number == c.opts.ICP) && liveMIIT(o.href) {
				linked = append(linked, o)
			}
		}
		if len(linked) == 0 {
			continue
		}
		checked++
		if !slices.ContainsFunc(linked, func(o occurrence) bool { return o.hidden == "" }) {
			problems = append(problems, fmt.Sprintf("%s: %s is hidden: %s", p.page, linked[0].number, linked[0].hidden))
			r.Pages = append(r.Pages, p.page)
		}
	}
	switch {
	case checked == 0:
		r.Status, r.Detail = Skip, "no linked ICP number to check"
	case len(problems) > 0:
		r.Status = Fail
		r.Detail = summarize(problems, checked)
		r.Fix = "the number must be visible: remove the hiding markup or style from the origin's footer, or set notice.selector to a visible element so that icpedge places its own notice there"
	default:
		r.Status, r.Detail = OK, "visible on "+countPages(checked)
	}
	return r
}

// policeResult judges the public-security number and its link.
func (c *Checker) policeResult(pages []pageFindings) Result {
	r := Result{Check: CheckPolice}
	want := c.opts.Police
	if want == "" {
		r.Status, r.Detail = Skip, "notice.police not configured"
		return r
	}
	digits := digitsRE.FindString(want)
	link := mpsURL + digits
	var problems []string
	for _, p := range pages {
		var exact []occurrence
		var other string
		for _, o := range p.police {
			if o.number == want {
				exact = append(exact, o)
			} else if other == "" {
				other = o.number
			}
		}
		ok := slices.ContainsFunc(exact, func(o occurrence) bool { return policeLink(o.href, digits) && o.hidden == "" })
		switch {
		case ok:
			continue
		case slices.ContainsFunc(exact, func(o occurrence) bool { return policeLink(o.href, digits) }):
			o := exact[slices.IndexFunc(exact, func(o occurrence) bool { return policeLink(o.href, digits) })]
			problems = append(problems, fmt.Sprintf("%s: %s is hidden: %s", p.page, want, o.hidden))
		case len(exact) > 0 && exact[0].href != "":
			problems = append(problems, fmt.Sprintf("%s: %s is linked to %s, not %s", p.page, want, abbreviate(exact[0].href, 60), link))
		case len(exact) > 0:
			problems = append(problems, fmt.Sprintf("%s: %s is not linked to %s", p.page, want, link))
		case other != "":
			problems = append(problems, fmt.Sprintf("%s: shows %s, not the configured %s", p.page, other, want))
		default:
			problems = append(problems, fmt.Sprintf("%s: no public-security number", p.page))
		}
		r.Pages = append(r.Pages, p.page)
	}
	if len(problems) > 0 {
		r.Status = Fail
		r.Detail = summarize(problems, len(pages))
		r.Fix = "every page must show " + want + " linked to " + link + "; check notice.police, and the origin's own footer if it shows another"
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("%s linked to %s on %s", want, link, countPages(len(pages)))
	return r
}

// deadLinksResult reports links to retired MIIT hosts.
func deadLinksResult(pages []pageFindings) Result {
	r := Result{Check: CheckDeadLinks}
	var problems []string
	for _, p := range pages {
		if len(p.deadLinks) > 0 {
			problems = append(problems, p.page+": "+strings.Join(dedupe(p.deadLinks), ", "))
			r.Pages = append(r.Pages, p.page)
		}
	}
	if len(problems) > 0 {
		r.Status = Fail
		r.Detail = "links to retired MIIT hosts: " + summarize(problems, len(pages))
		r.Fix = "link to " + miitURL + " instead (miibeian.gov.cn, www.miitbeian.gov.cn, www.beian.miit.gov.cn and http:// no longer work); icpedge repairs such links in what it serves, so this shows a page that does not go through the edge"
		return r
	}
	r.Status, r.Detail = OK, "none on "+countPages(len(pages))
	return r
}

// policyResult reports links to content the policy blocks, and P2P
// download links, which get shared filings revoked.
func (c *Checker) policyResult(ctx context.Context, pages []pageFindings, _ []*url.URL) Result {
	r := Result{Check: CheckPolicy}
	var problems []string
	add := func(page, msg string) {
		problems = append(problems, page+": "+msg)
		if !slices.Contains(r.Pages, page) {
			r.Pages = append(r.Pages, page)
		}
	}
	heads := 0
	asked := map[string]bool{}
	for _, p := range pages {
		for _, l := range dedupe(p.p2pLinks) {
			add(p.page, "P2P download link "+l)
		}
		if c.opts.Blocked == nil {
			continue
		}
		for _, l := range dedupe(p.links) {
			if rule, ok := c.opts.Blocked(l, "", -1); ok {
				add(p.page, fmt.Sprintf("links to %s (rule %s)", l, rule))
				asked[l] = true
			}
		}
		for _, u := range p.resources {
			if asked[u.Path] || heads >= maxHeads {
				continue
			}
			asked[u.Path] = true
			heads++
			if msg := c.headBlocked(ctx, u); msg != "" {
				add(p.page, msg)
			}
		}
	}
	if len(problems) > 0 {
		r.Status = Fail
		r.Detail = summarize(problems, len(pages))
		r.Fix = "remove these links and files from the origin: one site serving prohibited content such as film downloads costs every domain on the shared filing its filing; icpedge answers them 451"
		return r
	}
	if c.opts.Blocked == nil {
		r.Status, r.Detail = Skip, "no content policy; no P2P links on "+countPages(len(pages))
		return r
	}
	r.Status = OK
	r.Detail = fmt.Sprintf("no links to blocked content on %s (%d linked files asked)", countPages(len(pages)), heads)
	return r
}

// headBlocked asks for a linked file's type and size with HEAD, and says
// whether the policy blocks it, or "".
func (c *Checker) headBlocked(ctx context.Context, u *url.URL) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return ""
	}
	req.Header.Set("User-Agent", "icpedge-check")
	resp, err := c.client.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnavailableForLegalReasons {
		return "links to " + u.Path + ", which the edge refuses with 451"
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ""
	}
	size := int64(-1)
	if n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil {
		size = n
	}
	if rule, ok := c.opts.Blocked(u.Path, resp.Header.Get("Content-Type"), size); ok {
		return fmt.Sprintf("links to %s (%s, %d bytes; rule %s)", u.Path, resp.Header.Get("Content-Type"), size, rule)
	}
	return ""
}

// parkingPhrases mark parking pages, registrars' placeholders and web
// servers' default pages: a root domain showing one has no live content.
var parkingPhrases = []string{
	"domain is for sale", "domain may be for sale", "buy this domain", "domain parking", "parked free",
	"parkingcrew", "sedoparking", "this domain has been registered", "域名出售", "域名正在出售", "域名可以出售", "域名停放",
	"welcome to nginx!", "apache2 ubuntu default page", "apache2 debian default page", "test page for the apache",
	"iis windows server", "it works!", "站点创建成功", "网站建设中", "正在建设中", "under construction",
}

// minApexText is the least visible text, in characters, that counts as
// content.
const minApexText = 20

// apexResult judges the root domain's home page.
func (c *Checker) apexResult(home fetched, host string) Result {
	r := Result{Check: CheckApex}
	fix := "point the root domain " + host + " at this edge and serve it (apex.host, with mode landing or proxy), so that it shows the company's content with the notice"
	fail := func(detail string) Result {
		r.Status, r.Detail, r.Fix = Fail, detail, fix
		return r
	}
	switch {
	case home.status == 0:
		return fail("the root domain does not answer: " + shortErr(home.err))
	case home.status < 200 || home.status > 299:
		return fail(fmt.Sprintf("the root domain answers %d %s", home.status, http.StatusText(home.status)))
	}
	if fh := strings.ToLower(home.url.Hostname()); fh != host && !slices.Contains(c.opts.MainHosts, fh) {
		return fail("the root domain redirects to " + home.url.Host + ", which is not one of this client's hosts")
	}
	if home.doc == nil {
		return fail("the root domain answers " + home.ctype + ", not a page")
	}
	f := analyze(home.doc, home.url)
	hay := strings.ToLower(f.title + " " + f.text)
	for _, p := range parkingPhrases {
		if strings.Contains(hay, p) {
			return fail(fmt.Sprintf("the root domain shows a parking or default server page (%q)", p))
		}
	}
	if n := len([]rune(f.text)); n < minApexText {
		return fail(fmt.Sprintf("the root domain's page is nearly empty (%d characters of text)", n))
	}
	r.Status = OK
	r.Detail = fmt.Sprintf("%d, %d characters of text", home.status, len([]rune(f.text)))
	if f.title != "" {
		r.Detail = fmt.Sprintf("%d, %q, %d characters of text", home.status, abbreviate(f.title, 40), len([]rune(f.text)))
	}
	return r
}

// summarize joins per-page problems into one line.
func summarize(problems []string, pages int) string {
	const shown = 3
	s := strings.Join(problems[:min(shown, len(problems))], "; ")
	if len(problems) > shown {
		s += fmt.Sprintf("; and %d more", len(problems)-shown)
	}
	return s + fmt.Sprintf(" (%d of %s)", len(problems), countPages(pages))
}

func countPages(n int) string {
	if n == 1 {
		return "1 page"
	}
	return strconv.Itoa(n) + " pages"
}

func orAny(icp string) string {
	if icp == "" {
		return "the filing number"
	}
	return icp
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
