package rewrite

import (
	"bytes"
	"io"

	"golang.org/x/net/html/atom"
)

const (
	// maxCarry bounds the bytes held for a tag or comment that straddles
	// writes; a longer one is passed through as it is.
	maxCarry = 64 << 10
	// maxHold bounds the bytes held back after the last </body> seen; past
	// it the notice is written there and the rest streams.
	maxHold = 1 << 20
)

// stream is the constant-memory rewriter behind Rewriter.Stream. It lexes
// tags itself (the buffered lexer needs the whole page, we are pushed to
// a piece at a time), finding their ends with the lexer's tagEnd and
// rawEndTag, with the same per-tag hook as HTML, but places the notice
// only before the last </body>.
type stream struct {
	r        *Rewriter
	dst      io.Writer
	ct       string
	prefix   string
	buf      []byte // bytes not yet lexed
	hold     []byte // from the last </body> on, not yet written
	holding  bool
	rawName  string // "script" while in raw text, else ""
	comment  bool   // inside <!-- ... -->
	started  bool   // charset sniffed
	pass     bool   // pass everything through untouched
	done     bool   // notice written, or icpedge's own block found
	shown    shown  // what the page shows of the notice by itself
	link     byte   // inside a MIIT ('m') or police ('p') link; see linkKind
	linkText []byte
	// textTail is the end of the text run so far, kept so that a
	// company name split between two writes is still found; markup
	// empties it.
	textTail []byte
	// drop is set while the content and end tag of a stripped or
	// replaced raw-text element (script, iframe) are being dropped.
	drop bool
	// scriptPrev is the byte before what is left of an inline script's
	// text, for the next piece of it (0 at its start).
	scriptPrev byte
	// foreign counts the <svg> and <math> elements open, roughly (the
	// tags that end them early end them all); localize leaves their
	// contents alone, as HTML does.
	foreign int
	edits   []edit
	attrs   []attr
	keys    []int // tagEnd's scratch
	err     error
	closed  bool
	// blocks are the blocks written, by what the page lacks: the ASCII
	// forms, or the UTF-8 ones for the UTF-8 form of a UTF-16 page.
	blocks *[8]string
	// u16 rewrites a UTF-16 document; the fields above then serve its
	// UTF-8 form inside it.
	u16 *stream16
	// wait is the buffer length to reach before lexing again: a long
	// unfinished tag or style sheet is only re-examined once the buffer
	// has doubled, so small writes cost linear, not quadratic, time.
	wait int
}

func newStream(r *Rewriter, dst io.Writer, contentType string, edge Edge) *stream {
	return &stream{r: r, dst: dst, ct: contentType, prefix: edgePrefix(edge), blocks: &r.blocks}
}

func (s *stream) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, io.ErrClosedPipe
	}
	if s.u16 != nil {
		return s.u16.Write(p)
	}
	s.buf = append(s.buf, p...)
	if !s.started && len(s.buf) < 6 || len(s.buf) < s.wait {
		return len(p), nil
	}
	s.lex(false)
	return len(p), s.err
}

// Close flushes the tail and the notice. It does not close dst.
func (s *stream) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	s.lex(true)
	if s.u16 != nil {
		s.err = s.u16.Close()
		return s.err
	}
	if !s.drop {
		s.emit(s.buf)
	}
	s.buf = nil
	if !s.pass && !s.done {
		s.writeNotice()
	}
	if s.holding {
		s.write(s.hold)
		s.hold, s.holding = nil, false
	}
	return s.err
}

// writeNotice writes the block for what the page lacks, as far as it has
// been read.
func (s *stream) writeNotice() {
	s.r.endLink(&s.shown, s.link, s.linkText)
	s.write([]byte(s.blocks[s.shown.missing()]))
	s.done = true
}

func (s *stream) write(b []byte) {
	if s.err == nil && len(b) > 0 {
		_, s.err = s.dst.Write(b)
	}
}

// emit sends lexed bytes on, into the hold while one is open.
func (s *stream) emit(b []byte) {
	if !s.holding {
		s.write(b)
		return
	}
	s.hold = append(s.hold, b...)
	if len(s.hold) > maxHold {
		if !s.done {
			s.writeNotice()
		}
		s.write(s.hold)
		s.hold, s.holding = nil, false
	}
}

// bodyEnd is called before a </body> tag is emitted.
func (s *stream) bodyEnd() {
	if s.done {
		return
	}
	if s.holding {
		s.write(s.hold)
	}
	s.hold, s.holding = s.hold[:0], true
}

func (s *stream) lex(final bool) {
	if !s.started {
		s.started = true
		pc, ok := sniffTransport(s.buf, s.ct)
		if !ok {
			// Of the prescan, only a UTF-16 XML declaration matters
			// here: the block is ASCII in every other encoding.
			pc, ok = prescan(s.buf[:min(len(s.buf), 6)])
			ok = ok && isUTF16(pc.name)
		}
		switch {
		case ok && isUTF16(pc.name):
			s.u16 = s.newStream16(utf16BigEndian(pc.name), s.buf[:pc.bom])
			buf := s.buf[pc.bom:]
			s.buf = nil
			if _, err := s.u16.Write(buf); err != nil {
				s.err = err
			}
			return
		case ok && unsafeCharset(pc.name) != "":
			s.pass = true
		}
	}
	if s.pass {
		s.write(s.buf)
		s.buf = s.buf[:0]
		return
	}
	b := s.buf
	i := 0
	for i < len(b) && s.err == nil {
		switch {
		case s.comment:
			j := bytes.Index(b[i:], []byte("-->"))
			if j < 0 {
				keep := max(i, len(b)-2)
				s.emit(b[i:keep])
				i = keep
				goto out
			}
			s.emit(b[i : i+j+3])
			i += j + 3
			s.comment = false
			continue
		case s.rawName != "":
			j := -1 // nothing ends PLAINTEXT
			if s.rawName != "plaintext" {
				j = rawEndTag(b[i:], s.rawName)
			}
			endLen := len("</") + len(s.rawName)
			style := s.rawName == "style"
			if s.rawName == "script" {
				// A script goes out as its URLs are decided; one that
				// may continue in the next write waits for it.
				switch {
				case j >= 0 && (i+j+endLen < len(b) || final):
					s.script(b[i:i+j], true)
					i += j
					s.rawName = ""
					continue
				case final:
					s.script(b[i:], true)
					i = len(b)
				default:
					keep := len(b) - endLen
					if j >= 0 {
						keep = i + j
					}
					i += s.script(b[i:max(i, keep)], false)
				}
				goto out
			}
			if j < 0 || i+j+endLen >= len(b) && !final {
				if style && len(b)-i <= maxCarry && !final {
					// Keep a style sheet whole (up to maxCarry) so that
					// no url() is cut in two.
					goto out
				}
				keep := max(i, len(b)-endLen)
				if j >= 0 {
					keep = i + j
				}
				s.raw(b[i:keep], style)
				i = keep
				goto out
			}
			s.raw(b[i:i+j], style)
			i += j
			s.rawName = ""
			continue
		}
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			s.text(b[i:])
			i = len(b)
			break
		}
		s.text(b[i : i+lt])
		i += lt
		n := s.markup(b[i:], final)
		if n < 0 {
			if len(b)-i > maxCarry || final {
				s.emit(b[i : i+1])
				i++
				continue
			}
			break
		}
		i += n
	}
out:
	s.buf = append(s.buf[:0], b[i:]...)
	s.wait = 0
	if len(s.buf) > 512 {
		s.wait = 2 * len(s.buf)
	}
}

// script emits what is decided of a piece of an inline script, with its
// URLs on the edge, and returns its length: all of b when final (the
// script ends there), else up to where a URL may still continue.
func (s *stream) script(b []byte, final bool) int {
	if s.drop {
		return len(b)
	}
	s.edits = s.edits[:0]
	u := urlRewriter{hosts: s.r.hosts, prefix: s.prefix, out: &s.edits}
	done := u.script(b, 0, s.scriptPrev, final)
	if done > 0 {
		s.scriptPrev = b[done-1]
	}
	if len(s.edits) == 0 {
		s.emit(b[:done])
	} else {
		s.emit(splice(b[:done], s.edits))
	}
	return done
}

// raw emits raw text, rewriting URLs in a style sheet.
func (s *stream) raw(b []byte, style bool) {
	if s.drop {
		return
	}
	u := urlRewriter{hosts: s.r.hosts, prefix: s.prefix, loc: s.r.loc, out: &s.edits}
	if !style || !u.active() {
		s.emit(b)
		return
	}
	s.edits = s.edits[:0]
	u.css(b, 0)
	if len(s.edits) == 0 {
		s.emit(b)
		return
	}
	s.emit(splice(b, s.edits))
}

func (s *stream) text(b []byte) {
	if s.link != 0 && len(s.linkText) < 1024 {
		s.linkText = append(s.linkText, b...)
	}
	if !s.shown.company && len(s.r.company) > 0 && len(b) > 0 {
		hay := append(s.textTail, b...)
		s.shown.company = containsAny(hay, s.r.company)
		longest := 0
		for _, c := range s.r.company {
			longest = max(longest, len(c))
		}
		s.textTail = append(s.textTail[:0], hay[max(0, len(hay)-longest+1):]...)
	}
	s.emit(b)
}

// markup handles the construct starting with '<' at b[0] and returns its
// length, or -1 if it is not complete yet.
func (s *stream) markup(b []byte, final bool) int {
	if len(b) < 2 {
		if final {
			s.emit(b)
			return len(b)
		}
		return -1
	}
	c := b[1]
	if c == '!' || c == '?' || c == '/' || isLetter(c) {
		// Markup ends the text run: the company name counts as shown
		// only within one, as HTML finds it in one text token.
		s.textTail = s.textTail[:0]
	}
	switch {
	case c == '!' && bytes.HasPrefix(b, []byte("<!--")):
		s.emit(b[:4])
		s.comment = true
		return 4
	case c == '!' || c == '?' || c == '/' && len(b) > 2 && !isLetter(b[2]):
		j := bytes.IndexByte(b, '>')
		if j < 0 {
			return -1
		}
		s.emit(b[:j+1])
		return j + 1
	case c == '/':
		if len(b) < 3 {
			return -1
		}
		// An end tag ends as a start tag does, quoted '>' and all.
		j, _ := tagEnd(b, 2, &s.keys)
		if j < 0 {
			return -1
		}
		name := tagName(b[2:])
		if s.drop {
			// The end tag of the dropped element: raw text ends only there.
			s.drop = false
			return j
		}
		if eqFold(name, "body") {
			s.bodyEnd()
		}
		if s.foreign > 0 && (eqFold(name, "svg") || eqFold(name, "math")) {
			s.foreign--
		}
		if eqFold(name, "a") {
			s.endLink()
		}
		s.emit(b[:j])
		return j
	case isLetter(c):
		j, _ := tagEnd(b, 1, &s.keys)
		if j < 0 {
			return -1
		}
		s.startTag(b[:j])
		return j
	}
	s.emit(b[:1])
	return 1
}

func (s *stream) endLink() {
	s.r.endLink(&s.shown, s.link, s.linkText)
	s.link, s.linkText = 0, s.linkText[:0]
}

func (s *stream) startTag(raw []byte) {
	name := bytes.ToLower(tagName(raw[1:]))
	t := startTag{raw: raw, name: name}
	s.attrs = lexAttrs(raw, s.attrs[:0])
	t.attrs = s.attrs
	s.edits = s.edits[:0]
	if s.foreign > 0 && breakout[atom.Lookup(name)] {
		s.foreign = 0
	}
	u := urlRewriter{hosts: s.r.hosts, prefix: s.prefix, loc: s.r.loc, out: &s.edits}
	s.drop = editTag(&t, &u, s.foreign == 0)
	if (string(name) == "svg" || string(name) == "math") && !bytes.HasSuffix(raw, []byte("/>")) {
		s.foreign++
	}
	if string(name) == "a" {
		s.endLink()
		href, _ := t.get("href")
		s.link = s.r.linkKind(href)
	}
	if id, ok := t.get("id"); ok && string(id) == NoticeID {
		s.done = true
	}
	if len(s.edits) > 0 {
		s.emit(splice(raw, s.edits))
	} else {
		s.emit(raw)
	}
	for _, raw := range rawTextNames {
		if string(name) == raw {
			s.rawName, s.scriptPrev = raw, 0
		}
	}
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isTagEnd(c byte) bool { return isSpace(c) || c == '/' || c == '>' }

func tagName(b []byte) []byte {
	i := 0
	for i < len(b) && !isTagEnd(b[i]) {
		i++
	}
	return b[:i]
}
