package rewrite

import (
	"bytes"

	"golang.org/x/net/html"
)

// lexer splits a document held in memory into the tokens that
// golang.org/x/net/html's Tokenizer (v0.62) yields for it, with the same
// types and the same raw boundaries, quirks included. The tokenizer reads
// through an io.Reader into a buffer of its own, byte by byte, and
// allocates for every attribute name; on a page it was two thirds of the
// scan. The lexer reads the bytes in place and allocates nothing per token.
//
// It follows the WHATWG HTML tokenizer (HTML Living Standard §13.2.5)
// where the tokenizer does, and the tokenizer where the two part (noted
// below): what the scan must agree with is the tokenizer, whose tokens the
// DOM path and the tests read. lexer_test.go and FuzzLexerMatchesTokenizer
// hold the two to that.
type lexer struct {
	src []byte
	// pos is the next byte to read: len(src) once the input is used up,
	// or once a tag is cut off by its end (the tokenizer drops such a
	// tag and stops).
	pos int
	// rawTag is the lower-case name of the raw-text element whose content
	// the next token is, "" if none; see NextIsNotRawText.
	rawTag string
	cdata  bool // see AllowCDATA

	// The current token.
	tt         html.TokenType
	start, end int // its raw bytes
	// ds and de span a text token's data: its raw bytes but for a CDATA
	// section, whose data is what is between "<![CDATA[" and "]]>".
	ds, de int
	// textIsRaw is set for text that is not unescaped (script, style and
	// other raw text); convertNUL for text whose NUL bytes become U+FFFD
	// (raw text and CDATA).
	textIsRaw, convertNUL bool

	buf  []byte // Text's scratch
	keys []int  // the current tag's attribute names, start and end offsets
}

// AllowCDATA says whether "<![CDATA[" starts a CDATA section (§13.2.5.42:
// only in foreign content) rather than a bogus comment, as
// html.Tokenizer.AllowCDATA does.
func (l *lexer) AllowCDATA(allow bool) { l.cdata = allow }

// NextIsNotRawText says the start tag just read opens no raw-text element
// (an SVG <title>, say), as html.Tokenizer.NextIsNotRawText does.
func (l *lexer) NextIsNotRawText() { l.rawTag = "" }

// Raw returns the current token's bytes, a slice of the document.
func (l *lexer) Raw() []byte { return l.src[l.start:l.end] }

// Next reads the next token and returns its type: html.ErrorToken at the
// end of the input, or where a tag is cut off by it.
func (l *lexer) Next() html.TokenType {
	l.start, l.end = l.pos, l.pos
	l.ds, l.de = l.pos, l.pos
	l.textIsRaw, l.convertNUL = false, false
	if l.pos >= len(l.src) {
		return l.token(html.ErrorToken, l.pos)
	}
	if l.rawTag != "" {
		if end := l.rawEnd(); end > l.pos {
			// §13.2.5.2-5: RCDATA (title, textarea) is unescaped, RAWTEXT,
			// script data and PLAINTEXT are not; NUL becomes U+FFFD in all.
			l.textIsRaw = l.rawTag != "title" && l.rawTag != "textarea"
			l.convertNUL = true
			l.rawTag = ""
			return l.textToken(end, l.pos, end)
		}
		// Empty content: the end tag follows, read as any tag.
		l.rawTag = ""
	}
	src := l.src
	// §13.2.5.1 data state: text runs to a '<' that starts markup.
	for i := l.pos; ; {
		j := bytes.IndexByte(src[i:], '<')
		if j < 0 || i+j+1 >= len(src) {
			// A lone '<' at the very end is text too.
			return l.textToken(len(src), l.pos, len(src))
		}
		i += j
		c := src[i+1]
		if !isLetter(c) && c != '/' && c != '!' && c != '?' {
			i++
			continue
		}
		if i > l.pos {
			return l.textToken(i, l.pos, i)
		}
		break
	}
	i := l.pos
	switch c := src[i+1]; {
	case isLetter(c):
		return l.startTag()
	case c == '/':
		// §13.2.5.7 end tag open.
		switch {
		case i+2 >= len(src):
			// "</" at the end is text (§13.2.5.7 "EOF").
			return l.textToken(len(src), i, len(src))
		case src[i+2] == '>':
			// "</>" is no token in HTML; the tokenizer gives it as an
			// empty comment so that its bytes are not lost.
			return l.token(html.CommentToken, i+3)
		case isLetter(src[i+2]):
			end, _ := tagEnd(src, i+2, &l.keys)
			if end < 0 {
				return l.token(html.ErrorToken, len(src))
			}
			return l.token(html.EndTagToken, end)
		}
		// "</ x>", "</1>": a bogus comment (§13.2.5.41) to the next '>'.
		return l.token(html.CommentToken, closeAngle(src, i+2))
	case c == '?':
		// "<?xml ...>" (§13.2.5.6: a bogus comment).
		return l.token(html.CommentToken, closeAngle(src, i+2))
	}
	return l.markupDecl()
}

// token makes the current token one of type tt, ending at end.
func (l *lexer) token(tt html.TokenType, end int) html.TokenType {
	l.tt, l.end, l.pos = tt, end, end
	return tt
}

// textToken makes the current token a text token ending at end, with data
// src[ds:de].
func (l *lexer) textToken(end, ds, de int) html.TokenType {
	l.ds, l.de = ds, de
	return l.token(html.TextToken, end)
}

// startTag reads a start tag at l.pos, "<" and a letter; §13.2.5.6-8 and
// §13.2.5.32-40.
func (l *lexer) startTag() html.TokenType {
	src := l.src
	end, selfClosing := tagEnd(src, l.pos+1, &l.keys)
	if end < 0 {
		// The tokenizer drops a tag cut off by the end of the input, and
		// stops there (HTML too: §13.2.5.8 "EOF").
		return l.token(html.ErrorToken, len(src))
	}
	// The elements whose content the tokenizer reads as raw text, as
	// HTML's tree construction does with scripting enabled (§13.2.6.4.4,
	// §13.2.6.4.7). The parser, or the scan, calls NextIsNotRawText where
	// the element is foreign.
	name := tagName(src[l.pos+1 : end])
	l.rawTag = ""
	for _, raw := range rawTextNames {
		if eqFold(name, raw) {
			l.rawTag = raw
			break
		}
	}
	if selfClosing {
		return l.token(html.SelfClosingTagToken, end)
	}
	return l.token(html.StartTagToken, end)
}

// rawTextNames are the elements of html.Tokenizer's raw text; the scan's
// rawText map holds the same.
var rawTextNames = [...]string{"iframe", "noembed", "noframes", "noscript", "plaintext",
	"script", "style", "textarea", "title", "xmp"}

// tagEnd reads the rest of a tag whose name starts at src[i], a letter,
// and returns the offset just past its '>', or -1 if src ends first. It
// reports whether the tokenizer calls the tag self-closing; keys is
// scratch space for the attribute names. The streaming rewriter finds its
// tags' ends with it too.
//
// The states are HTML's (§13.2.5.8 tag name through §13.2.5.40
// self-closing start tag), with the tokenizer's readings: a '/' ends an
// attribute name, then is skipped like white space; a value is quoted only
// if a quote is its first character.
func tagEnd(src []byte, i int, keys *[]int) (end int, selfClosing bool) {
	n := len(src)
	// §13.2.5.8 tag name state: the name runs to white space, '/' or '>'.
	i++
	for i < n && !isTagEnd(src[i]) {
		i++
	}
	if i < n && isSpace(src[i]) {
		i++
	}
	*keys = (*keys)[:0]
	lastValEnd := -1 // where the last attribute's value ends
	for {
		i = skipSpace(src, i)
		if i >= n {
			return -1, false
		}
		if src[i] == '>' {
			break
		}
		// §13.2.5.33 attribute name state. A leading '=' is part of the
		// name (§13.2.5.32); a '/' ends it, empty, and is then taken as
		// the self-closing flag's candidate, like white space.
		ks := i
		for i < n {
			c := src[i]
			if c == '=' && i > ks || isSpace(c) || c == '/' || c == '>' {
				break
			}
			i++
		}
		if i >= n {
			return -1, false
		}
		ke := i
		// §13.2.5.34-38: after the name, an optional '=' and a value.
		ve := i // an empty value sits right after the name
		i = skipSpace(src, i)
		if i >= n {
			return -1, false
		}
		switch src[i] {
		case '/':
			i++
		case '=':
			i = skipSpace(src, i+1)
			if i >= n {
				return -1, false
			}
			switch q := src[i]; q {
			case '>':
			case '"', '\'':
				k := bytes.IndexByte(src[i+1:], q)
				if k < 0 {
					return -1, false
				}
				ve = i + 1 + k
				i = ve + 1
			default:
				// §13.2.5.38 unquoted: to white space or '>'.
				for i < n && !isSpace(src[i]) && src[i] != '>' {
					i++
				}
				if i >= n {
					return -1, false
				}
				ve = i
				if src[i] != '>' {
					i++
				}
			}
		}
		*keys = append(*keys, ks, ke)
		lastValEnd = ve
	}
	end = i + 1
	// §13.2.5.40: "/>" makes the tag self-closing. The tokenizer takes a
	// '/' that ends an unquoted value ("<a href=/>") as the value's, but
	// only when it kept that attribute: it keeps the first of each name,
	// and none with an empty name.
	selfClosing = src[end-2] == '/'
	if selfClosing && lastValEnd == end-1 && len(*keys) > 0 {
		k := len(*keys) - 2
		ks, ke := (*keys)[k], (*keys)[k+1]
		kept := ks < ke
		for j := 0; kept && j < k; j += 2 {
			if asciiEqualFold(src[(*keys)[j]:(*keys)[j+1]], src[ks:ke]) {
				kept = false
			}
		}
		selfClosing = !kept
	}
	return end, selfClosing
}

// asciiEqualFold reports whether a and b are equal but for the case of
// ASCII letters; the tokenizer lower-cases only those in attribute names.
func asciiEqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// closeAngle returns the offset just past the first '>' from b[i], or
// len(b): a bogus comment's end (§13.2.5.41).
func closeAngle(b []byte, i int) int {
	if j := bytes.IndexByte(b[i:], '>'); j >= 0 {
		return i + j + 1
	}
	return len(b)
}

// markupDecl reads what starts with "<!" at l.pos (§13.2.5.42 markup
// declaration open): a comment, a DOCTYPE, a CDATA section or a bogus
// comment.
func (l *lexer) markupDecl() html.TokenType {
	src, i := l.src, l.pos
	p := i + 2
	if p+1 >= len(src) {
		// "<!" and at most one byte: a comment to the end.
		return l.token(html.CommentToken, len(src))
	}
	if src[p] == '-' && src[p+1] == '-' {
		return l.token(html.CommentToken, commentEnd(src, p+2))
	}
	// §13.2.5.42: "DOCTYPE" in any case. The tokenizer needs no white
	// space after it (§13.2.5.53 would only note a parse error).
	if hasPrefixFold(src[p:], "doctype") {
		return l.token(html.DoctypeToken, closeAngle(src, p+len("doctype")))
	}
	if l.cdata && bytes.HasPrefix(src[p:], []byte("[CDATA[")) {
		// §13.2.5.69 CDATA section: text to "]]>" or the end.
		ds := p + len("[CDATA[")
		l.convertNUL = true
		if k := bytes.Index(src[ds:], []byte("]]>")); k >= 0 {
			return l.textToken(ds+k+3, ds, ds+k)
		}
		return l.textToken(len(src), ds, len(src))
	}
	return l.token(html.CommentToken, closeAngle(src, p))
}

// commentEnd returns the offset just past the end of the comment whose
// text starts at b[i] (after "<!--"), or len(b) if it runs to the end.
//
// A '>' ends it when it follows "--" or "--!" in the text, or when only
// dashes precede it ("<!-->", "<!--->"): HTML's comment states
// (§13.2.5.43-52) as the tokenizer reads them.
func commentEnd(b []byte, i int) int {
	for k := i; k < len(b); {
		j := bytes.IndexByte(b[k:], '>')
		if j < 0 {
			break
		}
		g := k + j
		d := dashesBefore(b, i, g)
		if d >= 2 || g-d == i {
			return g + 1
		}
		if d == 0 && g-1 >= i && b[g-1] == '!' && dashesBefore(b, i, g-1) >= 2 {
			return g + 1
		}
		k = g + 1
	}
	return len(b)
}

// dashesBefore counts the '-' right before b[j], not looking before b[i].
func dashesBefore(b []byte, i, j int) int {
	d := 0
	for j-1-d >= i && b[j-1-d] == '-' {
		d++
	}
	return d
}

// rawEnd returns where the raw text from l.pos ends: at the end tag of
// l.rawTag, or at the end of the input.
func (l *lexer) rawEnd() int {
	switch l.rawTag {
	case "plaintext":
		// §13.2.5.5: nothing ends PLAINTEXT.
		return len(l.src)
	case "script":
		return scriptEnd(l.src, l.pos)
	}
	// §13.2.5.2-3 and §13.2.5.9-14: RCDATA and RAWTEXT end at the first
	// "</name" followed by white space, '/' or '>' (one cut off by the end
	// of the input is text).
	b := l.src[l.pos:]
	// A whole end tag: a byte follows its name (rawEndTag checked that
	// byte, when there is one).
	if k := rawEndTag(b, l.rawTag); k >= 0 && k+2+len(l.rawTag) < len(b) {
		return l.pos + k
	}
	return len(l.src)
}

// rawEndTag returns the offset in b of the first "</name" (name lower-case,
// matched in any case) followed by white space, '/' or '>', or by the end
// of b, where more input may bring either; -1 if there is none.
func rawEndTag(b []byte, name string) int {
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], []byte("</"))
		if j < 0 {
			return -1
		}
		i += j
		if k := i + 2 + len(name); hasPrefixFold(b[i+2:], name) && (k == len(b) || isTagEnd(b[k])) {
			return i
		}
		i += 2
	}
	return -1
}

// endTagAt reports whether b[i:] starts with name (lower-case), in any
// case, and a byte that ends a tag name: with "</" before it, the end tag
// that ends raw text ("appropriate end tag", §13.2.5.11).
func endTagAt(b []byte, i int, name string) bool {
	return i+len(name) < len(b) && hasPrefixFold(b[i:], name) && isTagEnd(b[i+len(name)])
}

// The script data states (§13.2.5.4, §13.2.5.15-31) that the scan of a
// script's end needs: "<!--" escapes the text, and a "<script" in it
// double-escapes it, where "</script>" only returns to the escaped state.
const (
	scriptData = iota
	scriptEscaped
	scriptEscapedDash
	scriptEscapedDashDash
	scriptDouble
	scriptDoubleDash
	scriptDoubleDashDash
)

// scriptEnd returns where the script text from b[i] ends: at its
// "</script", or len(b).
//
// Where the tokenizer parts from HTML it is followed: after "<" and a
// byte other than '/' or a letter in the escaped state it returns to the
// script data state (§13.2.5.23 says to the escaped one), and "<script" in
// the escaped state double-escapes only when followed by white space, '/'
// or '>'.
func scriptEnd(b []byte, i int) int {
	n := len(b)
	st := scriptData
	for i < n {
		if st == scriptData {
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				return n
			}
			i += j + 1
			if i >= n {
				return n
			}
			// §13.2.5.15 script data less-than sign state.
			switch b[i] {
			case '/':
				if endTagAt(b, i+1, "script") {
					return i - 1
				}
				i++
			case '!':
				// §13.2.5.18-19: "<!--" enters the escaped state.
				if i+2 < n && b[i+1] == '-' && b[i+2] == '-' {
					st = scriptEscapedDashDash
					i += 3
				} else {
					i++
				}
			}
			continue
		}
		c := b[i]
		i++
		switch c {
		case '-':
			switch st {
			case scriptEscaped, scriptEscapedDash, scriptDouble, scriptDoubleDash:
				st++
			}
			continue
		case '<':
		case '>':
			if st == scriptEscapedDashDash || st == scriptDoubleDashDash {
				// "-->" ends the escape.
				st = scriptData
				continue
			}
			fallthrough
		default:
			if st <= scriptEscapedDashDash {
				st = scriptEscaped
			} else {
				st = scriptDouble
			}
			continue
		}
		// '<' in an escaped or double-escaped state.
		if i >= n {
			return n
		}
		if st <= scriptEscapedDashDash {
			// §13.2.5.23 script data escaped less-than sign state.
			switch c := b[i]; {
			case c == '/':
				if endTagAt(b, i+1, "script") {
					return i - 1
				}
				i++
				st = scriptEscaped
			case isLetter(c):
				// §13.2.5.26 double escape start.
				if endTagAt(b, i, "script") {
					st = scriptDouble
					i += len("script") + 1
				} else {
					st = scriptEscaped
				}
			default:
				st = scriptData
			}
			continue
		}
		// §13.2.5.30-31: in the double-escaped state, "</script" and a
		// byte ending a tag name return to the escaped state.
		st = scriptDouble
		if b[i] == '/' {
			i++
			if endTagAt(b, i, "script") {
				st = scriptEscaped
				i += len("script") + 1
			}
		}
	}
	return n
}

// Text returns the current text token's text as the tokenizer's Text does:
// "\r\n" and "\r" become "\n", NUL becomes U+FFFD in raw text and CDATA,
// and character references are unescaped except in raw text. The slice is
// the document's own when nothing changes, else valid until the next
// call.
func (l *lexer) Text() []byte {
	if l.tt != html.TextToken {
		return nil
	}
	s := l.src[l.ds:l.de]
	nul := l.convertNUL && bytes.IndexByte(s, 0) >= 0
	amp := !l.textIsRaw && bytes.IndexByte(s, '&') >= 0
	if !nul && !amp && bytes.IndexByte(s, '\r') < 0 {
		return s
	}
	t := l.buf[:0]
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			t = append(t, '\n')
		case 0:
			if l.convertNUL {
				t = append(t, "\ufffd"...)
			} else {
				t = append(t, 0)
			}
		default:
			t = append(t, c)
		}
	}
	if amp {
		t = append(t[:0], html.UnescapeString(string(t))...)
	}
	l.buf = t
	return t
}
