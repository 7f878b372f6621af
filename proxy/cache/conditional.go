package cache

import (
	"net/http"
	"strings"
	"time"
)

// entityTag is a parsed entity-tag (RFC 9110 §8.8.3). opaque keeps its
// double quotes.
type entityTag struct {
	weak   bool
	opaque string
}

// parseETag parses a single entity-tag, such as an ETag field value.
func parseETag(s string) (entityTag, bool) {
	tags, star, ok := parseETagList(s)
	if !ok || star || len(tags) != 1 {
		return entityTag{}, false
	}
	return tags[0], true
}

// parseETagList parses If-Match / If-None-Match: "*" / #entity-tag
// (RFC 9110 §13.1.1, §13.1.2). Field lines are passed pre-joined with
// commas. ok is false for a malformed list, which then matches nothing.
func parseETagList(s string) (tags []entityTag, star, ok bool) {
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return tags, star, len(tags) > 0 || star
		}
		if s[0] == '*' {
			star = true
			s = s[1:]
			continue
		}
		var t entityTag
		if strings.HasPrefix(s, "W/") {
			t.weak = true
			s = s[2:]
		}
		// opaque-tag = DQUOTE *etagc DQUOTE; etagc excludes DQUOTE, so
		// the tag ends at the next quote (commas may be inside).
		if !strings.HasPrefix(s, `"`) {
			return nil, false, false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, false, false
		}
		t.opaque = s[:end+2]
		s = s[end+2:]
		tags = append(tags, t)
	}
}

// weakMatch is the weak comparison of RFC 9110 §8.8.3.2.
func weakMatch(a, b entityTag) bool { return a.opaque == b.opaque }

// strongMatch is the strong comparison of RFC 9110 §8.8.3.2.
func strongMatch(a, b entityTag) bool { return !a.weak && !b.weak && a.opaque == b.opaque }

// dateRef is the reference time for HTTP-dates read where no time of
// receipt is at hand, which are only checked or compared with each other:
// a fixed reference reads the same two-digit year the same way in both
// (an rfc850-date's "76" is 2076, "77" 1977).
var dateRef = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NotModified reports whether a stored response e answers req's
// conditions with 304 Not Modified (RFC 9110 §13.2.2 steps 3 and 4, as a
// cache applies them per RFC 9111 §4.3.2):
//
//   - If-None-Match, when present, decides alone (If-Modified-Since is
//     then ignored): it is false, so 304, when any listed tag weakly
//     matches the stored ETag, or when it is "*".
//   - Otherwise If-Modified-Since (a valid date, GET or HEAD only) gives
//     304 when the stored Last-Modified, else Date, else the time the
//     response was received, is not after it.
//
// Conditions are ignored unless the method is GET or HEAD and the stored
// status is 2xx (§13.2.1). If-Match and If-Unmodified-Since are for the
// origin only (RFC 9111 §4.3.2); a cache does not evaluate them, so the
// caller should forward such a request rather than answer it from the
// store.
func NotModified(req *http.Request, e *Entry) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	if e.Status < 200 || e.Status > 299 {
		return false
	}
	if inm := req.Header["If-None-Match"]; len(inm) > 0 {
		tags, star, ok := parseETagList(strings.Join(inm, ","))
		if !ok {
			return false
		}
		if star {
			return true // the stored representation exists
		}
		cur, ok := parseETag(field(e.Header, "Etag"))
		if !ok {
			return false
		}
		for _, t := range tags {
			if weakMatch(t, cur) {
				return true
			}
		}
		return false
	}
	ims := req.Header["If-Modified-Since"]
	if len(ims) != 1 { // §13.1.3: absent, or more than one member
		return false
	}
	// §13.1.3: an invalid HTTP-date is ignored. The two-digit year of an
	// rfc850-date is read against the stored response's time, as the
	// stored dates are.
	since, ok := parseHTTPDate(ims[0], e.ResponseTime)
	if !ok {
		return false
	}
	lm := dateOr(e.Header, "Last-Modified", dateOr(e.Header, "Date", e.ResponseTime))
	return !lm.Truncate(time.Second).After(since)
}

// RevalidationHeaders returns the conditional request fields for
// revalidating a stored response with its origin (RFC 9111 §4.3.1):
// If-None-Match from its ETag and If-Modified-Since from its
// Last-Modified. The result is empty when the response has no validator;
// the caller then fetches unconditionally.
func RevalidationHeaders(stored http.Header) http.Header {
	h := make(http.Header)
	if t, ok := parseETag(stored.Get("ETag")); ok {
		etag := t.opaque
		if t.weak {
			etag = "W/" + etag
		}
		h.Set("If-None-Match", etag)
	}
	if lm := stored.Get("Last-Modified"); lm != "" {
		if _, ok := parseHTTPDate(lm, dateRef); ok {
			h.Set("If-Modified-Since", strings.Trim(lm, " \t"))
		}
	}
	return h
}

// mergeExempt lists the fields a 304 must not overwrite in a stored
// response (RFC 9111 §3.2): hop-by-hop and proxy fields excepted from
// storage (§3.1, RFC 9110 §7.6.1), Content-Length, and the content
// coding and range fields, because the store keeps the decoded body and
// icpedge encodes it itself.
var mergeExempt = map[string]bool{
	"Connection":                true,
	"Keep-Alive":                true,
	"Proxy-Connection":          true,
	"Proxy-Authenticate":        true,
	"Proxy-Authentication-Info": true,
	"Proxy-Authorization":       true,
	"Te":                        true,
	"Trailer":                   true,
	"Transfer-Encoding":         true,
	"Upgrade":                   true,
	"Content-Length":            true,
	"Content-Encoding":          true,
	"Content-Range":             true,
}

// MergeNotModified returns the stored header updated from a 304 Not
// Modified response's header nm (RFC 9111 §3.2, §4.3.4). ok is false when
// the 304 names a different representation (its ETag, or its
// Last-Modified, differs from the stored one, or it has an ETag the
// stored response lacks); the stored response must then not be used and
// the caller fetches it again.
//
// Date and Age of the stored response describe the old exchange and are
// dropped before merging, so the result carries the 304's or none. The
// caller also updates the entry's RequestTime and ResponseTime to the
// revalidation's, and checks Storable again before storing the result:
// a 304 can add Set-Cookie or no-store. stored is not modified.
func MergeNotModified(stored, nm http.Header) (merged http.Header, ok bool) {
	if v := nm.Get("ETag"); v != "" {
		n, nok := parseETag(v)
		s, sok := parseETag(stored.Get("ETag"))
		if !nok || !sok || !weakMatch(n, s) {
			return nil, false
		}
	}
	if v, sv := nm.Get("Last-Modified"), stored.Get("Last-Modified"); v != "" && sv != "" {
		n, ok1 := parseHTTPDate(v, dateRef)
		s, ok2 := parseHTTPDate(sv, dateRef)
		if !ok1 || !ok2 || !n.Equal(s) {
			return nil, false
		}
	}
	merged = stored.Clone()
	if merged == nil {
		merged = make(http.Header)
	}
	merged.Del("Date")
	merged.Del("Age")
	exempt := func(name string) bool {
		if mergeExempt[name] {
			return true
		}
		// Fields named in the 304's Connection are hop-by-hop too.
		for _, line := range nm.Values("Connection") {
			for f := range strings.SplitSeq(line, ",") {
				if http.CanonicalHeaderKey(strings.TrimSpace(f)) == name {
					return true
				}
			}
		}
		return false
	}
	for name, vals := range nm {
		name = http.CanonicalHeaderKey(name)
		if exempt(name) {
			continue
		}
		merged[name] = append([]string(nil), vals...)
	}
	return merged, true
}
