package cache

import (
	"net/http"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

func TestFreshnessLifetime(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		h             http.Header
		heuristicMax  time.Duration
		want          time.Duration
		wantHeuristic bool
	}{
		{"s-maxage wins", 200, hdr("Cache-Control", "max-age=10, s-maxage=20"), 0, 20 * time.Second, false},
		{"max-age over expires", 200, hdr("Cache-Control", "max-age=10", "Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour))), 0, 10 * time.Second, false},
		{"expires minus date", 200, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour))), 0, time.Hour, false},
		{"expires without date uses response time", 200, hdr("Expires", httpDate(t0.Add(time.Minute))), 0, time.Minute, false},
		{"expires in past", 200, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(-time.Hour))), 0, 0, false},
		{"invalid expires is stale", 200, hdr("Expires", "0", "Last-Modified", httpDate(t0.Add(-100*time.Hour))), 0, 0, false},
		{"two expires that disagree are stale", 200, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour)), "Expires", httpDate(t0.Add(2*time.Hour))), 0, 0, false},
		{"two expires that agree", 200, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour)), "Expires", httpDate(t0.Add(time.Hour))), 0, time.Hour, false},
		{"expires with an invalid second line is stale", 200, hdr("Date", httpDate(t0), "Expires", httpDate(t0.Add(time.Hour)), "Expires", "0"), 0, 0, false},
		// RFC 9111 §5.3: a date outside RFC 9110 §5.6.7 is invalid, so
		// already expired, though http.ParseTime reads these.
		{"expires with a one-digit hour is stale", 200, hdr("Date", httpDate(t0), "Expires", "Mon, 02 Mar 2026 9:00:00 GMT"), 0, 0, false},
		{"expires with runs of spaces is stale", 200, hdr("Date", httpDate(t0), "Expires", "Sun, 01  Mar  2026 13:00:00 GMT"), 0, 0, false},
		{"expires with lower-case gmt", 200, hdr("Date", httpDate(t0), "Expires", "Sun, 01 Mar 2026 13:00:00 gmt"), 0, time.Hour, false},
		{"expires in rfc850 form", 200, hdr("Date", httpDate(t0), "Expires", "Sunday, 01-Mar-26 13:00:00 GMT"), 0, time.Hour, false},
		{"expires in asctime form", 200, hdr("Date", httpDate(t0), "Expires", "Sun Mar  1 13:00:00 2026"), 0, time.Hour, false},
		{"invalid date counts as response time", 200, hdr("Date", "Sun, 01 Mar 2026 9:00:00 GMT", "Expires", httpDate(t0.Add(time.Hour))), 0, time.Hour, false},
		{"first of two dates", 200, hdr("Date", httpDate(t0), "Date", httpDate(t0.Add(-time.Hour)), "Expires", httpDate(t0.Add(time.Hour))), 0, time.Hour, false},
		{"heuristic ten percent", 200, hdr("Date", httpDate(t0), "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 0, time.Hour, true},
		{"heuristic capped", 200, hdr("Date", httpDate(t0), "Last-Modified", httpDate(t0.Add(-1000*24*time.Hour))), 0, DefaultHeuristicMax, true},
		{"heuristic custom cap", 404, hdr("Date", httpDate(t0), "Last-Modified", httpDate(t0.Add(-1000*time.Hour))), time.Hour, time.Hour, true},
		{"heuristic off", 200, hdr("Date", httpDate(t0), "Last-Modified", httpDate(t0.Add(-10*time.Hour))), -1, 0, true},
		{"heuristic without last-modified", 200, hdr("Date", httpDate(t0)), 0, 0, true},
		{"no heuristic for 302", 302, hdr("Date", httpDate(t0), "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 0, 0, true},
		{"public allows heuristic for 302", 302, hdr("Cache-Control", "public", "Date", httpDate(t0), "Last-Modified", httpDate(t0.Add(-10*time.Hour))), 0, time.Hour, true},
		{"invalid last-modified gives no heuristic", 200, hdr("Date", httpDate(t0), "Last-Modified", "Sun, 01 Mar 2026 2:00:00 GMT"), 0, 0, true},
		{"conflicting max-age is stale", 200, hdr("Cache-Control", "max-age=3600, max-age=60"), 0, 0, false},
		{"last-modified in future", 200, hdr("Date", httpDate(t0), "Last-Modified", httpDate(t0.Add(time.Hour))), 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, heur := FreshnessLifetime(tt.status, tt.h, t0, tt.heuristicMax)
			if got != tt.want || heur != tt.wantHeuristic {
				t.Errorf("got %v, heuristic %v; want %v, %v", got, heur, tt.want, tt.wantHeuristic)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		name                   string
		h                      http.Header
		reqTime, respTime, now time.Time
		want                   time.Duration
	}{
		{"fresh off the wire", hdr("Date", httpDate(t0)), t0, t0, t0, 0},
		{"resident time", hdr("Date", httpDate(t0)), t0, t0, t0.Add(90 * time.Second), 90 * time.Second},
		{"age header plus delay", hdr("Date", httpDate(t0), "Age", "100"), t0.Add(-2 * time.Second), t0, t0, 102 * time.Second},
		{"apparent age from skewed date", hdr("Date", httpDate(t0.Add(-50*time.Second)), "Age", "10"), t0, t0, t0, 50 * time.Second},
		{"date in future clamps", hdr("Date", httpDate(t0.Add(time.Hour))), t0, t0, t0, 0},
		{"no date", hdr(), t0, t0, t0.Add(time.Second), time.Second},
		{"invalid age ignored", hdr("Date", httpDate(t0), "Age", "x"), t0, t0, t0, 0},
		{"huge age clamps", hdr("Age", "99999999999999999999"), t0, t0, t0, maxDelta},
		// RFC 9111 §5.1: a listed Age uses its first member.
		{"age list uses the first member", hdr("Date", httpDate(t0), "Age", "7200, 0"), t0, t0, t0, 7200 * time.Second},
		{"age list without spaces", hdr("Date", httpDate(t0), "Age", "7200,0"), t0, t0, t0, 7200 * time.Second},
		{"age on two lines uses the first", hdr("Date", httpDate(t0), "Age", "7200", "Age", "0"), t0, t0, t0, 7200 * time.Second},
		{"age list starting with 0", hdr("Date", httpDate(t0), "Age", "0, 7200"), t0, t0, t0, 0},
		{"empty list elements are not members", hdr("Date", httpDate(t0), "Age", " , 7200"), t0, t0, t0, 7200 * time.Second},
		{"empty first line", hdr("Date", httpDate(t0), "Age", "", "Age", "7200"), t0, t0, t0, 7200 * time.Second},
		{"invalid first member ignores the field", hdr("Date", httpDate(t0), "Age", "x, 7200"), t0, t0, t0, 0},
		{"negative age ignored", hdr("Date", httpDate(t0), "Age", "-7200"), t0, t0, t0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Age(tt.h, tt.reqTime, tt.respTime, tt.now); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}
