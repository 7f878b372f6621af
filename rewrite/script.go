package rewrite

import (
	"bytes"
	"strings"
)

// Origin URLs in scripts and JSON.
//
// Inline scripts and JSON documents carry absolute URLs in string
// literals, written plainly (https://host/), with the slashes escaped as
// JSON allows (https:\/\/host\/, which PHP's json_encode writes by
// default), or as \u escapes (https:\u002F\u002Fhost\u002F). A browser,
// or the script, reads each as the same URL, so each moves onto the edge
// in the form it was written in. A URL is taken only where the form is
// unambiguous:
//
//   - the scheme is http or https, and not the tail of a longer word
//     (xhttp://);
//   - both slashes are written the same way;
//   - the host, with an optional port, is one of RewriteHosts and ends
//     where a host ends in a URL or a string ends in a script: a slash in
//     any of its three forms, ?, #, a backslash, a quote, white space, one
//     of <>(),;]}&, or the end of a whole document. An escape after the
//     host counts for the character it stands for.
//
// So https://www.example.com.evil.test/, https://www.example.com\u002Eevil
// and https://user@www.example.com/ are left alone, and so is a
// protocol-relative //host, which in a script may be a comment.

// maxHostRun bounds the host and port of a URL in a script: a DNS name
// (253) and a port. A longer run of host characters is no URL of ours,
// and a stream never holds more than this back for one.
const maxHostRun = 253 + len(":65535")

// maxScriptCarry bounds what a stream holds back at the end of a piece
// of script because a URL may continue in the next write: a scheme, two
// escaped slashes, a host and an escape after it.
const maxScriptCarry = len("https:") + 2*len(`\u002F`) + maxHostRun + len(`\u002F`)

// script records edits moving the origin URLs in v onto the edge; v
// begins at offset base in the document, and prev is the byte before it
// (0 at the start of the text). Unless final, v may continue in a later
// write: done is then where the decided part of v ends (everything before
// it was looked at, and no URL that starts before it needs more of the
// text), and the caller passes the rest again with more. With final,
// done is len(v).
func (u *urlRewriter) script(v []byte, base int, prev byte, final bool) (done int) {
	if u.prefix == "" {
		return len(v)
	}
	done = len(v)
	if !final {
		// A scheme may be the last bytes, its colon still to come.
		done = max(0, len(v)-len("https"))
	}
	for c := 0; c < len(v); {
		k := bytes.IndexByte(v[c:], ':')
		if k < 0 {
			break
		}
		c += k
		end, ed, state := u.scriptURL(v, c, prev, final)
		switch state {
		case urlMore:
			return min(done, end)
		case urlFound:
			*u.out = append(*u.out, edit{start: base + ed.start, end: base + ed.end, repl: ed.repl})
			done = max(done, end)
			c = end
			continue
		}
		c++
	}
	return done
}

type urlState int

const (
	urlNone  urlState = iota // no URL of ours at this colon
	urlFound                 // one, replaced by the edit
	urlMore                  // the text ends before it can be told
)

// scriptURL looks at the colon at v[c] for an absolute URL on one of the
// hosts around it. It returns the URL's edit (offsets in v) and where its
// authority ends, or, for urlMore, where the candidate starts.
func (u *urlRewriter) scriptURL(v []byte, c int, prev byte, final bool) (end int, e edit, state urlState) {
	s := c
	switch {
	case c >= 5 && hasPrefixFold(v[c-5:], "https"):
		s = c - 5
	case c >= 4 && hasPrefixFold(v[c-4:], "http"):
		s = c - 4
	default:
		return 0, edit{}, urlNone
	}
	before := prev
	if s > 0 {
		before = v[s-1]
	}
	if isSchemeChar(before) {
		return 0, edit{}, urlNone
	}
	sep, more := slashes(v[c+1:])
	switch {
	case more && !final:
		return s, edit{}, urlMore
	case len(sep) == 0:
		return 0, edit{}, urlNone
	}
	h := c + 1 + len(sep)
	k := h
	for k < len(v) && k-h <= maxHostRun && isScriptHostChar(v[k]) {
		k++
	}
	switch {
	case k-h > maxHostRun:
		return 0, edit{}, urlNone
	case k == len(v) && !final:
		return s, edit{}, urlMore
	case k == h:
		return 0, edit{}, urlNone
	}
	if k < len(v) {
		next, n := unescape(v[k:])
		switch {
		case n == 0 && !final:
			return s, edit{}, urlMore
		case n == 0 || !endsScriptHost(next):
			return 0, edit{}, urlNone
		}
	}
	host := v[h:k]
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	if !u.hosts[strings.ToLower(string(host))] {
		return 0, edit{}, urlNone
	}
	scheme, edgeHost, _ := strings.Cut(u.prefix, "://")
	return k, edit{start: s, end: k, repl: scheme + ":" + string(sep) + edgeHost}, urlFound
}

// slashes returns the "//" at the start of v in one of its forms, as
// written, both slashes in the same form. more reports that v ends before
// the form can be told.
func slashes(v []byte) (sep []byte, more bool) {
	one, n := slash(v)
	if n == 0 {
		return nil, couldBeSlash(v)
	}
	rest := v[n:]
	if len(rest) < n {
		return nil, bytes.EqualFold(rest, one[:len(rest)])
	}
	if !bytes.EqualFold(rest[:n], one) {
		return nil, false
	}
	return v[:2*n], false
}

// slash returns the slash at the start of v, in one of its forms, and its
// length; 0 for none.
func slash(v []byte) ([]byte, int) {
	switch {
	case len(v) >= 1 && v[0] == '/':
		return v[:1], 1
	case len(v) >= 2 && v[0] == '\\' && v[1] == '/':
		return v[:2], 2
	case len(v) >= 6 && hasPrefixFold(v, `\u002f`):
		return v[:6], 6
	}
	return nil, 0
}

// couldBeSlash reports whether v, too short to tell, may be the start of
// a slash in one of its forms.
func couldBeSlash(v []byte) bool {
	return len(v) < len(`\u002F`) && hasPrefixFold([]byte(`\u002f`), strings.ToLower(string(v)))
}

// unescape returns the character that v starts with, reading a backslash
// escape (\/, \", \n, \uXXXX, \xHH...) as what it stands for, and how
// many bytes it takes; n is 0 when v ends inside an escape or the escape
// stands for nothing a host could end at.
func unescape(v []byte) (c byte, n int) {
	if len(v) == 0 {
		return 0, 0
	}
	if v[0] != '\\' {
		return v[0], 1
	}
	if len(v) < 2 {
		return 0, 0
	}
	switch v[1] {
	case 'u', 'x':
		n = 6 // \uXXXX
		if v[1] == 'x' {
			n = 4 // \xXX
		}
		if len(v) < n {
			return 0, 0
		}
		r, ok := hexValue(v[2:n])
		if !ok || r > 0x7F {
			return 0, 0
		}
		return byte(r), n
	case 'n', 'r', 't', 'f', 'b', 'v':
		return ' ', 2
	case '/', '"', '\'', '\\', '`':
		return v[1], 2
	}
	return 0, 0
}

func hexValue(h []byte) (rune, bool) {
	var r rune
	for _, c := range h {
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			r = r<<4 | rune(c|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// isSchemeChar reports whether c may be part of a URL scheme (RFC 3986
// §3.1), so that a scheme it precedes is the tail of another.
func isSchemeChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '+' || c == '-' || c == '.'
}

// isScriptHostChar reports whether c may be part of a host and port as
// they are written in a script: a DNS name, an IP address in brackets,
// and a port.
func isScriptHostChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'
}

// endsScriptHost reports whether c, right after a host, ends it: it ends
// the host in a URL, or the string or expression around the URL.
func endsScriptHost(c byte) bool {
	switch c {
	case '/', '?', '#', '\\', '"', '\'', '`', ' ', '\t', '\n', '\r', '\f', '<', '>', '(', ')', ',', ';', ']', '}', '&':
		return true
	}
	return false
}

// JSON rewrites a JSON document (a response of type application/json or
// +json): absolute URLs on RewriteHosts move onto edge, written plainly,
// with escaped slashes or as \u escapes, as in inline scripts. src is
// returned as it is when nothing changes.
func (r *Rewriter) JSON(src []byte, edge Edge) []byte { return r.absoluteURLs(src, edge) }

// XML rewrites an XML document (a feed, a sitemap: application/xml,
// text/xml or +xml): absolute URLs on RewriteHosts move onto edge,
// wherever they are written (element text, attributes, CDATA, markup
// escaped in a feed's description). A URL is found as in inline scripts,
// so only whole hosts count: www.client.com.evil.example stays. The
// document's bytes are taken as ASCII-compatible, as every charset a
// feed declares in practice is; in UTF-16 nothing matches and the
// document is returned as it is, as it is when nothing changes.
func (r *Rewriter) XML(src []byte, edge Edge) []byte { return r.absoluteURLs(src, edge) }

// absoluteURLs moves the absolute URLs on RewriteHosts in src onto edge,
// in the forms inline scripts write them; src when nothing changes.
func (r *Rewriter) absoluteURLs(src []byte, edge Edge) []byte {
	var edits []edit
	u := urlRewriter{hosts: r.hosts, prefix: edgePrefix(edge), out: &edits}
	u.script(src, 0, 0, true)
	if len(edits) == 0 {
		return src
	}
	return splice(src, edits)
}

// EditsJSON reports whether JSON and XML can change anything: whether
// there are RewriteHosts. When it is false, such documents may pass
// through unbuffered.
func (r *Rewriter) EditsJSON() bool { return len(r.hosts) > 0 }
