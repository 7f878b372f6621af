package rewrite

import (
	"bytes"
	"strings"
)

// edgePrefix returns "scheme://host" for edge, or "" when edge is not safe
// to splice into markup and CSS unescaped (then URLs are left alone).
func edgePrefix(e Edge) string {
	s := strings.ToLower(e.Scheme)
	if s != "http" && s != "https" || e.Host == "" {
		return ""
	}
	for i := 0; i < len(e.Host); i++ {
		c := e.Host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return ""
		}
	}
	return s + "://" + e.Host
}

// urlAuthority looks for an absolute URL's "scheme://host[:port]" (http,
// https) or protocol-relative "//host[:port]" at the start of s and returns
// its length and the host, lower-case without port. n is 0 when s does not
// start with one, or carries user info. host is a part of s when it is
// already lower-case, as nearly every host is, so that a page's thousands
// of URLs cost no allocation: callers look it up as m[string(host)] and
// keep it no longer than s.
func urlAuthority(s []byte) (n int, host []byte) {
	i := 0
	switch {
	case hasPrefixFold(s, "https://"):
		i = 8
	case hasPrefixFold(s, "http://"):
		i = 7
	case bytes.HasPrefix(s, []byte("//")):
		i = 2
	default:
		return 0, nil
	}
	j := i
	for j < len(s) && !isHostEnd(s[j]) {
		j++
	}
	if j == i || j < len(s) && s[j] == '@' {
		return 0, nil
	}
	h := s[i:j]
	if k := bytes.LastIndexByte(h, ':'); k >= 0 && bytes.IndexByte(h[k:], ']') < 0 {
		h = h[:k]
	}
	if hasUpper(h) {
		h = bytes.ToLower(h)
	}
	return j, h
}

// hasUpper reports whether b holds an ASCII upper-case letter.
func hasUpper(b []byte) bool {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

func isHostEnd(c byte) bool {
	switch c {
	case '/', '\\', '?', '#', '@', ' ', '\t', '\n', '\r', '\f', '"', '\'', '(', ')', '<', '>', '&', ';', ',':
		return true
	}
	return false
}

func hasPrefixFold(s []byte, p string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// edit replaces src[start:end] with repl; start == end inserts.
type edit struct {
	start, end int
	repl       string
}

// urlRewriter moves URLs found in raw (still escaped) attribute values or CSS
// onto the edge. Raw bytes are matched, never decoded, so character
// references elsewhere in a value are kept as they are.
type urlRewriter struct {
	hosts  map[string]bool
	prefix string    // "" disables host rewriting
	loc    localizer // nil: no localize rules
	out    *[]edit
}

// active reports whether u can change anything at all.
func (u *urlRewriter) active() bool { return u.prefix != "" || u.loc != nil }

// at rewrites the URL starting at v[i] (v begins at offset base in the
// document) if its host is one of ours, or a localize rule replaces it.
func (u *urlRewriter) at(v []byte, i, base int) {
	if !u.active() || i >= len(v) {
		return
	}
	n, host := urlAuthority(v[i:])
	switch {
	case n == 0:
	case u.prefix != "" && u.hosts[string(host)]:
		*u.out = append(*u.out, edit{base + i, base + i + n, u.prefix})
	case u.loc != nil:
		if r, end, star := u.loc.lookup(v[i:], n, host); r != nil && r.action == Replace {
			*u.out = append(*u.out, r.replaceEdit(v[i:], end, star, base+i))
		}
	}
}

// strips reports whether the URL at v[i:] matches a Strip rule.
func (u *urlRewriter) strips(v []byte, i int) bool {
	if u.loc == nil || i >= len(v) {
		return false
	}
	n, host := urlAuthority(v[i:])
	if n == 0 {
		return false
	}
	r, _, _ := u.loc.lookup(v[i:], n, host)
	return r != nil && r.action == Strip
}

// value handles a plain URL attribute (href, src, action...).
func (u *urlRewriter) value(v []byte, base int) {
	i := 0
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	u.at(v, i, base)
}

// deadLink reports whether v links to a dead MIIT host or to the live one
// over plain http, and must become miitURL.
func deadLink(v []byte) bool {
	v = bytes.TrimSpace(v)
	n, host := urlAuthority(v)
	if n == 0 {
		return false
	}
	live, ok := miitHosts[string(host)]
	if !ok {
		return false
	}
	return !live || hasPrefixFold(v, "http://")
}

// miitLink reports whether v links to any MIIT host, dead or alive.
func miitLink(v []byte) bool {
	n, host := urlAuthority(bytes.TrimSpace(v))
	_, ok := miitHosts[string(host)]
	return n > 0 && ok
}

// srcset handles every candidate URL of a srcset list (HTML, "parse a srcset
// attribute"): candidates are separated by commas, each a URL and optional
// descriptors.
func (u *urlRewriter) srcset(v []byte, base int) {
	i := 0
	for i < len(v) {
		for i < len(v) && (isSpace(v[i]) || v[i] == ',') {
			i++
		}
		if i >= len(v) {
			return
		}
		u.at(v, i, base)
		for i < len(v) && !isSpace(v[i]) {
			i++
		}
		// Descriptors run to the next comma outside parentheses.
		depth := 0
		for i < len(v) {
			c := v[i]
			if c == '(' {
				depth++
			} else if c == ')' && depth > 0 {
				depth--
			} else if c == ',' && depth == 0 {
				break
			}
			i++
		}
	}
}

// refresh handles <meta http-equiv=refresh content="5; url=...">, following
// HTML's "shared declarative refresh steps".
func (u *urlRewriter) refresh(v []byte, base int) {
	i := 0
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	for i < len(v) && (isDigit(v[i]) || v[i] == '.') {
		i++
	}
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	if i < len(v) && (v[i] == ';' || v[i] == ',') {
		i++
	}
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	if hasPrefixFold(v[i:], "url") {
		j := i + 3
		for j < len(v) && isSpace(v[j]) {
			j++
		}
		if j < len(v) && v[j] == '=' {
			i = j + 1
			for i < len(v) && isSpace(v[i]) {
				i++
			}
		}
	}
	i += quoteLen(v[i:])
	u.at(v, i, base)
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	return i
}

// quoteLen returns the length of an opening quote at the start of v, which
// inside an attribute may be written as a character reference.
func quoteLen(v []byte) int {
	if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
		return 1
	}
	for _, q := range []string{"&quot;", "&#34;", "&#39;", "&apos;", "&#x22;", "&#x27;"} {
		if hasPrefixFold(v, q) {
			return len(q)
		}
	}
	return 0
}

// css handles url(...) and @import "..." in a style sheet or a style
// attribute. An @import that a Strip rule matches is removed through its
// ";".
func (u *urlRewriter) css(v []byte, base int) {
	if !u.active() {
		return
	}
	for i := 0; i < len(v); i++ {
		c := v[i] | 0x20
		var j int
		switch {
		case c == 'u' && hasPrefixFold(v[i:], "url("):
			j = i + 4
		case v[i] == '@' && hasPrefixFold(v[i:], "@import"):
			j = i + 7
			if u.loc != nil {
				k := skipSpace(v, j)
				if hasPrefixFold(v[k:], "url(") {
					k = skipSpace(v, k+4)
				}
				k = skipSpace(v, k+quoteLen(v[k:]))
				if end := importEnd(v, j); end > 0 && u.strips(v, k) {
					*u.out = append(*u.out, edit{base + i, base + end, ""})
					i = end - 1
					continue
				}
			}
		default:
			continue
		}
		for j < len(v) && isSpace(v[j]) {
			j++
		}
		j += quoteLen(v[j:])
		for j < len(v) && isSpace(v[j]) {
			j++
		}
		u.at(v, j, base)
		i = j - 1
	}
}
