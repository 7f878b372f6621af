package rewrite

import (
	"bytes"
	"mime"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// pageCharset is a document's encoding as a browser determines it: HTML's
// encoding sniffing algorithm ("determining the character encoding"),
// then the change a <meta> in the head makes while the confidence is
// tentative ("changing the encoding while parsing").
type pageCharset struct {
	enc      encoding.Encoding
	name     string // WHATWG name, e.g. "gbk"
	bom      int    // length of a byte order mark to leave alone
	declared bool   // by BOM, Content-Type, <meta> or XML declaration; else the default
	fromType bool   // the Content-Type already says it
}

// lookupCharset is the Encoding Standard's "get an encoding" for a label.
func lookupCharset(label string) (pageCharset, bool) {
	e, name := charset.Lookup(label)
	if e == nil {
		return pageCharset{}, false
	}
	return pageCharset{enc: e, name: name, declared: true}, true
}

// inDocument applies what HTML does to an encoding a document declares
// itself (prescan step 3.14-15, "changing the encoding" steps 2-3): UTF-16
// means UTF-8, since a document read as ASCII could not be UTF-16, and
// x-user-defined means windows-1252.
func (pc pageCharset) inDocument() pageCharset {
	switch {
	case isUTF16(pc.name):
		return pageCharset{enc: encoding.Nop, name: "utf-8", declared: true}
	case pc.name == "x-user-defined":
		e, name := charset.Lookup("windows-1252")
		return pageCharset{enc: e, name: name, declared: true}
	}
	return pc
}

func isUTF16(name string) bool { return name == "utf-16le" || name == "utf-16be" }

// sniffTransport applies the steps that come before the document is read:
// the byte order mark (step 1, the Encoding Standard's BOM sniff), then
// the Content-Type charset (step 4). ok is false when neither decides.
func sniffTransport(src []byte, contentType string) (pc pageCharset, ok bool) {
	switch {
	case bytes.HasPrefix(src, []byte{0xEF, 0xBB, 0xBF}):
		return pageCharset{enc: encoding.Nop, name: "utf-8", bom: 3, declared: true}, true
	case bytes.HasPrefix(src, []byte{0xFE, 0xFF}):
		return pageCharset{name: "utf-16be", bom: 2, declared: true}, true
	case bytes.HasPrefix(src, []byte{0xFF, 0xFE}):
		return pageCharset{name: "utf-16le", bom: 2, declared: true}, true
	}
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		if pc, ok := lookupCharset(params["charset"]); ok {
			pc.fromType = true
			return pc, true
		}
	}
	return pageCharset{}, false
}

// prescanLimit is how much of the document the prescan reads, as HTML
// advises (and browsers do).
const prescanLimit = 1024

// prescan is HTML's "prescan a byte stream to determine its encoding" over
// the first 1024 bytes (step 5): a UTF-16 XML declaration at the very
// start, then the first <meta> that declares a charset, skipping comments
// and the attributes of other tags, then an XML declaration's encoding.
// It looks at src and nothing else: no guess from the bytes.
func prescan(src []byte) (pageCharset, bool) {
	b := src[:min(len(src), prescanLimit)]
	switch {
	case bytes.HasPrefix(b, []byte{'<', 0, '?', 0, 'x', 0}):
		return pageCharset{name: "utf-16le", declared: true}, true
	case bytes.HasPrefix(b, []byte{0, '<', 0, '?', 0, 'x'}):
		return pageCharset{name: "utf-16be", declared: true}, true
	}
	p := sniffer{b: b}
	for p.pos < len(b) {
		rest := b[p.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			// To the first '>' preceded by "--", which may be the
			// dashes of "<!--" itself.
			j := bytes.Index(rest[2:], []byte("-->"))
			if j < 0 {
				return xmlEncoding(b)
			}
			p.pos += 2 + j + 2
		case len(rest) >= 6 && hasPrefixFold(rest, "<meta") && (isSpace(rest[5]) || rest[5] == '/'):
			p.pos += 5
			pc, found, ok := p.meta()
			if !ok {
				return xmlEncoding(b)
			}
			if found {
				return pc, true
			}
		case len(rest) >= 2 && rest[0] == '<' && (isLetter(rest[1]) || rest[1] == '/' && len(rest) >= 3 && isLetter(rest[2])):
			for p.pos < len(b) && !isSpace(b[p.pos]) && b[p.pos] != '>' {
				p.pos++
			}
			for {
				_, _, got, ok := p.attribute()
				if !ok {
					return xmlEncoding(b)
				}
				if !got {
					break
				}
			}
		case bytes.HasPrefix(rest, []byte("<!")), bytes.HasPrefix(rest, []byte("</")), bytes.HasPrefix(rest, []byte("<?")):
			j := bytes.IndexByte(rest[1:], '>')
			if j < 0 {
				return xmlEncoding(b)
			}
			p.pos += 1 + j
		}
		p.pos++ // "next byte"
	}
	return xmlEncoding(b)
}

// sniffer is the prescan's position in the bytes it reads.
type sniffer struct {
	b   []byte
	pos int
}

// meta reads the attributes of a <meta> whose name has been consumed
// (prescan step 3, the <meta> branch). found reports a declared charset;
// ok is false when the bytes ran out first.
func (p *sniffer) meta() (pc pageCharset, found, ok bool) {
	const (
		unset = iota
		failure
		set
	)
	seen := map[string]bool{}
	gotPragma := false
	needPragma := 0 // 0 null, 1 true, 2 false
	state := unset
	for {
		name, value, got, ok := p.attribute()
		if !ok {
			return pc, false, false
		}
		if !got {
			break
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "http-equiv":
			gotPragma = gotPragma || value == "content-type"
		case "content":
			if state != unset {
				break
			}
			if label := charsetFromContent([]byte(value)); label != "" {
				if e, ok := lookupCharset(label); ok {
					pc, state, needPragma = e, set, 1
				}
			}
		case "charset":
			if e, ok := lookupCharset(value); ok {
				pc, state = e, set
			} else {
				state = failure
			}
			needPragma = 2
		}
	}
	if needPragma == 0 || needPragma == 1 && !gotPragma || state != set {
		return pageCharset{}, false, true
	}
	return pc.inDocument(), true, true
}

// attribute is the prescan's "get an attribute": names and values come out
// lower-cased. got is false when the tag ends first; ok is false when the
// bytes run out.
func (p *sniffer) attribute() (name, value string, got, ok bool) {
	b := p.b
	for p.pos < len(b) && (isSpace(b[p.pos]) || b[p.pos] == '/') {
		p.pos++
	}
	if p.pos >= len(b) {
		return "", "", false, false
	}
	if b[p.pos] == '>' {
		return "", "", false, true
	}
	var n, v []byte
	for {
		if p.pos >= len(b) {
			return "", "", false, false
		}
		c := b[p.pos]
		switch {
		case c == '=' && len(n) > 0:
			p.pos++
			goto value
		case isSpace(c):
			goto spaces
		case c == '/' || c == '>':
			return string(n), "", true, true
		}
		n = append(n, lower(c))
		p.pos++
	}
spaces:
	for p.pos < len(b) && isSpace(b[p.pos]) {
		p.pos++
	}
	if p.pos >= len(b) {
		return "", "", false, false
	}
	if b[p.pos] != '=' {
		return string(n), "", true, true
	}
	p.pos++
value:
	for p.pos < len(b) && isSpace(b[p.pos]) {
		p.pos++
	}
	if p.pos >= len(b) {
		return "", "", false, false
	}
	switch c := b[p.pos]; c {
	case '"', '\'':
		for {
			p.pos++
			if p.pos >= len(b) {
				return "", "", false, false
			}
			if b[p.pos] == c {
				p.pos++
				return string(n), string(v), true, true
			}
			v = append(v, lower(b[p.pos]))
		}
	case '>':
		return string(n), "", true, true
	}
	for {
		c := b[p.pos]
		if isSpace(c) || c == '>' {
			return string(n), string(v), true, true
		}
		v = append(v, lower(c))
		p.pos++
		if p.pos >= len(b) {
			return "", "", false, false
		}
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// xmlEncoding is HTML's "get an XML encoding", what the prescan returns
// when it runs out of bytes without a <meta>: the encoding named in an
// XML declaration at the very start. As in Blink and WebKit, whose
// algorithm the standard copies, "encoding" is looked for inside the
// declaration only.
func xmlEncoding(b []byte) (pageCharset, bool) {
	if !bytes.HasPrefix(b, []byte("<?xml")) {
		return pageCharset{}, false
	}
	end := bytes.IndexByte(b, '>')
	if end < 0 {
		return pageCharset{}, false
	}
	decl := b[:end]
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return pageCharset{}, false
	}
	i += len("encoding")
	for i < len(decl) && decl[i] <= ' ' {
		i++
	}
	if i >= len(decl) || decl[i] != '=' {
		return pageCharset{}, false
	}
	i++
	for i < len(decl) && decl[i] <= ' ' {
		i++
	}
	if i >= len(decl) || decl[i] != '"' && decl[i] != '\'' {
		return pageCharset{}, false
	}
	q := decl[i]
	i++
	j := bytes.IndexByte(decl[i:], q)
	if j < 0 {
		return pageCharset{}, false
	}
	label := decl[i : i+j]
	for _, c := range label {
		if c <= ' ' {
			return pageCharset{}, false
		}
	}
	pc, ok := lookupCharset(string(label))
	if !ok {
		return pageCharset{}, false
	}
	if isUTF16(pc.name) {
		return pageCharset{enc: encoding.Nop, name: "utf-8", declared: true}, true
	}
	return pc, true
}

// afterScan finishes detection once the prescan has found nothing and the
// document has been scanned. meta is the first label a <meta> in the head
// declares that names an encoding: the tree builder changes to it while
// the confidence is tentative, even past byte 1024, as browsers that
// reparse do. Without one the document is read in the default encoding
// (step 9), windows-1252, as browsers read an undeclared page outside CJK
// locales; it is not declared, so nothing relabels the page with it. The
// bytes are never used to guess: browsers deliberately do not detect
// UTF-8 on pages from the network.
func afterScan(meta string) pageCharset {
	if pc, ok := lookupCharset(meta); ok {
		return pc.inDocument()
	}
	e, name := charset.Lookup("windows-1252")
	return pageCharset{enc: e, name: name}
}

// unsafeCharset says why the notice cannot be spliced into a page in this
// encoding, or "" if it can: the page must be ASCII-compatible and
// stateless so that ASCII markup means itself at any tag boundary. UTF-16
// pages are rewritten through a transcoding of their own (see utf16.go).
func unsafeCharset(name string) string {
	switch name {
	case "iso-2022-jp", "replacement":
		return name + " is not ascii-compatible"
	}
	return ""
}

// withCharset returns contentType carrying charset name.
func withCharset(contentType, name string) string {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" {
		mt, params = "text/html", map[string]string{}
	}
	params["charset"] = name
	if s := mime.FormatMediaType(mt, params); s != "" {
		return s
	}
	return "text/html; charset=" + name
}
