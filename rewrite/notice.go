package rewrite

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// NoticeID is the id of the injected block, for tools that need to find it.
const NoticeID = "icpedge-notice"

const (
	miitURL   = "https://beian.miit.gov.cn/"
	policeURL = "https://beian.mps.gov.cn/#/query/webSearch?code="
)

// Inline styles use !important so that page CSS cannot hide, shrink, move or
// recolour the block: important inline declarations win over every author
// style sheet rule (CSS Cascade 5, section 6.1 "element-attached styles").
//
// The block is also kept on top. Old layouts pin their footer with
// position:absolute over the end of <body>, where the notice goes, and
// positioned boxes paint above in-flow ones (CSS 2.1 appendix E). So the
// block is positioned itself (relative, at its place in the flow, with no
// offsets a page rule could add), takes the highest z-index there is
// (2^31-1, the largest value browsers keep), and has an opaque background,
// so that nothing of the page shows through it or paints over it.
const (
	blockStyle = "display:block!important;visibility:visible!important;opacity:1!important;" +
		"position:relative!important;top:auto!important;right:auto!important;" +
		"bottom:auto!important;left:auto!important;z-index:2147483647!important;" +
		"float:none!important;clear:both!important;" +
		"transform:none!important;filter:none!important;clip-path:none!important;" +
		"width:auto!important;max-width:none!important;height:auto!important;" +
		"max-height:none!important;min-height:0!important;overflow:visible!important;" +
		"content-visibility:visible!important;margin:0!important;padding:8px 0!important;" +
		"border:0!important;background:#fff!important;text-align:center!important;" +
		"text-indent:0!important;font:12px/1.6 sans-serif!important;color:#666!important;" +
		"letter-spacing:normal!important;white-space:normal!important;" +
		"grid-column:1/-1!important;pointer-events:auto!important"
	// Each item stays on one line (a narrow screen wraps the block between
	// company, number and police number, never inside the number).
	linkStyle = "display:inline!important;visibility:visible!important;opacity:1!important;" +
		"position:static!important;float:none!important;transform:none!important;" +
		"font-size:12px!important;color:#666!important;text-decoration:none!important;" +
		"margin:0 4px!important;padding:0!important;border:0!important;" +
		"background:transparent!important;white-space:nowrap!important;" +
		"pointer-events:auto!important"
	badgeStyle = "display:inline-block!important;visibility:visible!important;" +
		"opacity:1!important;position:static!important;float:none!important;" +
		"width:14px!important;height:14px!important;margin:0 2px 0 0!important;" +
		"padding:0!important;border:0!important;vertical-align:-2px!important"
)

// renderNotice builds the block of n's non-empty parts. With ascii set
// every non-ASCII rune is a numeric character reference, so the block
// reads the same in any ASCII-compatible page encoding (GBK, Big5,
// Shift_JIS, windows-125x).
func renderNotice(n Notice, ascii bool) string {
	var b strings.Builder
	esc := func(s string) { escapeText(&b, s, ascii) }
	b.WriteString(`<div id="` + NoticeID + `" class="` + NoticeID + `" style="` + blockStyle + `">`)
	if n.Company != "" {
		b.WriteString(`<span style="` + linkStyle + `">`)
		esc(n.Company)
		b.WriteString(`</span>`)
	}
	if n.ICP != "" {
		b.WriteString(`<a href="` + miitURL + `" target="_blank" rel="noopener nofollow" style="` + linkStyle + `">`)
		esc(n.ICP)
		b.WriteString(`</a>`)
	}
	if n.Police != "" {
		b.WriteString(`<a href="` + policeURL + policeCode(n.Police) +
			`" target="_blank" rel="noopener nofollow" style="` + linkStyle + `">`)
		if n.PoliceBadgeURL != "" {
			b.WriteString(`<img src="`)
			esc(n.PoliceBadgeURL)
			b.WriteString(`" alt="" width="14" height="14" style="` + badgeStyle + `">`)
		}
		esc(n.Police)
		b.WriteString(`</a>`)
	}
	b.WriteString(`</div>`)
	return b.String()
}

// escapeText escapes s for both text and quoted attribute context.
func escapeText(b *strings.Builder, s string, ascii bool) {
	for _, c := range s {
		switch {
		case c == '&':
			b.WriteString("&amp;")
		case c == '<':
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		case c == '"':
			b.WriteString("&#34;")
		case c == '\'':
			b.WriteString("&#39;")
		case c == utf8.RuneError || c == 0:
			b.WriteString("&#xFFFD;")
		case ascii && c >= utf8.RuneSelf:
			b.WriteString("&#")
			b.WriteString(strconv.Itoa(int(c)))
			b.WriteByte(';')
		default:
			b.WriteRune(c)
		}
	}
}

// policeCode returns the public-security record number: the first run of
// digits (14 of them in a real number).
func policeCode(s string) string {
	return firstDigits(s, 1)
}

// icpKey is what the text of an existing MIIT link must contain for the page
// to count as already carrying the notice: the record number's digits, so
// that "京ICP备12345678号" matches a configured "京ICP备12345678号-1" and
// the page's own encoding does not matter.
func icpKey(icp string) []byte {
	if d := firstDigits(icp, 4); d != "" {
		return []byte(d)
	}
	return []byte(icp)
}

func firstDigits(s string, min int) string {
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i >= min {
			return s[i:j]
		}
		i = j
	}
	return ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// miitHosts are the MIIT filing-lookup hosts. Only beian.miit.gov.cn over
// https still works; links to the others are repaired.
var miitHosts = map[string]bool{
	"beian.miit.gov.cn":     true, // live, https only
	"www.beian.miit.gov.cn": false,
	"miibeian.gov.cn":       false, // the pre-2019 system
	"www.miibeian.gov.cn":   false,
	"www.miitbeian.gov.cn":  false,
	"miitbeian.gov.cn":      false,
}

// selectorNeedle returns a literal that must appear in any page the selector
// matches, for the simple forms sites use ("#footer", ".copyright",
// "div.site-info"); "" when there is none and the page must be parsed.
func selectorNeedle(sel string) string {
	if strings.ContainsAny(sel, " ,>+~[:*()\\") {
		return ""
	}
	i := strings.LastIndexAny(sel, "#.")
	if i < 0 || i == len(sel)-1 {
		return ""
	}
	return sel[i+1:]
}

// shown is what a page already shows of the notice, as one scan finds it.
type shown struct {
	icp     bool // a link to MIIT whose text holds the number (see icpKey)
	company bool // the company name, in the page's text
	police  bool // the police link for the number, with the number in its text
}

// missing is an index into Rewriter.blocks: which parts a page lacks.
func (f shown) missing() int {
	if !f.icp {
		// The number goes with the company before it, as the notice's
		// line reads; the police number only where the page lacks it.
		return partICP | partCompany | b2i(!f.police)*partPolice
	}
	return b2i(!f.company)*partCompany | b2i(!f.police)*partPolice
}

// The parts of the notice, as bits of a Rewriter.blocks index.
const (
	partICP = 1 << iota
	partCompany
	partPolice
)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// renderBlocks renders the block for every combination of missing parts,
// as ASCII with character references or as UTF-8: index 0, nothing
// missing, is empty, and so is any combination whose parts n does not
// configure.
func renderBlocks(n Notice, ascii bool) [8]string {
	var out [8]string
	for i := 1; i < len(out); i++ {
		part := Notice{PoliceBadgeURL: n.PoliceBadgeURL}
		if i&partICP != 0 {
			part.ICP = n.ICP
		}
		if i&partCompany != 0 {
			part.Company = n.Company
		}
		if i&partPolice != 0 {
			part.Police = n.Police
		}
		if part.ICP != "" || part.Company != "" || part.Police != "" {
			out[i] = renderNotice(part, ascii)
		}
	}
	return out
}

// maxCompanyForms is how many forms companyNeedles makes at most.
const maxCompanyForms = 3

// companyNeedles are the byte forms the company name takes in the page
// encodings Chinese sites use, so that a scan of the page's own bytes finds
// it whatever the encoding: UTF-8, GB18030 (a superset of GBK and GB2312)
// and Big5. by has the one form a page in each of those charsets (WHATWG
// names) shows it in, for a page whose charset is known before its scan.
func companyNeedles(company string) (all [][]byte, by map[string][][]byte) {
	if company == "" {
		return nil, nil
	}
	all = [][]byte{[]byte(company)}
	by = map[string][][]byte{"utf-8": all[:1]}
	for _, cs := range []struct {
		enc   encoding.Encoding
		names []string
	}{
		{simplifiedchinese.GB18030, []string{"gbk", "gb18030"}},
		{traditionalchinese.Big5, []string{"big5"}},
	} {
		b, err := cs.enc.NewEncoder().Bytes([]byte(company))
		if err != nil {
			continue // a name this charset can't spell: its pages get every form
		}
		for _, name := range cs.names {
			by[name] = [][]byte{b}
		}
		if !slices.ContainsFunc(all, func(o []byte) bool { return bytes.Equal(o, b) }) {
			all = append(all, b)
		}
	}
	return all, by
}

// companyIn returns the forms of the company name to look for in a page in
// charset: its own, when the charset is known before the scan and is one
// of companyNeedles', else all of them.
func (r *Rewriter) companyIn(charset string) [][]byte {
	if forms, ok := r.companyBy[charset]; ok {
		return forms
	}
	return r.company
}

// policeLink reports whether href is the MPS lookup link for the record
// number, as icpedge writes it and its check expects it.
func policeLink(href, want []byte) bool {
	return len(want) > 0 && bytes.Equal(bytes.TrimSpace(href), want)
}
