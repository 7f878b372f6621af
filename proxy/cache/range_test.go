package cache

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		spec       string
		size       int64
		want       ByteRange
		wantResult RangeResult
	}{
		{"bytes=0-99", 1000, ByteRange{0, 100}, RangePartial},
		{"bytes=100-", 1000, ByteRange{100, 900}, RangePartial},
		{"bytes=-100", 1000, ByteRange{900, 100}, RangePartial},
		{"bytes=-2000", 1000, ByteRange{0, 1000}, RangePartial},
		{"bytes=900-5000", 1000, ByteRange{900, 100}, RangePartial},
		{"Bytes = 5-5", 1000, ByteRange{5, 1}, RangePartial},
		{"bytes=999-", 1000, ByteRange{999, 1}, RangePartial},
		{"bytes=1000-", 1000, ByteRange{}, RangeUnsatisfiable},
		{"bytes=1000-1001", 1000, ByteRange{}, RangeUnsatisfiable},
		{"bytes=-0", 1000, ByteRange{}, RangeUnsatisfiable},
		{"bytes=-5", 0, ByteRange{}, RangeUnsatisfiable},
		{"bytes=0-", 0, ByteRange{}, RangeUnsatisfiable},
		{"bytes=99999999999999999999-", 10, ByteRange{}, RangeUnsatisfiable},
		{"bytes=5-1", 1000, ByteRange{}, RangeIgnore},
		{"bytes=0-1,5-6", 1000, ByteRange{}, RangeIgnore},
		{"bytes=a-b", 1000, ByteRange{}, RangeIgnore},
		{"bytes=-", 1000, ByteRange{}, RangeIgnore},
		{"bytes=+1-2", 1000, ByteRange{}, RangeIgnore},
		{"items=0-1", 1000, ByteRange{}, RangeIgnore},
		{"bytes 0-1", 1000, ByteRange{}, RangeIgnore},
		{"", 1000, ByteRange{}, RangeIgnore},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, res := ParseRange(tt.spec, tt.size)
			if got != tt.want || res != tt.wantResult {
				t.Errorf("got %+v, %v; want %+v, %v", got, res, tt.want, tt.wantResult)
			}
		})
	}
	if got := (ByteRange{900, 100}).ContentRange(1000); got != "bytes 900-999/1000" {
		t.Errorf("got %q; want %q", got, "bytes 900-999/1000")
	}
}

func TestRequestRange(t *testing.T) {
	lm := httpDate(t0)
	stored := hdr("ETag", `"v1"`, "Last-Modified", lm)
	tests := []struct {
		name string
		r    *http.Request
		want RangeResult
	}{
		{"no range", req("GET", "/"), RangeIgnore},
		{"range", req("GET", "/", "Range", "bytes=0-1"), RangePartial},
		{"head ignores range", req("HEAD", "/", "Range", "bytes=0-1"), RangeIgnore},
		{"if-range etag", req("GET", "/", "Range", "bytes=0-1", "If-Range", `"v1"`), RangePartial},
		{"if-range other etag", req("GET", "/", "Range", "bytes=0-1", "If-Range", `"v2"`), RangeIgnore},
		{"if-range weak etag", req("GET", "/", "Range", "bytes=0-1", "If-Range", `W/"v1"`), RangeIgnore},
		{"if-range date", req("GET", "/", "Range", "bytes=0-1", "If-Range", lm), RangePartial},
		{"if-range other date", req("GET", "/", "Range", "bytes=0-1", "If-Range", httpDate(t0.Add(-time.Second))), RangeIgnore},
		{"if-range junk", req("GET", "/", "Range", "bytes=0-1", "If-Range", "junk"), RangeIgnore},
		{"if-range unsatisfiable", req("GET", "/", "Range", "bytes=50-", "If-Range", `"v1"`), RangeUnsatisfiable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := RequestRange(tt.r, stored, 10); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=1-0", "bytes=0-1,2-3"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, spec string, size int64) {
		if size < 0 {
			return
		}
		r, res := ParseRange(spec, size)
		if res == RangePartial && (r.Start < 0 || r.Length <= 0 || r.Start+r.Length > size) {
			t.Fatalf("got %+v for %q, size %d; want a range inside the body", r, spec, size)
		}
	})
}
