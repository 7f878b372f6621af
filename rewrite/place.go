package rewrite

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

func (r *Rewriter) html(src []byte, contentType string, edge Edge, forceDOM bool) (Result, error) {
	pass := func(why string) (Result, error) {
		return Result{Body: src, ContentType: contentType, Skipped: why}, nil
	}
	pc, ok := sniffTransport(src, contentType)
	if !ok {
		pc, ok = prescan(src)
	}
	how := placement{prefix: edgePrefix(edge), forceDOM: forceDOM, blocks: &r.blocks, buffer: r.opts.Buffer}
	if ok && isUTF16(pc.name) {
		return r.htmlUTF16(src, contentType, pc, how), nil
	}
	if ok {
		if why := unsafeCharset(pc.name); why != "" {
			return pass(why)
		}
	}
	known := ""
	if ok {
		known = pc.name
	}
	s := r.scan(src, pc.bom, how.prefix, known)
	if !ok {
		pc = afterScan(s.meta)
		if why := unsafeCharset(pc.name); why != "" {
			return pass(why)
		}
	}
	out := r.edit(src, s, pc, how)
	r.release(s)
	return Result{Body: out, ContentType: pageContentType(contentType, pc), Hints: s.hints, Base: s.base}, nil
}

// placement is how one document is rewritten: the edge's prefix for URLs
// (edgePrefix), the notice blocks in the document's own form (ASCII or
// UTF-8), forceDOM, which places the notice through the DOM even where
// the tokens would do (for tests and benchmarks), and the buffer the
// result is written into (Options.Buffer).
type placement struct {
	prefix   string
	blocks   *[8]string
	forceDOM bool
	buffer   func(n int) []byte
}

// pageContentType is the Content-Type to send with a page in pc: a
// declared charset is spelled out, so that no browser re-guesses it from
// bytes that have moved; an undeclared page keeps the origin's header,
// since the edge's default is no better than the browser's.
func pageContentType(contentType string, pc pageCharset) string {
	switch {
	case pc.declared && !pc.fromType:
		return withCharset(contentType, pc.name)
	case contentType == "":
		return "text/html"
	}
	return contentType
}

// edit applies the scan's edits to src and places the block of
// how.blocks for what the page lacks of the notice.
func (r *Rewriter) edit(src []byte, s *scanResult, pc pageCharset, how placement) []byte {
	edits := s.edits
	// A page that shows the number already gets only what it lacks of
	// the rest; one that shows everything, or carries icpedge's own
	// block, gets nothing.
	if block := how.blocks[s.shown.missing()]; !s.hasNotice && block != "" {
		pos := -1
		if !how.forceDOM {
			pos = r.cheapPlace(src, s)
		}
		if pos < 0 {
			pos = r.domPlace(src, s, pc)
		}
		if pos == s.eof {
			block = s.eofClose + block
		}
		i, _ := slices.BinarySearchFunc(edits, pos, func(e edit, p int) int { return e.start - p })
		edits = slices.Insert(edits, i, edit{pos, pos, block})
	}
	return spliceInto(how.buffer, src, edits)
}

// bufferOf returns an empty buffer of at least n bytes' capacity from
// buffer, or a new one when buffer is nil or gives too little.
func bufferOf(buffer func(n int) []byte, n int) []byte {
	var b []byte
	if buffer != nil {
		b = buffer(n)[:0]
	}
	if cap(b) < n {
		b = make([]byte, 0, n)
	}
	return b
}

// splice applies sorted, non-overlapping edits to src.
func splice(src []byte, edits []edit) []byte { return spliceInto(nil, src, edits) }

// spliceInto is splice into a buffer from buffer (nil: a new one).
func spliceInto(buffer func(int) []byte, src []byte, edits []edit) []byte {
	grow := 0
	for _, e := range edits {
		grow += len(e.repl) - (e.end - e.start)
	}
	out := bufferOf(buffer, len(src)+max(grow, 0))
	at := 0
	for _, e := range edits {
		out = append(out, src[at:e.start]...)
		out = append(out, e.repl...)
		at = e.end
	}
	return append(out, src[at:]...)
}

// Start tags after which the cheap placement no longer trusts its simple
// model of the open elements (tables, forms, scope boundaries, adoption
// agency cases); the DOM decides then.
var cheapBail = map[atom.Atom]bool{
	atom.Html: true, atom.Head: true, atom.Body: true, atom.Frameset: true, atom.Frame: true,
	atom.Template: true, atom.Table: true, atom.Caption: true, atom.Colgroup: true,
	atom.Col: true, atom.Tbody: true, atom.Thead: true, atom.Tfoot: true, atom.Tr: true,
	atom.Td: true, atom.Th: true, atom.Select: true, atom.Option: true, atom.Optgroup: true,
	atom.Form: true, atom.Button: true, atom.Nobr: true, atom.Marquee: true,
	atom.Applet: true, atom.Object: true, atom.Image: true, atom.Footer: true,
}

// optionalEnd elements are closed implicitly by their parent's end tag.
var optionalEnd = map[atom.Atom]bool{
	atom.P: true, atom.Li: true, atom.Dd: true, atom.Dt: true, atom.Rb: true,
	atom.Rp: true, atom.Rt: true, atom.Rtc: true,
}

// cheapPlace finds the insertion point from the tokens alone for ordinary
// markup, and returns -1 when only the DOM can tell. For every document
// where it answers, it answers what domPlace would (FuzzHTML checks this).
func (r *Rewriter) cheapPlace(src []byte, s *scanResult) int {
	if r.selector != nil && (r.selectorNeedle == "" || bytes.Contains(src, []byte(r.selectorNeedle))) {
		return -1
	}
	if s.complex {
		return -1
	}
	if f := s.lastFooter; f >= 0 {
		// Right after </footer>: the footer's next sibling, so that a
		// footer laid out as a flex or grid row cannot make the notice
		// one of its items.
		if k := footerEnd(s.toks, f); k >= 0 {
			return s.toks[k].end
		}
		return -1
	}
	if s.bodyOpen < 0 {
		return -1
	}
	if b := s.lastBodyEnd; b >= 0 {
		if b < s.bodyOpen || s.riskyAtBodyEnd {
			return -1
		}
		for _, t := range s.toks[b+1:] {
			switch t.typ {
			case html.CommentToken, html.DoctypeToken:
			case html.TextToken:
				if skipSpace(src[t.start:t.end], 0) < t.end-t.start {
					return -1
				}
			case html.EndTagToken:
				if t.name != atom.Body && t.name != atom.Html {
					return -1
				}
			default:
				return -1
			}
		}
		return s.toks[b].start
	}
	if s.eofOK && !s.riskyAtEOF {
		return s.eof
	}
	return -1
}

// footerEnd returns the index of the </footer> that closes the <footer> at
// token f, when everything between nests plainly; -1 otherwise.
func footerEnd(toks []token, f int) int {
	var open []atom.Atom
	for k := f + 1; k < len(toks); k++ {
		t := toks[k]
		if t.inRaw || t.foreign {
			continue
		}
		switch t.typ {
		case html.StartTagToken, html.SelfClosingTagToken:
			switch {
			case t.name == 0 || cheapBail[t.name]:
				return -1
			case t.name == atom.A && slices.Contains(open, atom.A):
				return -1
			case voidElements[t.name] || rawText[t.name] || t.name == atom.Svg || t.name == atom.Math:
			default:
				open = append(open, t.name)
			}
		case html.EndTagToken:
			if t.name == 0 {
				return -1
			}
			i := len(open) - 1
			for i >= 0 && open[i] != t.name && optionalEnd[open[i]] {
				i--
			}
			switch {
			case i >= 0 && open[i] == t.name:
				open = open[:i]
			case t.name == atom.Footer && i < 0:
				return k
			case t.name == atom.P || t.name == atom.Br:
				// No effect on the open elements (a stray </p> makes an
				// empty paragraph).
			default:
				return -1
			}
		}
	}
	return -1
}

const markerPrefix = "icpedge:"

// domPlace decides with the DOM. It parses a copy of the page with a marker
// comment before every token (and at the end) where markup may be inserted;
// a comment lands in whatever element is open at that point. The last
// marker inside an element is the token that closes it, so a block put
// before that token becomes the element's last child; a marker that is an
// element's next sibling is where a block becomes its next sibling.
func (r *Rewriter) domPlace(src []byte, s *scanResult, pc pageCharset) int {
	var b bytes.Buffer
	b.Grow(len(src) + len(s.toks)*16)
	mark := func(k int) {
		b.WriteString("<!--" + markerPrefix)
		b.WriteString(strconv.Itoa(k))
		b.WriteString("-->")
	}
	for k, t := range s.toks {
		if !t.inRaw {
			mark(k)
		}
		b.Write(src[t.start:t.end])
	}
	if s.eofOK {
		mark(len(s.toks))
	}
	b.Write(src[s.eof:])
	in := b.Bytes()
	if pc.name != "utf-8" && pc.enc != nil {
		if dec, err := pc.enc.NewDecoder().Bytes(in); err == nil {
			in = dec
		}
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(in))
	if err != nil {
		return r.fallback(s)
	}
	at := func(k int) int {
		if k == len(s.toks) {
			return s.eof
		}
		return s.toks[k].start
	}
	if r.selector != nil {
		for _, n := range doc.FindMatcher(r.selector).Nodes {
			if inDocument(n) {
				if k := lastMarker(n); k >= 0 {
					return at(k)
				}
				break
			}
		}
	}
	footers := doc.Find("footer").Nodes
	for i := len(footers) - 1; i >= 0; i-- {
		if !inDocument(footers[i]) {
			continue
		}
		// After the footer; where the markup gives it no next sibling
		// (it is closed only by its parent's end tag, or fostered out of
		// a table), at its end instead.
		k := markerOf(footers[i].NextSibling)
		if k < 0 {
			k = lastMarker(footers[i])
		}
		if k >= 0 {
			return at(k)
		}
		break
	}
	for _, n := range doc.Find("body").Nodes {
		if k := lastMarker(n); k >= 0 {
			return at(k)
		}
	}
	return r.fallback(s)
}

// fallback is the end of the document, or before a trailing unterminated
// comment or raw-text element that would swallow the block.
func (r *Rewriter) fallback(s *scanResult) int {
	if s.eofOK {
		return s.eof
	}
	for k := len(s.toks) - 1; k >= 0; k-- {
		if !s.toks[k].inRaw {
			return s.toks[k].start
		}
	}
	return s.eof
}

// inDocument reports whether n is a rendered HTML element: not inside a
// <template>'s contents and not SVG or MathML.
func inDocument(n *html.Node) bool {
	for p := n; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && (p.Namespace != "" || p != n && p.DataAtom == atom.Template) {
			return false
		}
	}
	return true
}

// markerOf returns the number of the marker comment n, or -1 if n is not
// one.
func markerOf(n *html.Node) int {
	if n == nil || n.Type != html.CommentNode || !strings.HasPrefix(n.Data, markerPrefix) {
		return -1
	}
	k, err := strconv.Atoi(n.Data[len(markerPrefix):])
	if err != nil {
		return -1
	}
	return k
}

// lastMarker returns the highest marker number among x's descendants,
// not looking into <template> contents; -1 if none.
func lastMarker(x *html.Node) int {
	best := -1
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch {
			case c.Type == html.CommentNode:
				best = max(best, markerOf(c))
			case c.Type == html.ElementNode && c.DataAtom == atom.Template && c.Namespace == "":
			default:
				walk(c)
			}
		}
	}
	walk(x)
	return best
}
