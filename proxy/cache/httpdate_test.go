package cache

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	nov6 := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	aug18 := time.Date(2050, 8, 18, 2, 1, 18, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time // zero: invalid
	}{
		// RFC 9110 §5.6.7's three examples.
		{"Sun, 06 Nov 1994 08:49:37 GMT", nov6},
		{"Sunday, 06-Nov-94 08:49:37 GMT", nov6},
		{"Sun Nov  6 08:49:37 1994", nov6},

		{"Thu, 18 Aug 2050 02:01:18 GMT", aug18},
		{"Thu, 18 Aug 2050 02:01:18 gmt", aug18}, // GMT in any case, as browsers read it
		{"Thu, 18 Aug 2050 02:01:18 gMt", aug18},
		{" Thu, 18 Aug 2050 02:01:18 GMT\t", aug18}, // surrounding OWS is not part of the value (§5.5)
		{"Wednesday, 09-Nov-94 08:49:37 GMT", time.Date(1994, 11, 9, 8, 49, 37, 0, time.UTC)},
		{"Thu Aug 18 02:01:18 2050", aug18},
		{"Sat, 31 Dec 2016 23:59:60 GMT", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)}, // a leap second
		{"Tue, 29 Feb 2028 00:00:00 GMT", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		// The day name is not checked against the date.
		{"Mon, 06 Nov 1994 08:49:37 GMT", nov6},

		// What http.ParseTime accepts and RFC 9110 does not.
		{"Thu, 18 Aug 2050 2:01:18 GMT", time.Time{}},    // one-digit hour
		{"Thu, 18  Aug  2050 02:01:18 GMT", time.Time{}}, // runs of spaces
		{"Thu, 18 Aug 2050  02:01:18 GMT", time.Time{}},
		{"Thu, 8 Aug 2050 02:01:18 GMT", time.Time{}},  // one-digit day
		{"Thu Aug 8 02:01:18 2050", time.Time{}},       // asctime one-digit day without its space
		{"THU, 18 Aug 2050 02:01:18 GMT", time.Time{}}, // day and month names are case-sensitive
		{"Thu, 18 AUG 2050 02:01:18 GMT", time.Time{}},
		{"thursday, 18-Aug-50 02:01:18 GMT", time.Time{}},
		// Folded over two lines, or a tab for a space.
		{"Thu, 18 Aug\r\n 2050 02:01:18 GMT", time.Time{}},
		{"Thu, 18 Aug\n 2050 02:01:18 GMT", time.Time{}},
		{"Thu, 18 Aug\t2050 02:01:18 GMT", time.Time{}},
		{"Thu,\t18 Aug 2050 02:01:18 GMT", time.Time{}},
		// Other forms and zones.
		{"0", time.Time{}},
		{"-1", time.Time{}},
		{"", time.Time{}},
		{"Thu, 18 Aug 2050 02:01:18 UTC", time.Time{}},
		{"Thu, 18 Aug 2050 02:01:18 +0000", time.Time{}},
		{"Thu, 18 Aug 2050 02:01:18", time.Time{}},
		{"Thu, 18 Aug 2050 02:01:18 GMT+8", time.Time{}},
		{"Thu, 18 Aug 50 02:01:18 GMT", time.Time{}},  // two-digit year in IMF-fixdate
		{"Thu 18 Aug 2050 02:01:18 GMT", time.Time{}}, // missing comma
		{"Thu,18 Aug 2050 02:01:18 GMT", time.Time{}},
		{"Thu, 18-Aug-2050 02:01:18 GMT", time.Time{}},
		{"Thu, 18 Aug 2050 02.01.18 GMT", time.Time{}},
		{"Thursday, 18 Aug 2050 02:01:18 GMT", time.Time{}}, // long day name in IMF-fixdate
		{"Thu, 18-Aug-50 02:01:18 GMT", time.Time{}},        // short day name in rfc850-date
		{"Thu Aug 18 02:01:18 2050 GMT", time.Time{}},
		{"Thu Aug 18 02:01:18 50", time.Time{}},
		{"2050-08-18T02:01:18Z", time.Time{}},
		// Out of range.
		{"Thu, 18 Aug 2050 24:00:00 GMT", time.Time{}},
		{"Thu, 18 Aug 2050 02:60:00 GMT", time.Time{}},
		{"Thu, 18 Aug 2050 02:01:61 GMT", time.Time{}},
		{"Thu, 31 Feb 2050 02:01:18 GMT", time.Time{}},
		{"Thu, 29 Feb 2050 02:01:18 GMT", time.Time{}},
		{"Thu, 00 Aug 2050 02:01:18 GMT", time.Time{}},
		{"Thu, 32 Aug 2050 02:01:18 GMT", time.Time{}},
	}
	ref := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseHTTPDate(tt.in, ref)
			switch {
			case tt.want.IsZero() && ok:
				t.Errorf("got %v; want invalid", got)
			case !tt.want.IsZero() && !ok:
				t.Errorf("got invalid; want %v", tt.want)
			case !got.Equal(tt.want):
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

// TestParseHTTPDateCentury checks the rfc850-date rule of RFC 9110
// §5.6.7: a two-digit year more than 50 years in the future is the most
// recent past year with those digits.
func TestParseHTTPDateCentury(t *testing.T) {
	tests := []struct {
		ref      int
		yy       string
		wantYear int
	}{
		{2026, "94", 1994},
		{2026, "26", 2026},
		{2026, "76", 2076}, // 50 years ahead: not more than 50
		{2026, "77", 1977},
		{2026, "00", 2000},
		{1999, "49", 2049},
		{1999, "50", 1950},
	}
	for _, tt := range tests {
		ref := time.Date(tt.ref, 6, 1, 0, 0, 0, 0, time.UTC)
		got, ok := parseHTTPDate("Sunday, 06-Nov-"+tt.yy+" 08:49:37 GMT", ref)
		if !ok || got.Year() != tt.wantYear {
			t.Errorf("year %s read in %d: got %v, %v; want %d", tt.yy, tt.ref, got, ok, tt.wantYear)
		}
	}
}

// FuzzParseHTTPDate checks that no input panics, that every accepted
// value has one of the three fixed shapes, and that an accepted
// IMF-fixdate or asctime-date means what the standard library reads in
// it (which accepts more, but agrees on what both accept).
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "Thu, 18 Aug 2050 2:01:18 GMT", "0", "Sat, 31 Dec 2016 23:59:60 gmt", ",", "Sun,"} {
		f.Add(s)
	}
	ref := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseHTTPDate(s, ref)
		if !ok {
			return
		}
		v := strings.Trim(s, " \t")
		if strings.ContainsAny(v, "\r\n\t") || strings.Contains(v, "   ") {
			t.Fatalf("accepted %q", s)
		}
		switch n := len(v); {
		case n == 29 && v[3] == ',': // IMF-fixdate
			if !strings.HasSuffix(v, "GMT") {
				v = v[:26] + "GMT" // the standard library wants the upper case
			}
		case n == 24: // asctime-date
		case n >= 30 && n <= 33: // rfc850-date: its century rule is ours
			return
		default:
			t.Fatalf("accepted %q, %d bytes; no HTTP-date has that length", s, n)
		}
		if strings.Contains(v, ":60") {
			return // a leap second, which the standard library refuses
		}
		want, err := http.ParseTime(v)
		if err != nil || !want.Equal(got) {
			t.Fatalf("%q: got %v; the standard library reads %v, %v", s, got, want, err)
		}
	})
}
