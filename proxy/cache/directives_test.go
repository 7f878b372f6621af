package cache

import (
	"net/http"
	"testing"
	"time"
)

func hdr(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseCacheControl(t *testing.T) {
	sec := func(n int) Delta { return Delta{Present: true, Value: time.Duration(n) * time.Second} }
	tests := []struct {
		name  string
		lines []string
		want  Directives
	}{
		{"empty", nil, Directives{}},
		{"simple", []string{"max-age=60, public"}, Directives{MaxAge: sec(60), Public: true}},
		{"case-insensitive", []string{"Max-Age=60, NO-STORE"}, Directives{MaxAge: sec(60), NoStore: true}},
		{"quoted value", []string{`max-age="60"`}, Directives{MaxAge: sec(60)}},
		{"field list no-cache", []string{`no-cache="Set-Cookie, X-Foo", max-age=5`}, Directives{NoCache: true, MaxAge: sec(5)}},
		{"field list private", []string{`private="Set-Cookie"`}, Directives{Private: true}},
		// RFC 9111 §4.2.1: repeated max-age or s-maxage that disagree make
		// the response stale; repeats that agree are one directive.
		{"conflicting max-age on one line", []string{"max-age=1800, max-age=1"}, Directives{MaxAge: sec(0)}},
		{"conflicting max-age, stale first", []string{"max-age=1, max-age=1800"}, Directives{MaxAge: sec(0)}},
		{"conflicting max-age on two lines", []string{"max-age=60", "max-age=30, max-age=90"}, Directives{MaxAge: sec(0)}},
		{"conflict stays stale", []string{"max-age=60, max-age=30, max-age=60"}, Directives{MaxAge: sec(0)}},
		{"agreeing max-age", []string{"max-age=60", "max-age=60"}, Directives{MaxAge: sec(60)}},
		{"conflicting s-maxage", []string{"s-maxage=60, max-age=10", "s-maxage=600"}, Directives{SMaxAge: sec(0), MaxAge: sec(10)}},
		{"invalid repeat is stale", []string{"max-age=60, max-age=x"}, Directives{MaxAge: sec(0)}},
		{"stale-if-error takes smallest", []string{"stale-if-error=60, stale-if-error=30"}, Directives{StaleIfError: sec(30)}},
		{"min-fresh takes largest", []string{"min-fresh=5, min-fresh=9"}, Directives{MinFresh: sec(9)}},
		{"invalid max-age is stale", []string{"max-age=abc"}, Directives{MaxAge: sec(0)}},
		{"max-age without value is stale", []string{"max-age"}, Directives{MaxAge: sec(0)}},
		{"negative max-age is stale", []string{"max-age=-5"}, Directives{MaxAge: sec(0)}},
		{"overflow clamps", []string{"s-maxage=99999999999999999999"}, Directives{SMaxAge: Delta{true, maxDelta}}},
		{"max-stale any", []string{"max-stale"}, Directives{MaxStaleAny: true}},
		{"max-stale value", []string{"max-stale=10"}, Directives{MaxStale: sec(10)}},
		{"invalid stale-if-error ignored", []string{"stale-if-error=x"}, Directives{}},
		{"rfc5861", []string{"max-age=1, stale-while-revalidate=30, stale-if-error=600"},
			Directives{MaxAge: sec(1), StaleWhileRevalidate: sec(30), StaleIfError: sec(600)}},
		{"whitespace and empty members", []string{" ,  public ,, max-age = 5 ,"}, Directives{Public: true, MaxAge: sec(5)}},
		{"comma inside quotes", []string{`foo="a,no-store", max-age=1`}, Directives{MaxAge: sec(1)}},
		{"escaped quote", []string{`foo="a\",no-store", private`}, Directives{Private: true}},
		{"junk element skipped", []string{`max-age=5 junk, no-cache`}, Directives{NoCache: true}},
		{"unknown ignored", []string{"community=UCI, must-revalidate, proxy-revalidate, must-understand, no-transform, immutable, only-if-cached"},
			Directives{MustRevalidate: true, ProxyRevalidate: true, MustUnderstand: true, NoTransform: true, Immutable: true, OnlyIfCached: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := make(http.Header)
			for _, l := range tt.lines {
				h.Add("Cache-Control", l)
			}
			if got := ParseCacheControl(h); got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=5", `no-cache="a,b"`, `x="\`, "max-stale, min-fresh=1", ",,,="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseCacheControl(http.Header{"Cache-Control": {s}})
		for _, v := range []Delta{d.MaxAge, d.SMaxAge, d.MaxStale, d.MinFresh, d.StaleIfError, d.StaleWhileRevalidate} {
			if v.Value < 0 || v.Value > maxDelta {
				t.Fatalf("got delta %v out of range for %q", v.Value, s)
			}
		}
	})
}
