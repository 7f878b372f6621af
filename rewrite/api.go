package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/cascadia"
)

// Notice is the ICP notice block to inject. A page that already links
// ICP's number to MIIT gets a block of only the parts it lacks: Company,
// unless its text shows it, and Police with its badge, unless it links it
// to the public-security lookup; a page that shows every part gets none.
type Notice struct {
	ICP     string // e.g. 京ICP备12345678号-1
	Company string // optional text shown before the number
	Police  string // optional, e.g. 京公网安备11010502012345号
	// PoliceBadgeURL is where the page loads the public-security badge from,
	// a path served by the edge itself, e.g. "/.icpedge/police.png". Empty
	// means no badge image.
	PoliceBadgeURL string
	// Selector is an optional CSS selector for the element that receives
	// the notice (as its last child). Empty, or no match, means right
	// after the page's last <footer> (as its next sibling, so that a flex
	// or grid footer cannot lay the notice out as one of its items), then
	// the end of <body>.
	Selector string
}

// Options configure a Rewriter.
type Options struct {
	Notice Notice
	// RewriteHosts are the origin's host names (lower-case, no port) whose
	// absolute URLs are moved onto the edge. Empty means no URL rewriting.
	RewriteHosts []string
	// Localize changes what pages ask for from third-party hosts that
	// are blocked in mainland China (see LocalizeRule, and ExpandPresets
	// for the built-in sets). It applies in the same pass as the notice,
	// to HTML, streamed HTML and style sheets (CSS). The most specific
	// Match wins; for the same Match, the first rule. Nil changes nothing.
	Localize []LocalizeRule
	// Buffer, when set, gives the buffer a rewritten page is written
	// into: empty, with a capacity of at least n bytes. The caller owns
	// it with the Result, and may reuse it once done with the Result's
	// Body. Nil allocates.
	Buffer func(n int) []byte
}

// Edge is where the visitor reached us; URLs on RewriteHosts become URLs on
// Scheme://Host.
type Edge struct {
	Scheme string // "http" or "https"
	Host   string // host[:port] exactly as the visitor used it
}

// Result is a rewritten document.
type Result struct {
	Body []byte
	// ContentType is the Content-Type to send with Body (the charset
	// parameter may have been fixed or added).
	ContentType string
	// Skipped is non-empty when the document was passed through untouched,
	// and says why (e.g. "iso-2022-jp is not ascii-compatible").
	Skipped string
	// Hints are the sub-resources the rewritten page needs before it can
	// render, in document order (at most 32): style sheets (not for
	// print or some widths only, not disabled or alternate), preloads of
	// style sheets, scripts, fonts and images, and classic scripts in
	// <head> that are neither async nor deferred. They are found in the
	// same pass as the notice's place, on any host; which to hint is the
	// caller's to say.
	Hints []Hint
	// Base is the href of the page's first <base> element (character
	// references decoded), against which relative URLs, Hints' among
	// them, resolve; "" when it has none.
	Base string
}

// Rewriter is compiled once per configuration and is safe for concurrent use.
type Rewriter struct {
	opts     Options
	selector cascadia.Selector // nil when Notice.Selector is empty
	// selectorNeedle, when set, is a string that must occur in a page for
	// the selector to match it; pages without it skip the DOM parse.
	selectorNeedle string
	hosts          map[string]bool
	loc            localizer
	icpKey         []byte // what an existing notice link's text must contain
	noticeASCII    string // the block as ASCII with character references
	noticeUTF8     string
	// blocks are the ASCII blocks for what a page lacks, by
	// shown.missing(); blocks[partICP|partCompany|partPolice] is
	// noticeASCII. blocksUTF8 are the same in UTF-8, for UTF-16 pages.
	blocks, blocksUTF8 [8]string
	// policeHref is the police link a page may already carry (nil
	// without notice.police), policeCode the digits its text must hold.
	policeHref, policeCode []byte
	// company is the company name in each encoding a page may use;
	// companyBy has the one form for each charset that has one.
	company   [][]byte
	companyBy map[string][][]byte
	scratches sync.Pool // *scratch, see Rewriter.scratch
}

// New validates opts (the selector must compile, ICP must be set) and
// returns a Rewriter.
func New(opts Options) (*Rewriter, error) {
	var errs []error
	n := &opts.Notice
	n.ICP = strings.TrimSpace(n.ICP)
	n.Company = strings.TrimSpace(n.Company)
	n.Police = strings.TrimSpace(n.Police)
	n.Selector = strings.TrimSpace(n.Selector)
	if n.ICP == "" {
		errs = append(errs, errors.New("notice icp is empty"))
	}
	if n.Police != "" && policeCode(n.Police) == "" {
		errs = append(errs, fmt.Errorf("notice police %q: no record number digits", n.Police))
	}
	r := &Rewriter{opts: opts, hosts: map[string]bool{}}
	if n.Selector != "" {
		sel, err := cascadia.Compile(n.Selector)
		if err != nil {
			errs = append(errs, fmt.Errorf("notice selector %q: %w", n.Selector, err))
		}
		r.selector = sel
		r.selectorNeedle = selectorNeedle(n.Selector)
	}
	for _, h := range opts.RewriteHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if strings.ContainsAny(h, "/:@ ") {
			errs = append(errs, fmt.Errorf("rewrite host %q: want a bare host name", h))
			continue
		}
		r.hosts[h] = true
	}
	loc, err := compileLocalize(opts.Localize)
	if err != nil {
		errs = append(errs, err)
	}
	r.loc = loc
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r.icpKey = icpKey(n.ICP)
	r.noticeASCII = renderNotice(*n, true)
	r.noticeUTF8 = renderNotice(*n, false)
	r.blocks = renderBlocks(*n, true)
	r.blocksUTF8 = renderBlocks(*n, false)
	if n.Police != "" {
		r.policeCode = []byte(policeCode(n.Police))
		r.policeHref = []byte(policeURL + policeCode(n.Police))
	}
	r.company, r.companyBy = companyNeedles(n.Company)
	return r, nil
}

// NoticeHTML returns the notice block alone, UTF-8, for the edge's own pages
// (error pages, 451 pages, landing page).
func (r *Rewriter) NoticeHTML() string { return r.noticeUTF8 }

// URL rewrites one absolute URL (for Location and Content-Location headers):
// if its host is in RewriteHosts it is moved onto edge. Others are returned
// unchanged.
func (r *Rewriter) URL(raw string, edge Edge) string {
	prefix := edgePrefix(edge)
	if prefix == "" {
		return raw
	}
	s := strings.TrimLeft(raw, " \t\r\n\f")
	lead := raw[:len(raw)-len(s)]
	n, host := urlAuthority([]byte(s))
	if n == 0 || !r.hosts[string(host)] {
		return raw
	}
	return lead + prefix + s[n:]
}

// Link rewrites the URI references of a Link header's value (RFC 8288
// §3: "<uri>; param=value, <uri>; ..."): each one on RewriteHosts moves
// onto edge. Parameters, such as rel="https://api.w.org/" (a relation
// type named by a URL, not a link), are left as they are.
func (r *Rewriter) Link(value string, edge Edge) string {
	var b strings.Builder
	changed := false
	rest := value
	for rest != "" {
		lt := strings.IndexByte(rest, '<')
		if lt < 0 {
			break
		}
		gt := strings.IndexByte(rest[lt:], '>')
		if gt < 0 {
			break
		}
		target := rest[lt+1 : lt+gt]
		if moved := r.URL(target, edge); moved != target {
			b.WriteString(rest[:lt+1])
			b.WriteString(moved)
			b.WriteByte('>')
			changed = true
		} else {
			b.WriteString(rest[:lt+gt+1])
		}
		rest = rest[lt+gt+1:]
		// The link's parameters run to the next comma outside quotes.
		n := linkParamsEnd(rest)
		b.WriteString(rest[:n])
		rest = rest[n:]
	}
	if !changed {
		return value
	}
	b.WriteString(rest)
	return b.String()
}

// linkParamsEnd returns the length of a link-value's parameters at the
// start of s, through the comma that ends them (RFC 8288 §3: a quoted
// string may hold commas and angle brackets).
func linkParamsEnd(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ',':
			return i + 1
		}
	}
	return len(s)
}

// Refresh rewrites a Refresh header's value ("5; url=https://...", as in
// <meta http-equiv=refresh>): a URL on RewriteHosts moves onto edge.
func (r *Rewriter) Refresh(value string, edge Edge) string {
	var edits []edit
	u := urlRewriter{hosts: r.hosts, prefix: edgePrefix(edge), out: &edits}
	u.refresh([]byte(value), 0)
	if len(edits) == 0 {
		return value
	}
	return string(splice([]byte(value), edits))
}

// HTML rewrites a whole HTML document. contentType is the response's
// Content-Type header (may be empty). The document's encoding is
// determined as browsers determine it; the notice is written so that the
// page's own encoding carries it (as ASCII with character references, or
// as code units in a UTF-16 page's byte order), and the page is not
// re-encoded.
//
// The error is reserved for failures of the document parse; today there are
// none that are not handled by passing the page through.
func (r *Rewriter) HTML(src []byte, contentType string, edge Edge) (Result, error) {
	return r.html(src, contentType, edge, false)
}

// CSS rewrites a style sheet served on its own (a text/css response): the
// url() and @import URLs on RewriteHosts move onto edge, and the Localize
// rules apply (Replace; Strip removes an @import). src is returned as it is
// when nothing changes, and for a UTF-16 sheet, whose bytes are not ASCII.
func (r *Rewriter) CSS(src []byte, edge Edge) []byte {
	if bytes.HasPrefix(src, []byte{0xFE, 0xFF}) || bytes.HasPrefix(src, []byte{0xFF, 0xFE}) {
		return src
	}
	var edits []edit
	u := urlRewriter{hosts: r.hosts, prefix: edgePrefix(edge), loc: r.loc, out: &edits}
	u.css(src, 0)
	if len(edits) == 0 {
		return src
	}
	return splice(src, edits)
}

// EditsCSS reports whether CSS can change anything: whether there are
// RewriteHosts or Localize rules. When it is false, style sheets may pass
// through unbuffered.
func (r *Rewriter) EditsCSS() bool { return len(r.hosts) > 0 || r.loc != nil }

// Stream returns a writer for HTML too large to buffer: bytes written to it
// reach dst with URL rewrites and the notice inserted before the last
// </body> (or at the end). Close must be called to flush the tail; it does
// not close dst. Memory use is bounded (see maxHold).
func (r *Rewriter) Stream(dst io.Writer, contentType string, edge Edge) io.WriteCloser {
	return newStream(r, dst, contentType, edge)
}
