package cache

import (
	"net/http"
	"strings"
	"time"
)

// maxDelta is the largest delta-seconds value honoured. RFC 9111 §1.2.2:
// a larger value, or an overflow, is treated as 2^31 seconds.
const maxDelta = (1 << 31) * time.Second

// Delta is a delta-seconds directive argument (RFC 9111 §1.2.2).
type Delta struct {
	// Present reports whether the directive appeared.
	Present bool
	// Value is the argument, between 0 and 2^31 seconds.
	Value time.Duration
}

// Directives are the Cache-Control directives of a request or a response
// (RFC 9111 §5.2), as a shared cache understands them. Unknown directives
// are ignored (§5.2.3).
type Directives struct {
	NoStore         bool // §5.2.1.5, §5.2.2.5
	NoCache         bool // §5.2.1.4, §5.2.2.4; a field list counts as plain no-cache
	Private         bool // §5.2.2.7; a field list counts as plain private
	Public          bool // §5.2.2.9
	MustRevalidate  bool // §5.2.2.2
	ProxyRevalidate bool // §5.2.2.8
	MustUnderstand  bool // §5.2.2.3
	NoTransform     bool // §5.2.1.6, §5.2.2.6
	OnlyIfCached    bool // §5.2.1.7
	Immutable       bool // RFC 8246

	MaxAge  Delta // §5.2.1.1, §5.2.2.1
	SMaxAge Delta // §5.2.2.10
	// MaxStale is the request's max-stale (§5.2.1.2). MaxStaleAny is set
	// when it came without an argument: any staleness is acceptable.
	MaxStale    Delta
	MaxStaleAny bool
	MinFresh    Delta // §5.2.1.3

	StaleWhileRevalidate Delta // RFC 5861 §3
	StaleIfError         Delta // RFC 5861 §4
}

// ParseCacheControl parses every Cache-Control field line in h.
//
// Directive names are case-insensitive and arguments may be tokens or
// quoted strings (§5.2: recipients accept both forms). A max-age or
// s-maxage that repeats with a different argument, on one line or on
// several, counts as 0: §4.2.1 lets a cache either use the first
// occurrence or consider the response stale, and stale is the reading
// that no appended directive can turn into a longer life. An unparsable
// max-age or s-maxage counts as 0 too, since a response with invalid
// freshness information is stale (§4.2.1). For the other directives the
// most restrictive repeat wins: the smallest max-stale,
// stale-while-revalidate and stale-if-error, the largest min-fresh; their
// unparsable arguments are ignored.
func ParseCacheControl(h http.Header) Directives {
	var d Directives
	for _, line := range h["Cache-Control"] {
		parseDirectives(line, &d)
	}
	return d
}

func parseDirectives(s string, d *Directives) {
	for len(s) > 0 {
		var name, arg string
		var hasArg bool
		name, arg, hasArg, s = nextDirective(s)
		if name == "" {
			continue
		}
		switch strings.ToLower(name) {
		case "no-store":
			d.NoStore = true
		case "no-cache":
			// A shared cache may treat the qualified form as unqualified
			// (§5.2.2.4); it never stores a subset of a response.
			d.NoCache = true
		case "private":
			d.Private = true
		case "public":
			d.Public = true
		case "must-revalidate":
			d.MustRevalidate = true
		case "proxy-revalidate":
			d.ProxyRevalidate = true
		case "must-understand":
			d.MustUnderstand = true
		case "no-transform":
			d.NoTransform = true
		case "only-if-cached":
			d.OnlyIfCached = true
		case "immutable":
			d.Immutable = true
		case "max-age":
			setLifetime(&d.MaxAge, arg, hasArg)
		case "s-maxage":
			setLifetime(&d.SMaxAge, arg, hasArg)
		case "max-stale":
			if !hasArg {
				d.MaxStaleAny = true
				continue
			}
			setDelta(&d.MaxStale, arg, hasArg, false)
		case "min-fresh":
			setDelta(&d.MinFresh, arg, hasArg, true)
		case "stale-while-revalidate":
			setDelta(&d.StaleWhileRevalidate, arg, hasArg, false)
		case "stale-if-error":
			setDelta(&d.StaleIfError, arg, hasArg, false)
		}
	}
}

// setLifetime records a max-age or s-maxage argument: 0 when it is
// missing or invalid, or when it differs from an earlier occurrence
// (§4.2.1). 0 absorbs: once conflicting, the directive stays 0.
func setLifetime(d *Delta, arg string, hasArg bool) {
	v, ok := parseDeltaSeconds(arg)
	if !hasArg || !ok || (d.Present && d.Value != v) {
		v = 0
	}
	d.Present, d.Value = true, v
}

// setDelta records a delta-seconds argument, keeping the most
// restrictive of repeated values (the largest when larger is stricter).
// A missing or invalid argument is ignored.
func setDelta(d *Delta, arg string, hasArg, larger bool) {
	v, ok := parseDeltaSeconds(arg)
	if !hasArg || !ok {
		return
	}
	if !d.Present || (larger && v > d.Value) || (!larger && v < d.Value) {
		d.Present, d.Value = true, v
	}
}

// parseDeltaSeconds parses 1*DIGIT, clamping at 2^31 seconds (§1.2.2).
func parseDeltaSeconds(s string) (time.Duration, bool) {
	n, ok := parsePos(s)
	if !ok {
		return 0, false
	}
	if n > int64(maxDelta/time.Second) {
		return maxDelta, true
	}
	return time.Duration(n) * time.Second, true
}

// nextDirective splits the first directive off a Cache-Control list:
// cache-directive = token [ "=" ( token / quoted-string ) ] (§5.2).
// Malformed elements are skipped up to the next comma outside quotes.
func nextDirective(s string) (name, arg string, hasArg bool, rest string) {
	s = strings.TrimLeft(s, " \t,")
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	name, s = s[:i], s[i:]
	s = strings.TrimLeft(s, " \t")
	if strings.HasPrefix(s, "=") {
		hasArg = true
		s = strings.TrimLeft(s[1:], " \t")
		if strings.HasPrefix(s, `"`) {
			arg, s = unquote(s)
		} else {
			j := 0
			for j < len(s) && isTokenChar(s[j]) {
				j++
			}
			arg, s = s[:j], s[j:]
		}
	}
	// Skip anything up to the next list separator.
	s = strings.TrimLeft(s, " \t")
	if s != "" && s[0] != ',' {
		name = "" // malformed element: ignore it entirely
		s = skipElement(s)
	}
	return name, arg, hasArg, s
}

// unquote reads a quoted-string at the start of s (RFC 9110 §5.6.4) and
// returns its value and the remainder. An unterminated string runs to the
// end of s.
func unquote(s string) (string, string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:]
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// skipElement drops s up to the next comma that is not inside quotes.
func skipElement(s string) string {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '\\':
			if inQuote {
				i++
			}
		case ',':
			if !inQuote {
				return s[i:]
			}
		}
	}
	return ""
}

// isTokenChar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
