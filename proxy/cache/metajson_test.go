package cache

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// TestAppendMetaMatchesJSON checks the hand-written encoder against
// encoding/json, byte for byte, on the headers a cache stores and on
// every kind of string json escapes.
func TestAppendMetaMatchesJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 30, 1, 123456789, time.UTC)
	local := time.Date(2026, 12, 2, 14, 30, 1, 0, time.FixedZone("CST", 8*3600))
	cases := []metaJSON{
		{},
		{Status: 200, Header: http.Header{}, RequestTime: at, ResponseTime: local},
		{Status: 304, Header: http.Header{
			"Content-Type":  {"text/html; charset=utf-8"},
			"Cache-Control": {"public, max-age=3600"},
			"Set-Cookie":    {"a=1", "b=2"},
			"Empty":         {},
			"Nil":           nil,
			"Link":          {`</a.css>; rel=preload; as=style`},
			"Odd":           {"tab\there", "quote\"", `back\slash`, "nl\r\n", "<script>&amp;", "\x00\x1f\x7f"},
			"Utf8":          {"京ICP备12345678号-1", "\u2028\u2029", "bad\xff\xfe", "é"},
			"\xffKey":       {"v"},
		}, RequestTime: at, ResponseTime: at.Add(time.Second)},
	}
	// Random strings over the bytes that matter.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09 -;=,\"\\<>&\t\n\x00\x1f\x7f\x80\xe2\x80\xa8\xff\xc3\xa9")
	for range 300 {
		h := http.Header{}
		for range rng.IntN(12) {
			h[randString(rng, alphabet)] = []string{randString(rng, alphabet), randString(rng, alphabet)}
		}
		cases = append(cases, metaJSON{Status: rng.IntN(600), Header: h, RequestTime: at.Add(time.Duration(rng.Int64())), ResponseTime: at})
	}
	for i, m := range cases {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendMeta([]byte("prefix"), m)
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("case %d: got %q, %v\nwant prefix%q", i, got, err, want)
		}
	}
	// A time RFC 3339 can't carry is refused, as json refuses it.
	far := metaJSON{RequestTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := json.Marshal(far); err == nil {
		t.Fatal("json.Marshal took the year 10000")
	}
	if _, err := appendMeta(nil, far); err == nil {
		t.Error("appendMeta took the year 10000")
	}
}

func randString(rng *rand.Rand, alphabet []byte) string {
	b := make([]byte, rng.IntN(10))
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

func BenchmarkEncodeTrailer(b *testing.B) {
	m := metaJSON{Status: 200, Header: http.Header{
		"Content-Type":        {"text/html; charset=utf-8"},
		"Cache-Control":       {"public, max-age=3600"},
		"Date":                {"Wed, 02 Dec 2026 06:30:01 GMT"},
		"Last-Modified":       {"Wed, 02 Dec 2026 06:00:00 GMT"},
		"Etag":                {`W/"abc123"`},
		"Vary":                {"Accept-Encoding"},
		"Icpedge-Transformed": {"1"},
		"Icpedge-Fingerprint": {"0123456789abcdef"},
	}, RequestTime: time.Now(), ResponseTime: time.Now()}
	var lens [numEncodings]int64
	var crcs [numEncodings]uint32
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeTrailer("https://icp.client.com/p/1", lens, crcs, m); err != nil {
			b.Fatal(err)
		}
	}
}
