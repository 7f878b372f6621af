package cache

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// CDNCacheControl is the targeted field for CDN caches (RFC 9213 §3). The
// edge is its client's CDN: it obeys the field over Cache-Control for its
// own storage.
const CDNCacheControl = "Cdn-Cache-Control"

// TargetList returns the targeted fields the policy obeys, in order of
// precedence (RFC 9213 §2.1): Policy.Targeted, then CDN-Cache-Control.
// The names are in canonical form.
func (p Policy) TargetList() []string {
	if p.Targeted == "" {
		return []string{CDNCacheControl}
	}
	return []string{http.CanonicalHeaderKey(p.Targeted), CDNCacheControl}
}

// control returns the directives the cache obeys for a response with
// header h, and the header its Expires is read from. The first targeted
// field on the list with a valid, non-empty value governs; Cache-Control
// and Expires are then ignored (RFC 9213 §2.1), and the returned header
// has no Expires. Without one, it is Cache-Control and h itself.
func (p Policy) control(h http.Header) (cc Directives, view http.Header, targeted bool) {
	if p.Targeted != "" {
		if d, ok := parseTargeted(h.Values(p.Targeted)); ok {
			return d, withoutExpires(h), true
		}
	}
	if d, ok := parseTargeted(h[CDNCacheControl]); ok {
		return d, withoutExpires(h), true
	}
	return ParseCacheControl(h), h, false
}

// withoutExpires returns h, or a shallow copy without Expires if it has one.
func withoutExpires(h http.Header) http.Header {
	if _, ok := h["Expires"]; !ok {
		return h
	}
	v := make(http.Header, len(h))
	for k, vv := range h {
		if k != "Expires" {
			v[k] = vv
		}
	}
	return v
}

// parseTargeted reads the field lines of a targeted field as the
// Dictionary Structured Field that RFC 9213 §2.2 makes it (RFC 9651
// §4.2.2), and maps its members onto cache directives: booleans for the
// directives without a value, integers for delta-seconds, and a string
// for the field list of no-cache and private (taken, as in Cache-Control,
// as the plain directive). A member of another type than its directive
// calls for is not consumed (§2.1); unknown members are ignored. ok is
// false when the field is absent, empty or does not parse: the cache then
// behaves as if it were not there.
func parseTargeted(lines []string) (d Directives, ok bool) {
	if len(lines) == 0 {
		return d, false
	}
	// Field lines combine with commas (RFC 9651 §4.2).
	members, ok := parseDictionary(strings.Join(lines, ","))
	if !ok || len(members) == 0 {
		return d, false
	}
	for _, m := range members {
		flag := func(dst *bool) {
			switch m.kind {
			case sfBoolean:
				*dst = m.boolean
			}
		}
		qualified := func(dst *bool) {
			switch m.kind {
			case sfBoolean:
				*dst = m.boolean
			case sfString:
				*dst = true
			}
		}
		delta := func(dst *Delta) {
			if m.kind == sfInteger && m.integer >= 0 {
				v := maxDelta
				if m.integer < int64(maxDelta/time.Second) {
					v = time.Duration(m.integer) * time.Second
				}
				*dst = Delta{Present: true, Value: v}
			} else {
				*dst = Delta{}
			}
		}
		switch m.key {
		case "no-store":
			flag(&d.NoStore)
		case "no-cache":
			qualified(&d.NoCache)
		case "private":
			qualified(&d.Private)
		case "public":
			flag(&d.Public)
		case "must-revalidate":
			flag(&d.MustRevalidate)
		case "proxy-revalidate":
			flag(&d.ProxyRevalidate)
		case "must-understand":
			flag(&d.MustUnderstand)
		case "no-transform":
			flag(&d.NoTransform)
		case "immutable":
			flag(&d.Immutable)
		case "max-age":
			delta(&d.MaxAge)
		case "s-maxage":
			delta(&d.SMaxAge)
		case "stale-while-revalidate":
			delta(&d.StaleWhileRevalidate)
		case "stale-if-error":
			delta(&d.StaleIfError)
		}
	}
	return d, true
}

// sfKind is the type of a Structured Field item (RFC 9651 §3.3).
type sfKind uint8

const (
	sfInteger sfKind = iota
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfBoolean
	sfDate
	sfDisplayString
	sfInnerList
)

// sfMember is one member of a Dictionary: its key and its value, as far
// as cache directives need it. Parameters are parsed and dropped.
type sfMember struct {
	key     string
	kind    sfKind
	boolean bool
	integer int64
}

// parseDictionary parses a Dictionary Structured Field (RFC 9651 §4.2,
// §4.2.2). A key that repeats keeps its last value, in the place of its
// first. ok is false when s does not parse.
func parseDictionary(s string) (members []sfMember, ok bool) {
	p := sfParser{s: strings.TrimLeft(s, " ")}
	for p.more() {
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		m := sfMember{key: key, kind: sfBoolean, boolean: true}
		if p.peek() == '=' {
			p.i++
			if !p.itemOrInnerList(&m) {
				return nil, false
			}
		} else if !p.params() {
			return nil, false
		}
		replaced := false
		for j := range members {
			if members[j].key == key {
				members[j], replaced = m, true
			}
		}
		if !replaced {
			members = append(members, m)
		}
		p.ows()
		if !p.more() {
			break
		}
		if p.peek() != ',' {
			return nil, false
		}
		p.i++
		p.ows()
		if !p.more() {
			return nil, false // a trailing comma
		}
	}
	return members, true
}

// sfParser walks a field value.
type sfParser struct {
	s string
	i int
}

func (p *sfParser) more() bool { return p.i < len(p.s) }

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) sp() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// key parses a key (§4.2.3.3): lcalpha or "*", then lcalpha, DIGIT, "_",
// "-", "." or "*". Upper case is not a key.
func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		return "", false
	}
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], true
}

// itemOrInnerList parses a member's value (§4.2.1.1) into m.
func (p *sfParser) itemOrInnerList(m *sfMember) bool {
	if p.peek() != '(' {
		return p.item(m)
	}
	p.i++
	for p.more() {
		p.sp()
		if p.peek() == ')' {
			p.i++
			m.kind = sfInnerList
			return p.params()
		}
		var inner sfMember
		if !p.item(&inner) {
			return false
		}
		if c := p.peek(); c != ' ' && c != ')' {
			return false
		}
	}
	return false // unterminated
}

// item parses a bare item and its parameters (§4.2.3).
func (p *sfParser) item(m *sfMember) bool {
	return p.bareItem(m) && p.params()
}

// params parses parameters (§4.2.3.2), which cache directives don't use.
func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		p.sp()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			var v sfMember
			if !p.bareItem(&v) {
				return false
			}
		}
	}
	return true
}

// bareItem parses a bare item (§4.2.3.1).
func (p *sfParser) bareItem(m *sfMember) bool {
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		return p.number(m)
	case c == '"':
		m.kind = sfString
		return p.str()
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		m.kind = sfToken
		p.token()
		return true
	case c == ':':
		m.kind = sfBytes
		return p.bytes()
	case c == '?':
		m.kind = sfBoolean
		if p.i+1 >= len(p.s) || p.s[p.i+1] != '0' && p.s[p.i+1] != '1' {
			return false
		}
		m.boolean = p.s[p.i+1] == '1'
		p.i += 2
		return true
	case c == '@':
		p.i++
		if !p.number(m) || m.kind != sfInteger {
			return false
		}
		m.kind = sfDate
		return true
	case c == '%':
		m.kind = sfDisplayString
		return p.displayString()
	}
	return false
}

// number parses an Integer or a Decimal (§4.2.4): at most 15 digits, or
// at most 12 before the point and 1 to 3 after it.
func (p *sfParser) number(m *sfMember) bool {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.i++
	}
	var n int64
	whole, frac, dot := 0, 0, false
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9' && dot:
			if frac++; frac > 3 {
				return false
			}
		case c >= '0' && c <= '9':
			if whole++; whole > 15 {
				return false
			}
			n = n*10 + int64(c-'0')
		case c == '.' && !dot && whole > 0:
			if whole > 12 {
				return false
			}
			dot = true
		default:
			goto done
		}
	}
done:
	switch {
	case whole == 0, dot && frac == 0:
		return false
	case dot:
		m.kind = sfDecimal
		return true
	}
	if neg {
		n = -n
	}
	m.kind, m.integer = sfInteger, n
	return true
}

// str parses a String (§4.2.5): printable ASCII, with \" and \\ the only
// escapes.
func (p *sfParser) str() bool {
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i >= len(p.s) || p.s[p.i] != '"' && p.s[p.i] != '\\' {
				return false
			}
			p.i++
		case c == '"':
			return true
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

// token parses a Token (§4.2.6): tchar, ":" and "/" after the first.
func (p *sfParser) token() {
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !isTokenChar(c) && c != ':' && c != '/' {
			return
		}
		p.i++
	}
}

// bytes parses a Byte Sequence (§4.2.7): base64 between colons.
func (p *sfParser) bytes() bool {
	p.i++
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return false
	}
	b64 := p.s[p.i : p.i+end]
	for i := 0; i < len(b64); i++ {
		c := b64[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	if _, err := base64.StdEncoding.DecodeString(b64); err != nil {
		// §4.2.7 lets a parser accept missing padding.
		if _, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "=")); err != nil {
			return false
		}
	}
	p.i += end + 1
	return true
}

// displayString parses a Display String (RFC 9651 §4.2.10): %"…" with
// printable ASCII and lower-case percent-encoded bytes.
func (p *sfParser) displayString() bool {
	p.i++
	if p.peek() != '"' {
		return false
	}
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return true
		case c == '%':
			if p.i+2 > len(p.s) || !isLowerHex(p.s[p.i]) || !isLowerHex(p.s[p.i+1]) {
				return false
			}
			p.i += 2
		case c < 0x20 || c > 0x7e:
			return false
		}
	}
	return false
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
