package cache

import (
	"testing"
	"time"
)

func TestParseTargeted(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		ok    bool
		want  Directives
	}{
		{"max-age", []string{"max-age=3600"}, true, Directives{MaxAge: Delta{true, time.Hour}}},
		{"flags", []string{"no-store, private, public, must-revalidate"}, true, Directives{NoStore: true, Private: true, Public: true, MustRevalidate: true}},
		{"an extension member", []string{"foobar, max-age=60"}, true, Directives{MaxAge: Delta{true, time.Minute}}},
		{"parameters are ignored", []string{"max-age=60;a=1;b, no-cache;x"}, true, Directives{MaxAge: Delta{true, time.Minute}, NoCache: true}},
		{"a field list for no-cache", []string{`no-cache="set-cookie"`}, true, Directives{NoCache: true}},
		{"a false boolean", []string{"no-store=?0, max-age=5"}, true, Directives{MaxAge: Delta{true, 5 * time.Second}}},
		{"several lines", []string{"max-age=60", "stale-if-error=30"}, true, Directives{MaxAge: Delta{true, time.Minute}, StaleIfError: Delta{true, 30 * time.Second}}},
		{"the last repeat wins", []string{"max-age=1, max-age=60"}, true, Directives{MaxAge: Delta{true, time.Minute}}},
		{"past 2^31 seconds", []string{"max-age=99999999999"}, true, Directives{MaxAge: Delta{true, maxDelta}}},
		{"trailing whitespace", []string{"  max-age=60 \t"}, true, Directives{MaxAge: Delta{true, time.Minute}}},
		{"a string is the wrong type", []string{`max-age="60"`}, true, Directives{}},
		{"a negative age is not consumed", []string{"max-age=-1"}, true, Directives{}},
		{"a decimal is not consumed", []string{"max-age=1.5"}, true, Directives{}},
		{"other item types parse", []string{`a=:aGVsbG8=:, b=tok/en, c=(1 2 "x");p, d=@1659578233, e=%"f%c3%bc"`}, true, Directives{}},
		// RFC 9213 §2.2: empty or unparsable fields are ignored whole.
		{"absent", nil, false, Directives{}},
		{"empty", []string{""}, false, Directives{}},
		{"upper case is not a key", []string{"MaX-aGe=3600"}, false, Directives{}},
		{"space before =", []string{"max-age =100"}, false, Directives{}},
		{"space after =", []string{"max-age= 100"}, false, Directives{}},
		{"garbage member", []string{"max-age=10000, &&&&&"}, false, Directives{}},
		{"trailing comma", []string{"max-age=60,"}, false, Directives{}},
		{"sixteen digits", []string{"max-age=1234567890123456"}, false, Directives{}},
		{"unterminated string", []string{`no-cache="a`}, false, Directives{}},
		{"leading tab", []string{"\tmax-age=60"}, false, Directives{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseTargeted(tt.lines)
			if ok != tt.ok || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// A valid targeted field governs the cache's own storage over
// Cache-Control and Expires (RFC 9213 §2.1), and over forced rules; an
// invalid one is ignored. The configured field comes first.
func TestTargetedPolicy(t *testing.T) {
	entry := func(kv ...string) *Entry {
		h := hdr(kv...)
		h.Set("Date", httpDate(t0))
		return &Entry{Status: 200, Header: h, RequestTime: t0, ResponseTime: t0}
	}
	base := Policy{}
	custom := Policy{Targeted: "ICPEdge-Cache-Control"}
	// Even a rule that overrides private and no-store yields to a
	// targeted field.
	forced := Policy{Rules: []Rule{{Prefix: "/", TTL: time.Hour, OverridePrivate: true}}}
	tests := []struct {
		name     string
		p        Policy
		e        *Entry
		at       time.Duration
		storable string // Storable's reason, "" when storable
		action   Action
	}{
		{"cdn max-age over no-store", base, entry("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600"), time.Minute, "", Serve},
		{"short cdn max-age over a long one", base, entry("Cache-Control", "max-age=3600", "CDN-Cache-Control", "max-age=1"), time.Minute, "", Revalidate},
		{"cdn no-store over max-age", base, entry("Cache-Control", "max-age=3600", "CDN-Cache-Control", "no-store"), time.Minute, ReasonNoStore, Miss},
		{"cdn private", base, entry("Cache-Control", "max-age=3600", "CDN-Cache-Control", "private"), time.Minute, ReasonPrivate, Miss},
		{"cdn no-cache", base, entry("Cache-Control", "max-age=3600", "CDN-Cache-Control", "no-cache"), time.Minute, "", Revalidate},
		{"cdn s-maxage", base, entry("Cache-Control", "no-cache", "CDN-Cache-Control", "s-maxage=600"), time.Minute, "", Serve},
		{"expires ignored under a targeted field", base, entry("CDN-Cache-Control", "public", "Expires", httpDate(t0.Add(time.Hour))), time.Minute, "", Revalidate},
		{"a past expires ignored too", base, entry("CDN-Cache-Control", "max-age=3600", "Expires", httpDate(t0.Add(-time.Hour))), time.Minute, "", Serve},
		{"age still counts", base, entry("CDN-Cache-Control", "max-age=3600", "Age", "7200"), time.Minute, "", Revalidate},
		{"cdn stale-while-revalidate", base, entry("Cache-Control", "max-age=60", "CDN-Cache-Control", "max-age=60, stale-while-revalidate=600"), 2 * time.Minute, "", ServeStale},
		{"cache-control's stale-while-revalidate ignored", base, entry("Cache-Control", "max-age=60, stale-while-revalidate=600", "CDN-Cache-Control", "max-age=60"), 2 * time.Minute, "", Revalidate},
		// §2.1: a value of the wrong type is not consumed, but the field
		// still governs: no freshness of its own.
		{"a cdn max-age of the wrong type", base, entry("Cache-Control", "max-age=3600", "CDN-Cache-Control", `max-age="10000"`), time.Minute, "", Revalidate},
		{"unparsable cdn field: cache-control", base, entry("Cache-Control", "max-age=3600", "CDN-Cache-Control", "max-age=1, &&"), time.Minute, "", Serve},
		{"the configured field first", custom, entry("CDN-Cache-Control", "no-store", "ICPEdge-Cache-Control", "max-age=600"), time.Minute, "", Serve},
		{"the configured field when invalid", custom, entry("CDN-Cache-Control", "no-store", "ICPEdge-Cache-Control", "MAX-AGE=600"), time.Minute, ReasonNoStore, Miss},
		{"another's field is not ours", base, entry("Cache-Control", "max-age=600", "ICPEdge-Cache-Control", "no-store"), time.Minute, "", Serve},
		{"a rule does not override cdn no-store", forced, entry("Cache-Control", "no-store", "CDN-Cache-Control", "no-store"), time.Minute, ReasonNoStore, Miss},
		{"a rule does not override cdn max-age", forced, entry("CDN-Cache-Control", "max-age=1"), time.Minute, "", Revalidate},
		{"a rule without a targeted field", forced, entry("Cache-Control", "no-store"), time.Minute, "", Serve},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req("GET", "/page")
			if ok, why := tt.p.Storable(r, tt.e.Status, tt.e.Header); ok != (tt.storable == "") || why != tt.storable {
				t.Errorf("Storable: got %v, %q; want %v, %q", ok, why, tt.storable == "", tt.storable)
			}
			if d := tt.p.Decide(r, tt.e, t0.Add(tt.at)); d.Action != tt.action {
				t.Errorf("Decide: got %v (%+v); want %v", d.Action, d, tt.action)
			}
		})
	}
	if got := custom.TargetList(); len(got) != 2 || got[0] != "Icpedge-Cache-Control" || got[1] != "Cdn-Cache-Control" {
		t.Errorf("TargetList: got %q; want [Icpedge-Cache-Control Cdn-Cache-Control]", got)
	}
}

func FuzzParseTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", `a=("x" 1.5);q=?1`, "no-cache=\"a, b\"", ":aGk=:", "%\"%c3\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseTargeted([]string{s})
		if !ok && d != (Directives{}) {
			t.Fatalf("%q: directives %+v from a field that did not parse", s, d)
		}
		if d.MaxAge.Value < 0 || d.MaxAge.Value > maxDelta {
			t.Fatalf("%q: max-age %v out of range", s, d.MaxAge.Value)
		}
	})
}
