package rewrite

import (
	"bytes"
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
	eofOK     bool
	hasNotice bool
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

// scan tokenizes src[from:] once: it records every token, asks editTag for
// each start tag's edits and rewrites inline style sheets, and notes the
// facts placement needs.
func (r *Rewriter) scan(src []byte, from int, prefix string) *scanResult {
	s := &scanResult{lastFooter: -1, lastBodyEnd: -1, bodyOpen: -1}
	s.toks = make([]token, 0, len(src)/32)
	u := &urlRewriter{hosts: r.hosts, prefix: prefix, loc: r.loc, out: &s.edits}
	z := html.NewTokenizer(bytes.NewReader(src[from:]))
	off := from
	var (
		inRaw       atom.Atom // raw-text element whose content we are in
		rawName     []byte
		fs          []fnode // open elements since the outermost <svg>/<math>
		tmpl        int     // <template> depth
		tables      int
		selects     int
		scopes      int // object, applet, marquee
		inHead      = true
		miit        bool // inside <a href=MIIT>
		miitText    []byte
		attrs       []attr
		lastComment bool // last token is an unterminated comment
		afterBody   bool // a </body> was seen and nothing has reopened the body
		// strip is the edit removing the start tag of the raw-text
		// element we are in, to be run through its end tag; -1 if none.
		strip = -1
	)
	risky := func() bool { return tables > 0 || selects > 0 || scopes > 0 || tmpl > 0 }
	for {
		z.AllowCDATA(len(fs) > 0 && fs[len(fs)-1].ns != 'h')
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		n := len(z.Raw())
		t := token{start: off, end: off + n, typ: tt, template: tmpl > 0}
		off += n
		raw := src[t.start:t.end]
		lastComment = false
		switch tt {
		case html.TextToken:
			if inRaw != 0 {
				t.inRaw = true
				if inRaw == atom.Style && u.active() {
					u.css(raw, t.start)
				}
				break
			}
			t.foreign = len(fs) > 0 && fs[len(fs)-1].ns != 'h' && !fs[len(fs)-1].integ
			if miit && len(miitText) < 1024 {
				miitText = append(miitText, z.Text()...)
			}
			if len(bytes.TrimLeft(raw, " \t\n\r\f")) > 0 && tmpl == 0 && !t.foreign {
				if s.bodyOpen < 0 {
					s.bodyOpen = len(s.toks)
				}
				inHead, afterBody = false, false
			}
		case html.CommentToken, html.DoctypeToken:
			lastComment = !terminated(raw)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			t.name = atom.Lookup(name)
			selfClosing := tt == html.SelfClosingTagToken
			st := startTag{raw: raw, base: t.start, name: name}
			attrs = lexAttrs(raw, attrs[:0])
			st.attrs = attrs

			// SVG and MathML, after HTML "tree construction dispatcher".
			foreign := false
			if len(fs) > 0 {
				top := fs[len(fs)-1]
				foreign = top.ns != 'h' &&
					!(top.integ && !top.text) &&
					!(top.text && t.name != atom.Mglyph && t.name != atom.Malignmark) &&
					!(top.axml && t.name == atom.Svg)
				if foreign && (breakout[t.name] || t.name == atom.Font && fontBreaks(&st)) {
					for len(fs) > 0 && fs[len(fs)-1].ns != 'h' && !fs[len(fs)-1].integ {
						fs = fs[:len(fs)-1]
					}
					foreign = false
				}
			}
			t.foreign = foreign
			through := editTag(&st, u, !foreign)
			if foreign {
				z.NextIsNotRawText()
				if !selfClosing {
					f := fnode{name: append([]byte(nil), name...), ns: fs[len(fs)-1].ns}
					f.integ, f.text, f.axml = integration(f.ns, name, &st)
					fs = append(fs, f)
				}
				break
			}
			switch {
			case t.name == atom.Svg || t.name == atom.Math:
				if !selfClosing {
					ns := byte('s')
					if t.name == atom.Math {
						ns = 'm'
					}
					fs = append(fs, fnode{name: append([]byte(nil), name...), ns: ns})
				}
			case rawText[t.name]:
				inRaw, rawName = t.name, append(rawName[:0], name...)
				if through {
					strip = len(s.edits) - 1
				}
			case len(fs) > 0 && !voidElements[t.name]:
				fs = append(fs, fnode{name: append([]byte(nil), name...), ns: 'h'})
			}
			// Our own block counts even inside a <template>: a page cut
			// off in an open template with a construct at the end that
			// would swallow an appended block gets it inside the template,
			// and must not get a second one when it comes through again.
			if id, ok := st.get("id"); ok && string(id) == NoticeID {
				s.hasNotice = true
			}
			if t.template {
				if t.name == atom.Template {
					tmpl++
				}
				break
			}
			if !headElements[t.name] {
				inHead, afterBody = false, false
			}
			if s.bodyOpen < 0 && !headElements[t.name] {
				s.bodyOpen = len(s.toks)
			}
			switch t.name {
			case atom.Template:
				tmpl++
			case atom.Table:
				tables++
			case atom.Select:
				selects++
			case atom.Object, atom.Applet, atom.Marquee:
				scopes++
			case atom.Frameset:
				s.complex = true
			case atom.Footer:
				if len(fs) == 0 {
					s.lastFooter = len(s.toks)
					if risky() {
						s.complex = true
					}
				}
			case atom.Meta:
				if inHead && s.meta == "" {
					// A label that names no encoding changes nothing,
					// and a later <meta> may still (HTML "in head").
					if l := metaCharset(&st); l != "" {
						if _, ok := lookupCharset(l); ok {
							s.meta = l
						}
					}
				}
			case atom.A:
				if miit {
					s.hasNotice = s.hasNotice || bytes.Contains(miitText, r.icpKey)
				}
				href, _ := st.get("href")
				miit, miitText = miitLink(href), miitText[:0]
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			t.name = atom.Lookup(name)
			if inRaw != 0 {
				// The tokenizer only ends raw text at the matching end tag.
				t.inRaw = true
				inRaw = 0
				if strip >= 0 {
					s.edits[strip].end = t.end
					strip = -1
				}
				break
			}
			if len(fs) > 0 {
				t.foreign = fs[len(fs)-1].ns != 'h'
				var sure bool
				fs, sure = popForeign(fs, name)
				if !sure {
					s.complex = true
				}
			}
			if t.template && !(t.name == atom.Template && tmpl == 1) {
				if t.name == atom.Template {
					tmpl--
				}
				break
			}
			switch t.name {
			case atom.Template:
				if tmpl > 0 {
					tmpl--
				}
			case atom.Table:
				tables = max(tables-1, 0)
			case atom.Select:
				selects = max(selects-1, 0)
			case atom.Object, atom.Applet, atom.Marquee:
				scopes = max(scopes-1, 0)
			case atom.Body, atom.Html:
				// In the body, </html> acts as </body> (HTML "in body"); after
				// it, both only move on to the next insertion mode.
				if !afterBody {
					s.lastBodyEnd = len(s.toks)
					s.riskyAtBodyEnd = risky()
				}
				afterBody = true
			case atom.A:
				if miit {
					s.hasNotice = s.hasNotice || bytes.Contains(miitText, r.icpKey)
					miit = false
				}
			}
		}
		s.toks = append(s.toks, t)
	}
	_ = rawName
	if strip >= 0 {
		// Cut short inside the element: its content runs to the end.
		s.edits[strip].end = len(src)
	}
	if miit {
		s.hasNotice = s.hasNotice || bytes.Contains(miitText, r.icpKey)
	}
	s.eof = off
	// A text token ending the document may end in a construct cut short
	// ("</", "<!", "<a") that an appended block would complete.
	lastText := len(s.toks) > 0 && s.toks[len(s.toks)-1].typ == html.TextToken &&
		bytes.IndexByte(src[s.toks[len(s.toks)-1].start:s.toks[len(s.toks)-1].end], '<') >= 0
	s.eofOK = inRaw == 0 && !lastComment && !lastText
	s.riskyAtEOF = risky()
	if selects > 0 {
		s.eofClose = "</select>"
	}
	s.eofClose += strings.Repeat("</template>", tmpl)
	return s
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
