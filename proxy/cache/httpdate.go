package cache

import (
	"net/http"
	"strings"
	"time"
)

// parseHTTPDate parses an HTTP-date exactly as RFC 9110 §5.6.7 defines it:
//
//	IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT   ; Sun, 06 Nov 1994 08:49:37 GMT
//	rfc850-date  = day-name-l "," SP date2 SP time-of-day SP GMT ; Sunday, 06-Nov-94 08:49:37 GMT
//	asctime-date = day-name SP date3 SP time-of-day SP year      ; Sun Nov  6 08:49:37 1994
//
// Day and month names are case-sensitive (%s in the ABNF); "GMT" is
// accepted in any case, as browsers accept it. Leading and trailing
// whitespace is not part of a field value (§5.5) and is ignored; anything
// else outside the grammar (a one-digit hour or day, runs of spaces, a
// tab, a line break, another zone, a calendar date that does not exist)
// makes the value invalid. The day name is not checked against the date:
// the grammar does not tie them, and the date is what the value means.
//
// ref is the time the value is read against: an rfc850-date's two-digit
// year that would be more than 50 years after ref is in the previous
// century (§5.6.7). Callers pass the time the message was received, or
// any fixed time when they only compare two dates for equality.
func parseHTTPDate(s string, ref time.Time) (time.Time, bool) {
	s = strings.Trim(s, " \t")
	p := dateParser{s: s}
	var t time.Time
	switch {
	case len(s) > 3 && s[3] == ',':
		// IMF-fixdate: day-name "," SP day SP month SP year SP time SP GMT
		if !p.name(dayNames) || !p.lit(", ") {
			return t, false
		}
		day, ok1 := p.digits(2)
		ok2 := p.lit(" ")
		month, ok3 := p.month()
		ok4 := p.lit(" ")
		year, ok5 := p.digits(4)
		ok6 := p.lit(" ")
		hms, ok7 := p.clock()
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || !p.gmt() {
			return t, false
		}
		return p.date(year, month, day, hms)
	case strings.IndexByte(s, ',') > 3:
		// rfc850-date: day-name-l "," SP day "-" month "-" 2DIGIT SP time SP GMT
		if !p.name(longDayNames) || !p.lit(", ") {
			return t, false
		}
		day, ok1 := p.digits(2)
		ok2 := p.lit("-")
		month, ok3 := p.month()
		ok4 := p.lit("-")
		yy, ok5 := p.digits(2)
		ok6 := p.lit(" ")
		hms, ok7 := p.clock()
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || !p.gmt() {
			return t, false
		}
		// The year with these digits in (ref-50, ref+50]: never more
		// than 50 years ahead, and otherwise the nearest.
		ry := ref.UTC().Year()
		year := ry - ry%100 + yy
		switch {
		case year > ry+50:
			year -= 100
		case year <= ry-50:
			year += 100
		}
		return p.date(year, month, day, hms)
	default:
		// asctime-date: day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time SP year
		if !p.name(dayNames) || !p.lit(" ") {
			return t, false
		}
		month, ok1 := p.month()
		ok2 := p.lit(" ")
		var day int
		var ok3 bool
		if p.lit(" ") {
			day, ok3 = p.digits(1)
		} else {
			day, ok3 = p.digits(2)
		}
		ok4 := p.lit(" ")
		hms, ok5 := p.clock()
		ok6 := p.lit(" ")
		year, ok7 := p.digits(4)
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || p.s != "" {
			return t, false
		}
		return p.date(year, month, day, hms)
	}
}

var (
	dayNames     = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	longDayNames = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	monthNames   = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// dateParser consumes an HTTP-date from the front of s.
type dateParser struct{ s string }

func (p *dateParser) lit(want string) bool {
	if !strings.HasPrefix(p.s, want) {
		return false
	}
	p.s = p.s[len(want):]
	return true
}

func (p *dateParser) name(names []string) bool {
	for _, n := range names {
		if p.lit(n) {
			return true
		}
	}
	return false
}

func (p *dateParser) month() (time.Month, bool) {
	for i, n := range monthNames {
		if p.lit(n) {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// digits reads exactly n DIGITs.
func (p *dateParser) digits(n int) (int, bool) {
	if len(p.s) < n {
		return 0, false
	}
	v := 0
	for i := range n {
		c := p.s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.s = p.s[n:]
	return v, true
}

// clock reads time-of-day = hour ":" minute ":" second, 00:00:00 to
// 23:59:60 (a leap second).
func (p *dateParser) clock() (c timeOfDay, ok bool) {
	h, ok1 := p.digits(2)
	ok2 := p.lit(":")
	m, ok3 := p.digits(2)
	ok4 := p.lit(":")
	s, ok5 := p.digits(2)
	ok = ok1 && ok2 && ok3 && ok4 && ok5 && h <= 23 && m <= 59 && s <= 60
	return timeOfDay{h, m, s}, ok
}

// timeOfDay is a date's hour, minute and second.
type timeOfDay struct{ h, m, s int }

// gmt reads the final " GMT", in any case, and requires the end.
func (p *dateParser) gmt() bool {
	if len(p.s) != 4 || p.s[0] != ' ' || !strings.EqualFold(p.s[1:], "GMT") {
		return false
	}
	p.s = ""
	return true
}

// date builds the UTC time, refusing a day the month does not have.
func (p *dateParser) date(year int, month time.Month, day int, c timeOfDay) (time.Time, bool) {
	if day < 1 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	// A leap second (:60) normalises to the next second.
	return time.Date(year, month, day, c.h, c.m, c.s, 0, time.UTC), true
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// headerDate parses the named single-valued date field (Date,
// Last-Modified) against ref, from its first field line. A sender must not
// repeat such a field (RFC 9110 §5.3); when one does, the first line is
// the field, as RFC 9111 §5.1 reads the first member of a listed Age. A
// repeated Expires is stricter, see freshnessLifetime.
func headerDate(h http.Header, name string, ref time.Time) (time.Time, bool) {
	v := h.Values(name)
	if len(v) == 0 {
		return time.Time{}, false
	}
	return parseHTTPDate(v[0], ref)
}
