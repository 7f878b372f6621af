package compliance

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
)

var (
	// icpRE finds filing numbers (京ICP备12345678号-1) and licences
	// (京ICP证123456号) in text.
	icpRE = regexp.MustCompile(`\p{Han}ICP[备证][0-9]{6,10}号(?:-[0-9]+)?`)
	// policeRE finds public-security filing numbers.
	policeRE = regexp.MustCompile(`\p{Han}公网安备[0-9]{14}号`)
	digitsRE = regexp.MustCompile(`[0-9]+`)
)

const (
	miitHost = "beian.miit.gov.cn"
	miitURL  = "https://beian.miit.gov.cn/"
	mpsURL   = "https://beian.mps.gov.cn/#/query/webSearch?code="
)

// deadMIITHosts are retired MIIT filing-lookup hosts: links to them lead
// nowhere, and inspectors count the number as unlinked.
var deadMIITHosts = map[string]bool{
	"miibeian.gov.cn":       true, // the pre-2019 system
	"www.miibeian.gov.cn":   true,
	"miitbeian.gov.cn":      true,
	"www.miitbeian.gov.cn":  true,
	"www.beian.miit.gov.cn": true,
}

// occurrence is one filing number found on a page.
type occurrence struct {
	number string // as shown
	href   string // the enclosing link's href; "" when not linked
	hidden string // why it is hidden; "" when visible
}

// pageFindings is what one page shows that the checks judge.
type pageFindings struct {
	page      string // the page's path, for messages
	icp       []occurrence
	police    []occurrence
	deadLinks []string // hrefs to retired MIIT hosts
	p2pLinks  []string // magnet:, ed2k: and thunder: links
	links     []string // paths of same-host links, for the policy
	resources []*url.URL
	blocked   []blockedLoad // from third-party hosts blocked in mainland China
	title     string
	text      string // visible body text, whitespace collapsed
}

// analyze finds the filing numbers, their links and whether each is
// hidden, the dead MIIT links and the links the policy judges.
func analyze(doc *goquery.Document, u *url.URL) pageFindings {
	f := pageFindings{page: pathOf(u)}
	for _, n := range doc.Nodes {
		f.walk(n, "", u)
	}
	pages, resources := sameHostLinks(doc, u, strings.ToLower(u.Hostname()))
	for _, l := range append(pages, resources...) {
		f.links = append(f.links, l.Path)
	}
	f.resources = resources
	f.blocked = blockedLoads(doc, u)
	f.title = strings.TrimSpace(doc.Find("title").First().Text())
	body := doc.Find("body").Clone()
	body.Find("script, style, noscript, template").Remove()
	f.text = strings.Join(strings.Fields(body.Text()), " ")
	return f
}

// walk visits n's subtree. inherited is set inside content a browser
// never shows: a comment or <noscript>, parsed here as HTML of its own.
func (f *pageFindings) walk(n *html.Node, inherited string, base *url.URL) {
	switch n.Type {
	case html.CommentNode:
		f.walkFragment(n.Data, "inside an HTML comment", base)
		return
	case html.TextNode:
		if n.Parent != nil && n.Parent.Type == html.ElementNode && n.Parent.Data == "noscript" {
			f.walkFragment(n.Data, "inside <noscript>", base)
			return
		}
		if enclosing(n, "a") == nil && enclosing(n, "script") == nil && enclosing(n, "style") == nil {
			f.scan(n.Data, "", why(inherited, n))
		}
		return
	case html.ElementNode:
		if n.Data == "a" {
			f.link(n, inherited, base)
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		f.walk(c, inherited, base)
	}
}

// walkFragment parses raw markup (a comment's or <noscript>'s) and walks
// it with everything in it hidden for reason.
func (f *pageFindings) walkFragment(raw, reason string, base *url.URL) {
	if !strings.Contains(raw, "ICP") && !strings.Contains(raw, "公网安备") {
		return
	}
	root, err := html.Parse(strings.NewReader(raw))
	if err != nil {
		return
	}
	f.walk(root, reason, base)
}

// link records what an <a> shows and where it goes.
func (f *pageFindings) link(a *html.Node, inherited string, base *url.URL) {
	href := strings.TrimSpace(attr(a, "href"))
	text := textOf(a)
	f.scan(text, href, why(inherited, a))
	if inherited != "" || href == "" {
		return
	}
	lower := strings.ToLower(href)
	for _, scheme := range []string{"magnet:", "ed2k:", "thunder:"} {
		if strings.HasPrefix(lower, scheme) {
			f.p2pLinks = append(f.p2pLinks, abbreviate(href, 80))
			return
		}
	}
	u, err := base.Parse(href)
	if err != nil {
		return
	}
	h := strings.ToLower(u.Hostname())
	if deadMIITHosts[h] || h == miitHost && u.Scheme == "http" {
		f.deadLinks = append(f.deadLinks, href)
	}
}

// scan records the filing numbers in text.
func (f *pageFindings) scan(text, href, hidden string) {
	for _, m := range icpRE.FindAllString(text, -1) {
		f.icp = append(f.icp, occurrence{number: m, href: href, hidden: hidden})
	}
	for _, m := range policeRE.FindAllString(text, -1) {
		f.police = append(f.police, occurrence{number: m, href: href, hidden: hidden})
	}
}

func why(inherited string, n *html.Node) string {
	if inherited != "" {
		return inherited
	}
	return hiddenReason(n)
}

// liveMIIT reports whether href is the live MIIT lookup over https.
func liveMIIT(href string) bool {
	u, err := url.Parse(href)
	return err == nil && u.Scheme == "https" && strings.EqualFold(u.Hostname(), miitHost)
}

// policeLink reports whether href is the MPS lookup link for the digits.
func policeLink(href, digits string) bool {
	return href == mpsURL+digits
}

func enclosing(n *html.Node, tag string) *html.Node {
	for x := n.Parent; x != nil; x = x.Parent {
		if x.Type == html.ElementNode && x.Data == tag {
			return x
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return true
		}
	}
	return false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(x *html.Node) {
		if x.Type == html.TextNode {
			b.WriteString(x.Data)
		}
		for c := x.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

func abbreviate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
