package cache

import (
	"net/http"
	"strings"
	"time"
)

// DefaultHeuristicMax caps heuristic freshness (RFC 9111 §4.2.2) when
// Policy.HeuristicMax is zero. A day keeps a page that last changed years
// ago from being pinned for weeks, while still sparing the border link
// most revalidations.
const DefaultHeuristicMax = 24 * time.Hour

// heuristicStatus lists the status codes that are heuristically cacheable
// (RFC 9110 §15.1).
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus lists the final status codes whose caching rules this
// package implements (RFC 9111 §3 "the cache understands the response
// status code"). Other final statuses may still be stored when the
// response is explicitly fresh (see Policy.Storable), but not when it
// says must-understand (§5.2.2.3).
func understoodStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308,
		400, 403, 404, 405, 410, 414, 451,
		500, 501, 502, 503, 504:
		return true
	}
	return false
}

// neverStored lists the statuses no response is stored with (RFC 9111
// §3): 1xx are not final, and a code beyond 599 belongs to no class
// (RFC 9110 §15) and so has no semantics to store; 206 needs the
// combining rules of §3.3, which the store does not do; a 304 is a
// validation answer, merged into a stored response with
// MergeNotModified, never stored itself.
func neverStored(code int) bool {
	return code < 200 || code > 599 || code == 206 || code == 304
}

// dateOr parses the named HTTP-date field (see headerDate), returning def
// when it is absent or invalid. def is also the reference time for a
// two-digit year.
func dateOr(h http.Header, name string, def time.Time) time.Time {
	if t, ok := headerDate(h, name, def); ok {
		return t
	}
	return def
}

// Age returns the current age of a stored response (RFC 9111 §4.2.3):
//
//	apparent_age = max(0, response_time - date_value)
//	response_delay = response_time - request_time
//	corrected_age_value = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//	resident_time = now - response_time
//	current_age = corrected_initial_age + resident_time
//
// requestTime and responseTime are the local times the request that
// produced the response was sent and the response received. A missing or
// invalid Date counts as responseTime (RFC 9110 §6.6.1); Age is read as
// ageValue says. The result is never negative.
func Age(h http.Header, requestTime, responseTime, now time.Time) time.Duration {
	return ageAt(initialAge(h, requestTime, responseTime), responseTime, now)
}

// initialAge is a stored response's corrected_initial_age: the part of
// Age that is fixed when the response is received.
func initialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	date := dateOr(h, "Date", responseTime)
	apparent := max(0, responseTime.Sub(date))
	delay := max(0, responseTime.Sub(requestTime))
	corrected := ageValue(h) + delay
	return max(apparent, corrected)
}

// ageAt adds the resident time at now to a corrected_initial_age.
func ageAt(initial time.Duration, responseTime, now time.Time) time.Duration {
	resident := max(0, now.Sub(responseTime))
	return min(initial+resident, maxDelta)
}

// ageValue is the Age field's value (RFC 9111 §5.1). Age is a singleton,
// but a cache that receives it as a list ("Age: 7200, 0", or two field
// lines) uses the first member and discards the rest, so an intermediary
// appending "0" cannot make a stale response fresh. Empty list elements
// are not members (RFC 9110 §5.6.1). A first member that is not
// delta-seconds makes the field ignored: 0.
func ageValue(h http.Header) time.Duration {
	for _, line := range h.Values("Age") {
		for member := range strings.SplitSeq(line, ",") {
			member = strings.Trim(member, " \t")
			if member == "" {
				continue
			}
			v, ok := parseDeltaSeconds(member)
			if !ok {
				return 0
			}
			return v
		}
	}
	return 0
}

// FreshnessLifetime returns how long a response stays fresh after it was
// generated (RFC 9111 §4.2.1), for a shared cache: s-maxage, else
// max-age, else Expires minus Date. An Expires that is not a valid
// HTTP-date (such as "0"), or Expires lines that disagree, mean already
// stale (§5.3, §4.2.1). heuristic reports that no
// explicit expiration was present and the lifetime is the heuristic of
// §4.2.2: 10% of Date minus Last-Modified, capped at heuristicMax, for
// heuristically cacheable statuses and public responses with an
// understood status only (0 otherwise, and when Last-Modified is absent).
// A missing Date counts as responseTime.
func FreshnessLifetime(status int, h http.Header, responseTime time.Time, heuristicMax time.Duration) (lifetime time.Duration, heuristic bool) {
	return freshnessLifetime(controlled{status: status, h: h, cc: ParseCacheControl(h)}, responseTime, heuristicMax)
}

// freshnessLifetime is FreshnessLifetime of the response c, whose
// targeted field plays no part here.
func freshnessLifetime(c controlled, responseTime time.Time, heuristicMax time.Duration) (time.Duration, bool) {
	status, h, cc := c.status, c.h, c.cc
	switch {
	case cc.SMaxAge.Present:
		return cc.SMaxAge.Value, false
	case cc.MaxAge.Present:
		return cc.MaxAge.Value, false
	}
	if len(h.Values("Expires")) > 0 {
		// Invalid or disagreeing: already expired (see expiresAt).
		exp, ok := expiresAt(h, responseTime)
		if !ok {
			return 0, false
		}
		date := dateOr(h, "Date", responseTime)
		return min(max(0, exp.Sub(date)), maxDelta), false
	}
	// §4.2.2: heuristics only for heuristically cacheable statuses and
	// for responses marked public; never for a status this cache does
	// not understand, whose meaning it cannot judge.
	if !heuristicStatus(status) && !(cc.Public && understoodStatus(status)) {
		return 0, true
	}
	lm, ok := headerDate(h, "Last-Modified", responseTime)
	if !ok {
		return 0, true
	}
	date := dateOr(h, "Date", responseTime)
	if heuristicMax == 0 {
		heuristicMax = DefaultHeuristicMax
	}
	return min(max(0, date.Sub(lm)/10), max(0, heuristicMax)), true
}

// hasExplicitExpiration reports whether a response carries explicit
// freshness (RFC 9111 §3 "contains ... an Expires header field, a
// max-age response directive, an s-maxage response directive").
func hasExplicitExpiration(h http.Header, cc Directives) bool {
	return cc.MaxAge.Present || cc.SMaxAge.Present || len(h.Values("Expires")) > 0
}

// positiveExpiration reports whether a response carries explicit
// freshness that is more than zero: a positive max-age, or, without
// max-age (§4.2.1: max-age wins over Expires), an Expires later than the
// response's Date. s-maxage is the caller's to weigh.
func positiveExpiration(h http.Header, cc Directives) bool {
	if cc.MaxAge.Present {
		return cc.MaxAge.Value > 0
	}
	date, ok := headerDate(h, "Date", dateRef)
	if !ok {
		// Without a Date to measure from (RFC 9110 §6.6.1 makes it a
		// must for an origin with a clock), an Expires permits nothing.
		return false
	}
	exp, ok := expiresAt(h, date)
	return ok && exp.After(date)
}

// expiresAt returns the time the Expires field names, reading a two-digit
// year against ref. ok is false when there is none, or when it means
// "already expired": a value that is not an HTTP-date, especially "0"
// (§5.3), or several lines that disagree (§4.2.1 lets a cache either use
// the first or consider the response stale; stale is the reading that
// no appended line can turn into a longer life, as for max-age).
func expiresAt(h http.Header, ref time.Time) (time.Time, bool) {
	vals := h.Values("Expires")
	if len(vals) == 0 {
		return time.Time{}, false
	}
	exp, ok := parseHTTPDate(vals[0], ref)
	if !ok {
		return time.Time{}, false
	}
	for _, v := range vals[1:] {
		if e, ok := parseHTTPDate(v, ref); !ok || !e.Equal(exp) {
			return time.Time{}, false
		}
	}
	return exp, true
}
