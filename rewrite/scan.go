package rewrite

import (
	"bytes"
	"math"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// token is one tokenizer token by its byte span in the document.
type token struct {
	start, end int
	typ        html.TokenType
	name       atom.Atom // for tags; 0 for unknown names
	// inRaw marks the content and end tag of a raw-text element (script,
	// style, textarea...): nothing may be inserted before such a token.
	inRaw bool
	// foreign marks tokens parsed as SVG or MathML content.
	foreign bool
	// template marks tokens inside a <template>.
	template bool
}

// scanResult is what one tokenizer pass learns about a document.
type scanResult struct {
	toks  []token
	edits []edit
	// eof is where the last complete token ends; an unfinished tag after it
	// is dropped by browsers.
	eof int
	// eofOK is false when the document ends inside a comment or raw text,
	// where an appended block would not be markup.
	eofOK bool
	// hasNotice is set by icpedge's own block: the page went through
	// the edge already, and gets nothing more.
	hasNotice bool
	// shown is what the page shows of the notice by itself.
	shown shown
	// meta is the charset label of the first <meta> in the head that
	// declares an encoding; "" if none.
	meta string
	// complex is set by markup that makes the cheap placement unreliable
	// (framesets, unclosed tables, selects, objects or templates at the
	// placement point); the DOM decides then.
	complex bool
	// lastFooter and lastBodyEnd are token indexes, -1 if none.
	lastFooter  int
	lastBodyEnd int
	// bodyOpen is the index of the first token known to be in the body.
	bodyOpen int
	// risky holds, per token index, whether a table, select, object,
	// applet or marquee is open before that token; only filled for the
	// tokens the cheap placement looks at.
	riskyAtBodyEnd bool
	riskyAtEOF     bool
	// eofClose holds end tags for a <select> or <template> still open at
	// the end, which would drop or hide a block appended there. The end
	// of the document closes them anyway, so writing them first changes
	// nothing else.
	eofClose string
	// hints are the sub-resources the page needs before it renders (see
	// scanner.hint); base is the href of its first <base>, if baseSet.
	hints   []Hint
	base    string
	baseSet bool
}

type fnode struct {
	name  []byte
	ns    byte // 'h' html, 's' svg, 'm' math
	integ bool // HTML integration point (or MathML text integration point)
	text  bool // MathML text integration point
	axml  bool // annotation-xml, where <svg> stays foreign
}

// rawText lists the elements whose content the tokenizer reads as raw text
// (scripting enabled, as in browsers).
var rawText = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Textarea: true, atom.Title: true,
	atom.Xmp: true, atom.Iframe: true, atom.Noembed: true, atom.Noframes: true,
	atom.Noscript: true, atom.Plaintext: true,
}

// breakout lists the start tags that end SVG/MathML content (HTML "parsing
// main in foreign content").
var breakout = map[atom.Atom]bool{
	atom.B: true, atom.Big: true, atom.Blockquote: true, atom.Body: true, atom.Br: true,
	atom.Center: true, atom.Code: true, atom.Dd: true, atom.Div: true, atom.Dl: true,
	atom.Dt: true, atom.Em: true, atom.Embed: true, atom.H1: true, atom.H2: true,
	atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Head: true,
	atom.Hr: true, atom.I: true, atom.Img: true, atom.Li: true, atom.Listing: true,
	atom.Menu: true, atom.Meta: true, atom.Nobr: true, atom.Ol: true, atom.P: true,
	atom.Pre: true, atom.Ruby: true, atom.S: true, atom.Small: true, atom.Span: true,
	atom.Strong: true, atom.Strike: true, atom.Sub: true, atom.Sup: true,
	atom.Table: true, atom.Tt: true, atom.U: true, atom.Ul: true, atom.Var: true,
}

// voidElements have no end tag.
var voidElements = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true,
	atom.Hr: true, atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true,
	atom.Source: true, atom.Track: true, atom.Wbr: true, atom.Param: true,
	atom.Keygen: true, atom.Basefont: true, atom.Bgsound: true, atom.Frame: true,
}

// headElements may appear in <head>; any other start tag opens the body.
var headElements = map[atom.Atom]bool{
	atom.Html: true, atom.Head: true, atom.Meta: true, atom.Link: true, atom.Title: true,
	atom.Style: true, atom.Script: true, atom.Base: true, atom.Noscript: true,
	atom.Template: true, atom.Basefont: true, atom.Bgsound: true, atom.Noframes: true,
}

// scanner is the state of one scan: where the tokenizer is in the
// document's structure, and what it has learnt so far.
type scanner struct {
	r   *Rewriter
	src []byte
	z   lexer
	u   urlRewriter
	s   *scanResult

	inRaw atom.Atom // raw-text element whose content we are in
	// strip is the edit removing the start tag of the raw-text element
	// we are in, to be run through its end tag; -1 if none.
	strip    int
	fs       []fnode // open elements since the outermost <svg>/<math>
	tmpl     int     // <template> depth
	tables   int
	selects  int
	scopes   int // object, applet, marquee
	inHead   bool
	link     byte // inside <a href=MIIT> ('m') or the police link ('p')
	linkText []byte
	attrs    []attr
	// lastComment is set when the last token is an unterminated comment.
	lastComment bool
	// afterBody is set when a </body> was seen and nothing has reopened
	// the body.
	afterBody bool
	// name holds the current tag's name, lower-case (see tagName).
	name []byte
	// company are the forms of the company name the page may show
	// (Rewriter.companyIn); companyAt is where each form next occurs,
	// at or after the last text token checked (math.MaxInt for nowhere),
	// and companyEnd is where the first of those occurrences ends: no
	// text token that ends before it can hold the name, so none is
	// searched (see text and findCompany).
	company    [][]byte
	companyAt  [maxCompanyForms]int
	companyEnd int
}

// scan tokenizes src[from:] once, into x/net/html's tokens (see lexer):
// it records every token, asks editTag for each start tag's edits and
// rewrites inline style sheets, and notes the facts placement needs. Each token goes to the step for its kind: text
// (scanner.text), the content and end of a raw-text element
// (scanner.rawText, scanner.rawEnd), start tags (scanner.startTag) and end
// tags (scanner.endTag). charset is the page's (a WHATWG name) when it is
// known before the scan, else "".
func (r *Rewriter) scan(src []byte, from int, prefix, charset string) *scanResult {
	s := &scanResult{lastFooter: -1, lastBodyEnd: -1, bodyOpen: -1}
	sc0 := r.scratch()
	s.toks, s.edits = sc0.toks, sc0.edits
	sc := &scanner{
		r:       r,
		src:     src,
		z:       lexer{src: src, pos: from},
		u:       urlRewriter{hosts: r.hosts, prefix: prefix, loc: r.loc, out: &s.edits},
		s:       s,
		strip:   -1,
		inHead:  true,
		company: r.companyIn(charset),
	}
	for i := range sc.companyAt {
		sc.companyAt[i] = -1
	}
	sc.findCompany(from)
	for {
		sc.z.AllowCDATA(sc.inForeign())
		tt := sc.z.Next()
		if tt == html.ErrorToken {
			break
		}
		t := token{start: sc.z.start, end: sc.z.end, typ: tt, template: sc.tmpl > 0}
		raw := src[t.start:t.end]
		sc.lastComment = false
		switch tt {
		case html.TextToken:
			if sc.inRaw != 0 {
				sc.rawText(&t, raw)
			} else {
				sc.text(&t, raw)
			}
		case html.CommentToken, html.DoctypeToken:
			sc.lastComment = !terminated(raw)
		case html.StartTagToken, html.SelfClosingTagToken:
			sc.startTag(&t, raw, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name := sc.tagName(raw[2:])
			t.name = atom.Lookup(name)
			if sc.inRaw != 0 {
				// The tokenizer only ends raw text at the matching end tag.
				sc.rawEnd(&t)
			} else {
				sc.endTag(&t, name)
			}
		}
		s.toks = append(s.toks, t)
	}
	// The error token starts where the last token ended: the end of the
	// input, or of all but a tag it cuts off.
	sc.finish(sc.z.start)
	return s
}

// maxPooledTokens and maxPooledEdits bound the slices kept for the next
// document: a slice grown for one huge page is let go rather than held.
const (
	maxPooledTokens = 64 << 10
	maxPooledEdits  = 16 << 10
)

// scratch is a scan's token and edit slices, kept between documents.
type scratch struct {
	toks  []token
	edits []edit
}

// scratch returns empty token and edit slices, reused from an earlier
// document when there is one: a page has thousands of tokens and hundreds
// of edits, and growing the slices anew each time was most of what a
// rewrite allocates.
func (r *Rewriter) scratch() scratch {
	if p, ok := r.scratches.Get().(*scratch); ok {
		return scratch{toks: p.toks[:0], edits: p.edits[:0]}
	}
	return scratch{toks: make([]token, 0, 1024), edits: make([]edit, 0, 64)}
}

// release gives s's token and edit slices back for the next document. s
// must not be used afterwards, nor any slice of its edits.
func (r *Rewriter) release(s *scanResult) {
	if cap(s.toks) <= maxPooledTokens && cap(s.edits) <= maxPooledEdits {
		clear(s.edits) // their strings are not held for nothing
		r.scratches.Put(&scratch{toks: s.toks[:0], edits: s.edits[:0]})
	}
	s.toks, s.edits = nil, nil
}

// inForeign reports whether the current node is SVG or MathML, where
// CDATA sections are markup.
func (sc *scanner) inForeign() bool {
	return len(sc.fs) > 0 && sc.fs[len(sc.fs)-1].ns != 'h'
}

// risky reports whether a table, select, object, applet, marquee or
// template is open, any of which can move or hide a block placed there.
func (sc *scanner) risky() bool {
	return sc.tables > 0 || sc.selects > 0 || sc.scopes > 0 || sc.tmpl > 0
}

// text notes a text token outside raw-text elements: the text of a MIIT
// link, and the start of the body at the first text that is not
// whitespace.
func (sc *scanner) text(t *token, raw []byte) {
	t.foreign = sc.inForeign() && !sc.fs[len(sc.fs)-1].integ
	if sc.link != 0 && len(sc.linkText) < 1024 {
		sc.linkText = append(sc.linkText, sc.z.Text()...)
	}
	if !sc.s.shown.company && t.end >= sc.companyEnd {
		if sc.tmpl == 0 && containsAny(raw, sc.company) {
			sc.s.shown.company = true
		} else {
			// An occurrence that ends past this token starts in it or
			// before it, so the later tokens can't hold it whole.
			sc.findCompany(t.end)
		}
	}
	if skipSpace(raw, 0) < len(raw) && sc.tmpl == 0 && !t.foreign {
		if sc.s.bodyOpen < 0 {
			sc.s.bodyOpen = len(sc.s.toks)
		}
		sc.inHead, sc.afterBody = false, false
	}
}

// enterRaw notes the start of a raw-text element. through is editTag's
// word that its start tag is removed (localize's strip), in which case
// the removal runs through its end tag.
func (sc *scanner) enterRaw(name atom.Atom, through bool) {
	sc.inRaw = name
	if through {
		sc.strip = len(sc.s.edits) - 1
	}
}

// rawText handles the content of a raw-text element: nothing may be
// inserted in it, an inline style sheet's URLs are rewritten, and so are
// an inline script's, JSON-LD and other data blocks included.
func (sc *scanner) rawText(t *token, raw []byte) {
	t.inRaw = true
	switch {
	case sc.inRaw == atom.Style && sc.u.active():
		sc.u.css(raw, t.start)
	case sc.inRaw == atom.Script && sc.strip < 0:
		// (A stripped script goes whole, content and all.)
		sc.u.script(raw, t.start, 0, true)
	}
}

// rawEnd handles the end tag of a raw-text element.
func (sc *scanner) rawEnd(t *token) {
	t.inRaw = true
	sc.inRaw = 0
	if sc.strip >= 0 {
		sc.s.edits[sc.strip].end = t.end
		sc.strip = -1
	}
}

// startTag handles a start tag: its edits (editTag), SVG and MathML
// content, raw-text elements, and the elements placement cares about.
func (sc *scanner) startTag(t *token, raw []byte, selfClosing bool) {
	name := sc.tagName(raw[1:])
	t.name = atom.Lookup(name)
	st := startTag{raw: raw, base: t.start, name: name}
	sc.attrs = lexAttrs(raw, sc.attrs[:0])
	st.attrs = sc.attrs

	foreign := sc.foreignStart(t.name, &st)
	t.foreign = foreign
	first := len(sc.s.edits)
	through := editTag(&st, &sc.u, !foreign)
	if !foreign && !t.template {
		sc.hint(t, raw, sc.s.edits[first:])
	}
	if foreign {
		sc.z.NextIsNotRawText()
		if !selfClosing {
			f := fnode{name: append([]byte(nil), name...), ns: sc.fs[len(sc.fs)-1].ns}
			f.integ, f.text, f.axml = integration(f.ns, name, &st)
			sc.fs = append(sc.fs, f)
		}
		return
	}
	switch {
	case t.name == atom.Svg || t.name == atom.Math:
		if !selfClosing {
			ns := byte('s')
			if t.name == atom.Math {
				ns = 'm'
			}
			sc.fs = append(sc.fs, fnode{name: append([]byte(nil), name...), ns: ns})
		}
	case rawText[t.name]:
		sc.enterRaw(t.name, through)
	case len(sc.fs) > 0 && !voidElements[t.name]:
		sc.fs = append(sc.fs, fnode{name: append([]byte(nil), name...), ns: 'h'})
	}
	// Our own block counts even inside a <template>: a page cut off in an
	// open template with a construct at the end that would swallow an
	// appended block gets it inside the template, and must not get a
	// second one when it comes through again.
	if id, ok := st.get("id"); ok && string(id) == NoticeID {
		sc.s.hasNotice = true
	}
	if t.template {
		if t.name == atom.Template {
			sc.tmpl++
		}
		return
	}
	if !headElements[t.name] {
		sc.inHead, sc.afterBody = false, false
		if sc.s.bodyOpen < 0 {
			sc.s.bodyOpen = len(sc.s.toks)
		}
	}
	sc.open(t.name, &st)
}

// tagName returns the name of the tag whose raw text after "<" or "</" is
// b as x/net/html's TagName does: lower-case, NUL as U+FFFD (HTML §13.2.5.8
// tag name state). It is valid until the next tag: one buffer serves
// them all, where TagName copies every name, thousands per page.
func (sc *scanner) tagName(b []byte) []byte {
	sc.name = sc.name[:0]
	for _, c := range tagName(b) {
		switch {
		case 'A' <= c && c <= 'Z':
			sc.name = append(sc.name, c+'a'-'A')
		case c == 0:
			sc.name = append(sc.name, "\ufffd"...)
		default:
			sc.name = append(sc.name, c)
		}
	}
	return sc.name
}

// foreignStart reports whether a start tag is SVG or MathML content,
// after HTML "tree construction dispatcher"; a tag that breaks out of it
// closes the foreign elements first.
func (sc *scanner) foreignStart(name atom.Atom, st *startTag) bool {
	if len(sc.fs) == 0 {
		return false
	}
	top := sc.fs[len(sc.fs)-1]
	foreign := top.ns != 'h' &&
		!(top.integ && !top.text) &&
		!(top.text && name != atom.Mglyph && name != atom.Malignmark) &&
		!(top.axml && name == atom.Svg)
	if foreign && (breakout[name] || name == atom.Font && fontBreaks(st)) {
		for len(sc.fs) > 0 && sc.fs[len(sc.fs)-1].ns != 'h' && !sc.fs[len(sc.fs)-1].integ {
			sc.fs = sc.fs[:len(sc.fs)-1]
		}
		return false
	}
	return foreign
}

// open notes an HTML element opening outside templates: the elements
// that make placement risky, the last footer, the head's charset and MIIT
// links.
func (sc *scanner) open(name atom.Atom, st *startTag) {
	s := sc.s
	switch name {
	case atom.Template:
		sc.tmpl++
	case atom.Table:
		sc.tables++
	case atom.Select:
		sc.selects++
	case atom.Object, atom.Applet, atom.Marquee:
		sc.scopes++
	case atom.Frameset:
		s.complex = true
	case atom.Footer:
		if len(sc.fs) == 0 {
			s.lastFooter = len(s.toks)
			if sc.risky() {
				s.complex = true
			}
		}
	case atom.Meta:
		if sc.inHead && s.meta == "" {
			// A label that names no encoding changes nothing, and a
			// later <meta> may still (HTML "in head").
			if l := metaCharset(st); l != "" {
				if _, ok := lookupCharset(l); ok {
					s.meta = l
				}
			}
		}
	case atom.A:
		sc.endLink()
		href, _ := st.get("href")
		sc.link, sc.linkText = sc.r.linkKind(href), sc.linkText[:0]
	}
}

// endLink ends a MIIT or police link, if one is open, recording what its
// text shows of the notice.
func (sc *scanner) endLink() {
	sc.r.endLink(&sc.s.shown, sc.link, sc.linkText)
}

// endTag handles an end tag outside raw-text elements.
func (sc *scanner) endTag(t *token, name []byte) {
	s := sc.s
	if len(sc.fs) > 0 {
		t.foreign = sc.inForeign()
		var sure bool
		sc.fs, sure = popForeign(sc.fs, name)
		if !sure {
			s.complex = true
		}
	}
	if t.template && !(t.name == atom.Template && sc.tmpl == 1) {
		if t.name == atom.Template {
			sc.tmpl--
		}
		return
	}
	switch t.name {
	case atom.Template:
		if sc.tmpl > 0 {
			sc.tmpl--
		}
	case atom.Table:
		sc.tables = max(sc.tables-1, 0)
	case atom.Select:
		sc.selects = max(sc.selects-1, 0)
	case atom.Object, atom.Applet, atom.Marquee:
		sc.scopes = max(sc.scopes-1, 0)
	case atom.Body, atom.Html:
		// In the body, </html> acts as </body> (HTML "in body"); after
		// it, both only move on to the next insertion mode.
		if !sc.afterBody {
			s.lastBodyEnd = len(s.toks)
			s.riskyAtBodyEnd = sc.risky()
		}
		sc.afterBody = true
	case atom.A:
		sc.endLink()
		sc.link = 0
	}
}

// finish notes what the end of the document, at off, leaves open.
func (sc *scanner) finish(off int) {
	s := sc.s
	if sc.strip >= 0 {
		// Cut short inside the element: its content runs to the end.
		s.edits[sc.strip].end = len(sc.src)
	}
	sc.endLink()
	s.eof = off
	// A text token ending the document may end in a construct cut short
	// ("</", "<!", "<a") that an appended block would complete.
	lastText := len(s.toks) > 0 && s.toks[len(s.toks)-1].typ == html.TextToken &&
		bytes.IndexByte(sc.src[s.toks[len(s.toks)-1].start:s.toks[len(s.toks)-1].end], '<') >= 0
	s.eofOK = sc.inRaw == 0 && !sc.lastComment && !lastText
	s.riskyAtEOF = sc.risky()
	if sc.selects > 0 {
		s.eofClose = "</select>"
	}
	s.eofClose += strings.Repeat("</template>", sc.tmpl)
}

// terminated reports whether a comment or doctype token was closed, rather
// than running to the end of the document.
func terminated(raw []byte) bool {
	if bytes.HasPrefix(raw, []byte("<!--")) {
		return bytes.HasSuffix(raw, []byte("-->")) || bytes.HasSuffix(raw, []byte("--!>")) ||
			string(raw) == "<!-->" || string(raw) == "<!--->"
	}
	return bytes.HasSuffix(raw, []byte(">"))
}

func fontBreaks(t *startTag) bool {
	for _, k := range []string{"color", "face", "size"} {
		if _, ok := t.get(k); ok {
			return true
		}
	}
	return false
}

func integration(ns byte, name []byte, t *startTag) (integ, text, axml bool) {
	switch ns {
	case 's':
		switch string(name) {
		case "foreignobject", "desc", "title":
			return true, false, false
		}
	case 'm':
		switch string(name) {
		case "mi", "mo", "mn", "ms", "mtext":
			return true, true, false
		case "annotation-xml":
			enc, _ := t.get("encoding")
			enc = bytes.TrimSpace(enc)
			h := eqFold(enc, "text/html") || eqFold(enc, "application/xhtml+xml")
			return h, false, true
		}
	}
	return false, false, false
}

// popForeign applies an end tag to the open SVG/MathML elements, after HTML
// "any other end tag" in foreign content and in body. An end tag matching
// nothing here closes the foreign content only if it names an HTML element
// open in scope around the <svg>, which the scan does not track: it is
// taken to do so (a later <script> is then read as raw text, never as
// markup to edit), and sure is false so that the DOM places the notice.
func popForeign(fs []fnode, name []byte) (_ []fnode, sure bool) {
	for i := len(fs) - 1; i >= 0; i-- {
		if bytes.EqualFold(fs[i].name, name) {
			return fs[:i], true
		}
	}
	switch string(name) {
	case "p", "br":
		return fs, true
	}
	return fs[:0], false
}

// linkKind says what an <a href> may show of the notice: 'm' for a MIIT
// lookup link (the number), 'p' for the police link, 0 for neither.
func (r *Rewriter) linkKind(href []byte) byte {
	switch {
	case miitLink(href):
		return 'm'
	case policeLink(href, r.policeHref):
		return 'p'
	}
	return 0
}

// endLink records what a link of kind shows, given its text.
func (r *Rewriter) endLink(f *shown, kind byte, text []byte) {
	switch kind {
	case 'm':
		f.icp = f.icp || bytes.Contains(text, r.icpKey)
	case 'p':
		f.police = f.police || bytes.Contains(text, r.policeCode)
	}
}

// findCompany moves companyAt to the forms' first occurrences at or
// after from, and sets companyEnd. A form is searched for again only
// when its last occurrence starts before from, so the page is searched
// once over for each form, however often the name appears where it
// doesn't count (attributes, scripts, templates): one search ahead
// instead of one per text token, which in Chinese text, full of the
// name's first byte, cost a quarter of a rewrite.
func (sc *scanner) findCompany(from int) {
	sc.companyEnd = math.MaxInt
	for i, c := range sc.company {
		if at := sc.companyAt[i]; at < from {
			sc.companyAt[i] = math.MaxInt
			if j := bytes.Index(sc.src[from:], c); j >= 0 {
				sc.companyAt[i] = from + j
			}
		}
		if at := sc.companyAt[i]; at != math.MaxInt {
			sc.companyEnd = min(sc.companyEnd, at+len(c))
		}
	}
}

// containsAny reports whether text holds any of needles.
func containsAny(text []byte, needles [][]byte) bool {
	for _, c := range needles {
		if bytes.Contains(text, c) {
			return true
		}
	}
	return false
}
