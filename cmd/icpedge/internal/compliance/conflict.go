package compliance

import (
	"fmt"
	"slices"
	"strings"
)

// CheckICPConflict is the check that a page shows no filing number other
// than the site's own: two numbers on one site (an old filing left in the
// origin's footer beside the one icpedge adds, another company's number)
// are what an inspector notices first.
const CheckICPConflict = "icp-conflict"

// conflictResult flags the pages that visibly show a second, different
// filing number. A filing (ICP备) and a commercial licence (ICP证) are
// different things that a site may show side by side; two numbers of one
// kind that differ in more than the site suffix ("-1") are a conflict.
func (c *Checker) conflictResult(pages []pageFindings) Result {
	r := Result{Check: CheckICPConflict}
	var problems []string
	for _, p := range pages {
		if msg := conflictProblem(p, c.opts.ICP); msg != "" {
			problems = append(problems, msg)
			r.Pages = append(r.Pages, p.page)
		}
	}
	if len(problems) > 0 {
		r.Status = Fail
		r.Detail = summarize(problems, len(pages))
		r.Fix = "a site shows its own filing number only: remove the other number from the origin's pages (an old filing, or another company's), or fix notice.icp if the other one is the site's"
		if c.opts.ICP == "" {
			r.Fix = "a site shows its own filing number only: remove the numbers that are not the site's from its pages"
		}
		return r
	}
	r.Status, r.Detail = OK, "no second filing number on "+countPages(len(pages))
	return r
}

// conflictProblem says which filing numbers of one kind a page shows
// when it shows more than one, or "". A page showing only a wrong number
// is the icp check's to report. Hidden numbers (in a comment,
// display:none…) are left to the other checks: an inspector does not see
// them.
func conflictProblem(p pageFindings, want string) string {
	var seen []string // visible numbers, one per filing, in page order
	for _, o := range p.icp {
		if o.hidden == "" && !slices.ContainsFunc(seen, func(n string) bool { return filingBase(n) == filingBase(o.number) }) {
			seen = append(seen, o.number)
		}
	}
	var conflict []string
	for _, n := range seen {
		if slices.ContainsFunc(seen, func(m string) bool { return m != n && sameKind(m, n) }) {
			conflict = append(conflict, n)
		}
	}
	if len(conflict) == 0 {
		return ""
	}
	mine := slices.IndexFunc(conflict, func(n string) bool { return want != "" && filingBase(n) == filingBase(want) })
	if mine < 0 {
		return fmt.Sprintf("%s: shows %s", p.page, strings.Join(conflict, " and "))
	}
	others := slices.Delete(slices.Clone(conflict), mine, mine+1)
	return fmt.Sprintf("%s: shows %s besides %s", p.page, strings.Join(others, ", "), conflict[mine])
}

// filingBase is a filing number without its site suffix: 京ICP备12345678号-1
// and 京ICP备12345678号 are the same filing.
func filingBase(n string) string {
	if i := strings.LastIndex(n, "号"); i >= 0 {
		return n[:i+len("号")]
	}
	return n
}

// sameKind reports whether two numbers are both filings (ICP备) or both
// licences (ICP证).
func sameKind(a, b string) bool {
	return strings.Contains(a, "ICP备") == strings.Contains(b, "ICP备")
}
