package proxy

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// A request path is put into one canonical form before anything looks at
// it, and that form is what the origin gets: cache rules, the content
// policy, the cache key and purges all decide on exactly what is
// forwarded. Otherwise "/static/..%2faccount" matches a /static/ rule at
// the edge while a normalising origin serves /account, and "//x.zip",
// "/a/../x.zip" or "/x.torrent/" slip past rules that the origin's view of
// the path would match.

// errPathHidden is a path that hides a segment boundary or a dot segment
// in its encoding: origins disagree about what it means, so it is refused.
var errPathHidden = errors.New("the path hides a segment boundary in its encoding")

// pathError says why a request path is refused.
type pathError struct{ reason string }

func (e *pathError) Error() string { return "bad request path: " + e.reason }

func (e *pathError) Unwrap() error { return errPathHidden }

// canonicalPath returns the canonical form of an escaped request path
// (url.URL.EscapedPath): runs of "/" merged into one; "." and ".."
// segments resolved as RFC 3986 §5.2.4 does (never above the root); and
// percent-encoding normalised as RFC 3986 §6.2.2 says, with upper-case hex
// digits and unreserved characters decoded. A trailing "/" is kept.
//
// A path is refused with a *pathError when an origin could read it with
// other segments than the edge does: an encoded "/" or "\" (%2F, %5C), a
// raw "\" (which Windows servers take for "/"), an encoded control
// character (%00–%1F, %7F), a "." or ".." segment written with
// percent-encoding (%2e%2e) or with parameters ("..;x", which Java servlet
// containers resolve), and a double-encoded "/", "\" or "." (%252F) for
// origins that decode twice.
//
// The common path, with none of these, is returned as it is without
// allocating.
func canonicalPath(esc string) (string, error) {
	if !strings.HasPrefix(esc, "/") {
		return "", &pathError{"not an absolute path"}
	}
	if !needsCanonical(esc) {
		return esc, nil
	}
	var segs []string
	trailing := false // the path ends in "/"
	for seg := range strings.SplitSeq(esc[1:], "/") {
		canon, encodedDot, err := canonicalSegment(seg)
		if err != nil {
			return "", err
		}
		base, _, params := strings.Cut(canon, ";")
		switch {
		case (base == "." || base == "..") && (encodedDot || params):
			return "", &pathError{"a dot segment written with percent-encoding or parameters: " + seg}
		case canon == "..":
			// Never above the root.
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = true
		case canon == "." || canon == "":
			trailing = true
		default:
			segs = append(segs, canon)
			trailing = false
		}
	}
	s := "/" + strings.Join(segs, "/")
	if trailing && len(segs) > 0 {
		s += "/"
	}
	if s == esc {
		return esc, nil
	}
	return s, nil
}

// needsCanonical reports whether esc may differ from its canonical form:
// it holds an escape, a backslash, an empty segment or a segment that
// begins with a dot.
func needsCanonical(esc string) bool {
	for i := 0; i < len(esc); i++ {
		switch esc[i] {
		case '%', '\\':
			return true
		case '/':
			if i+1 < len(esc) && (esc[i+1] == '/' || esc[i+1] == '.') {
				return true
			}
		}
	}
	return false
}

// canonicalSegment normalises one escaped segment's percent-encoding.
// encodedDot reports a "." that was written as %2E.
func canonicalSegment(seg string) (canon string, encodedDot bool, err error) {
	if strings.IndexByte(seg, '%') < 0 && strings.IndexByte(seg, '\\') < 0 {
		return seg, false, nil
	}
	var b strings.Builder
	b.Grow(len(seg))
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c == '\\' {
			return "", false, &pathError{"a backslash"}
		}
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(seg) || !isHex(seg[i+1]) || !isHex(seg[i+2]) {
			return "", false, &pathError{"a malformed percent-encoding"}
		}
		v := unhex(seg[i+1])<<4 | unhex(seg[i+2])
		switch {
		case v == '/' || v == '\\':
			return "", false, &pathError{"an encoded slash or backslash"}
		case v < 0x20 || v == 0x7f:
			return "", false, &pathError{"an encoded control character"}
		case v == '%' && i+4 < len(seg) && doubleEncodedDelimiter(seg[i+3:i+5]):
			return "", false, &pathError{"a double-encoded slash, backslash or dot"}
		case isUnreserved(v):
			// RFC 3986 §6.2.2.2: the same URI either way.
			b.WriteByte(v)
			encodedDot = encodedDot || v == '.'
		default:
			const upper = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(upper[v>>4])
			b.WriteByte(upper[v&15])
		}
		i += 2
	}
	return b.String(), encodedDot, nil
}

// doubleEncodedDelimiter reports whether hex, the two characters after an
// encoded "%", spell "/", "\" or ".".
func doubleEncodedDelimiter(hex string) bool {
	switch strings.ToUpper(hex) {
	case "2F", "5C", "2E":
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// isUnreserved reports an unreserved character (RFC 3986 §2.3).
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// withCanonicalPath returns r with its URL path in canonical form: r
// itself when it already is, else a shallow copy with a new URL. A path
// that must be refused returns a *pathError.
func withCanonicalPath(r *http.Request) (*http.Request, error) {
	esc := r.URL.EscapedPath()
	if esc == "" {
		return r, nil
	}
	canon, err := canonicalPath(esc)
	if err != nil || canon == esc {
		return r, err
	}
	p, err := url.PathUnescape(canon)
	if err != nil {
		return r, &pathError{"a malformed percent-encoding"}
	}
	u := *r.URL
	u.Path, u.RawPath = p, canon
	if u.EscapedPath() != canon {
		return r, &pathError{"an unusual encoding"} // cannot happen: canon is valid escaping
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &u
	return r2, nil
}
