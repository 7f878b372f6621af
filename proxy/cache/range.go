package cache

import (
	"net/http"
	"strconv"
	"strings"
)

// ByteRange is a satisfiable byte range: Length bytes from Start.
type ByteRange struct {
	Start, Length int64
}

// ContentRange returns the Content-Range value for r within a
// representation of size bytes (RFC 9110 §14.4).
func (r ByteRange) ContentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.Start, 10) + "-" +
		strconv.FormatInt(r.Start+r.Length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// RangeResult says how to answer a Range request.
type RangeResult int

const (
	// RangeIgnore: serve the whole representation with 200. Used for no
	// Range, an unknown unit, a malformed or multi-range set (a server
	// may ignore Range, RFC 9110 §14.2; multipart/byteranges is not
	// produced), and a failed If-Range.
	RangeIgnore RangeResult = iota
	// RangePartial: serve the ByteRange with 206 and Content-Range.
	RangePartial
	// RangeUnsatisfiable: answer 416 with Content-Range "bytes */size"
	// (RFC 9110 §15.5.17).
	RangeUnsatisfiable
)

// ParseRange parses a Range field value against a representation of size
// bytes (RFC 9110 §14.1.1, §14.2): one "bytes=" range-spec of the forms
// first-last (last is clamped to size-1), first- and -suffix. The unit is
// case-insensitive. A first position at or past size, or a zero suffix,
// is unsatisfiable; first > last is invalid and ignored.
func ParseRange(spec string, size int64) (ByteRange, RangeResult) {
	unit, set, ok := strings.Cut(strings.TrimSpace(spec), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return ByteRange{}, RangeIgnore
	}
	set = strings.Trim(set, " \t")
	if strings.Contains(set, ",") {
		// Multiple ranges, or an empty list element: serve it all.
		return ByteRange{}, RangeIgnore
	}
	first, last, ok := strings.Cut(set, "-")
	if !ok {
		return ByteRange{}, RangeIgnore
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		n, ok := parsePos(last)
		if !ok {
			return ByteRange{}, RangeIgnore
		}
		if n == 0 || size == 0 {
			return ByteRange{}, RangeUnsatisfiable
		}
		n = min(n, size)
		return ByteRange{Start: size - n, Length: n}, RangePartial
	}
	f, ok := parsePos(first)
	if !ok {
		return ByteRange{}, RangeIgnore
	}
	l := size - 1
	if last != "" {
		if l2, ok := parsePos(last); !ok || l2 < f {
			return ByteRange{}, RangeIgnore
		} else {
			l = min(l, l2)
		}
	}
	if f >= size {
		return ByteRange{}, RangeUnsatisfiable
	}
	return ByteRange{Start: f, Length: l - f + 1}, RangePartial
}

// parsePos parses 1*DIGIT; overflow counts as the largest int64, which is
// past any size.
func parsePos(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 1<<63 - 1, true
	}
	return n, true
}

// IfRange reports whether a Range request with this If-Range value may be
// answered with a part of the stored response (RFC 9110 §13.1.5). An
// empty value always may. An entity-tag must match the stored ETag by
// strong comparison (a weak tag never matches); an HTTP-date must equal
// the stored Last-Modified. Anything else fails, and the whole
// representation is sent.
func IfRange(ifRange string, stored http.Header) bool {
	ifRange = strings.TrimSpace(ifRange)
	if ifRange == "" {
		return true
	}
	if strings.HasPrefix(ifRange, `"`) || strings.HasPrefix(ifRange, "W/") {
		t, ok := parseETag(ifRange)
		cur, ok2 := parseETag(stored.Get("ETag"))
		return ok && ok2 && strongMatch(t, cur)
	}
	d, ok := parseHTTPDate(ifRange, dateRef)
	if !ok {
		return false
	}
	lm, ok := headerDate(stored, "Last-Modified", dateRef)
	return ok && lm.Equal(d)
}

// RequestRange combines ParseRange and IfRange for req against a stored
// response whose header is stored and whose selected body has size bytes.
// Range is honoured for GET only (RFC 9110 §14.2).
func RequestRange(req *http.Request, stored http.Header, size int64) (ByteRange, RangeResult) {
	spec := field(req.Header, "Range")
	if req.Method != http.MethodGet || spec == "" {
		return ByteRange{}, RangeIgnore
	}
	if !IfRange(field(req.Header, "If-Range"), stored) {
		return ByteRange{}, RangeIgnore
	}
	return ParseRange(spec, size)
}
