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
// package implements (RFC 9111 §3 "the response status code is final"
// and understood). 206 is absent: storing partial content needs the
// combining rules of §3.3, which the store does not do. 304 is a
// validation answer, merged into a stored response with MergeNotModified,
// never stored itself.
func understoodStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308,
		400, 403, 404, 405, 410, 414, 451,
		500, 501, 502, 503, 504:
		return true
	}
	return false
}

// dateOr parses the named HTTP-date field, returning def when it is absent
// or invalid.
func dateOr(h http.Header, name string, def time.Time) time.Time {
	if t, err := http.ParseTime(h.Get(name)); err == nil {
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
// invalid Date counts as responseTime; a missing or invalid Age as 0.
// The result is never negative.
func Age(h http.Header, requestTime, responseTime, now time.Time) time.Duration {
	date := dateOr(h, "Date", responseTime)
	apparent := max(0, responseTime.Sub(date))
	delay := max(0, responseTime.Sub(requestTime))
	var ageValue time.Duration
	if v, ok := parseDeltaSeconds(strings.TrimSpace(h.Get("Age"))); ok {
		ageValue = v
	}
	corrected := ageValue + delay
	initial := max(apparent, corrected)
	resident := max(0, now.Sub(responseTime))
	return min(initial+resident, maxDelta)
}

// FreshnessLifetime returns how long a response stays fresh after it was
// generated (RFC 9111 §4.2.1), for a shared cache: s-maxage, else
// max-age, else Expires minus Date. An Expires that is not a valid
// HTTP-date (such as "0") means already stale. heuristic reports that no
// explicit expiration was present and the lifetime is the heuristic of
// §4.2.2: 10% of Date minus Last-Modified, capped at heuristicMax, for
// heuristically cacheable statuses and public responses only (0
// otherwise, and when Last-Modified is absent). A missing Date counts as
// responseTime.
func FreshnessLifetime(status int, h http.Header, responseTime time.Time, heuristicMax time.Duration) (lifetime time.Duration, heuristic bool) {
	cc := ParseCacheControl(h)
	return freshnessLifetime(status, h, cc, responseTime, heuristicMax)
}

func freshnessLifetime(status int, h http.Header, cc Directives, responseTime time.Time, heuristicMax time.Duration) (time.Duration, bool) {
	switch {
	case cc.SMaxAge.Present:
		return cc.SMaxAge.Value, false
	case cc.MaxAge.Present:
		return cc.MaxAge.Value, false
	}
	if vals := h.Values("Expires"); len(vals) > 0 {
		// §4.2.1: with several Expires lines, use the first. §5.3: an
		// invalid date, especially "0", means "already expired".
		exp, err := http.ParseTime(strings.TrimSpace(vals[0]))
		if err != nil {
			return 0, false
		}
		date := dateOr(h, "Date", responseTime)
		return min(max(0, exp.Sub(date)), maxDelta), false
	}
	if !heuristicStatus(status) && !cc.Public {
		return 0, true
	}
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
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
	vals := h.Values("Expires")
	if len(vals) == 0 {
		return false
	}
	exp, err := http.ParseTime(strings.TrimSpace(vals[0]))
	if err != nil {
		return false
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		// Without a Date to measure from (RFC 9110 §6.6.1 makes it a
		// must for an origin with a clock), an Expires permits nothing.
		return false
	}
	return exp.After(date)
}
