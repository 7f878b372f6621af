package cache

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"reflect"
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

// benchMeta is the metadata of a typical stored page.
func benchMeta() metaJSON {
	return metaJSON{Status: 200, Header: http.Header{
		"Content-Type":        {"text/html; charset=utf-8"},
		"Cache-Control":       {"public, max-age=3600"},
		"Date":                {"Wed, 02 Dec 2026 06:30:01 GMT"},
		"Last-Modified":       {"Wed, 02 Dec 2026 06:00:00 GMT"},
		"Etag":                {`W/"abc123"`},
		"Vary":                {"Accept-Encoding"},
		"Icpedge-Transformed": {"1"},
		"Icpedge-Fingerprint": {"0123456789abcdef"},
	}, RequestTime: time.Now(), ResponseTime: time.Now()}
}

func BenchmarkEncodeTrailer(b *testing.B) {
	m := benchMeta()
	var lens [numEncodings]int64
	var crcs [numEncodings]uint32
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeTrailer("https://icp.client.com/p/1", lens, crcs, m); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseMetaMatchesJSON checks that parseMeta reads what appendMeta
// writes as json.Unmarshal does, and that whatever it accepts of a
// damaged or foreign document json.Unmarshal reads the same way.
func TestParseMetaMatchesJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 6, 30, 1, 123456789, time.UTC)
	docs := [][]byte{
		[]byte(`{"status":200,"header":{},"request_time":"2026-12-02T06:30:01Z","response_time":"2026-12-02T14:30:01.5+08:00"}`),
		[]byte(`{"status":200,"header":{"A":["1"],"A":["2"]},"request_time":"2026-12-02T06:30:01Z","response_time":"2026-12-02T06:30:01Z"}`),
		[]byte(`{"status":200,"header":{"A":["caf\xc3\xa9"],"B":["bad\xff"]},"request_time":"2026-12-02T06:30:01Z","response_time":"2026-12-02T06:30:01Z"}`),
		[]byte(`{"status":200, "header":{},"request_time":"2026-12-02T06:30:01Z","response_time":"2026-12-02T06:30:01Z"}`),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("aZ09 -;=,\"\\<>&\t\x00\x7f\xe2\x80\xa8\xff\xc3\xa9")
	for range 200 {
		h := http.Header{}
		for range rng.IntN(12) {
			vs := make([]string, rng.IntN(3))
			for i := range vs {
				vs[i] = randString(rng, alphabet)
			}
			h[randString(rng, alphabet)] = vs
		}
		m := metaJSON{Status: 100 + rng.IntN(500), Header: h, RequestTime: at, ResponseTime: at.Add(time.Duration(rng.Int64N(1e15)))}
		b, err := appendMeta(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	parsed := 0
	check := func(doc []byte) {
		var got, want metaJSON
		if !parseMeta(doc, &got) {
			return
		}
		parsed++
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatalf("parseMeta took %q, which json refuses: %v", doc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseMeta(%q) = %#v; json reads %#v", doc, got, want)
		}
	}
	for _, doc := range docs {
		check(doc)
		// Damaged copies: every byte replaced by a few that matter.
		for i := range doc {
			for _, c := range []byte{'"', '\\', '}', ']', ',', '0', 'x', 0xff} {
				d := bytes.Clone(doc)
				d[i] = c
				check(d)
			}
		}
		check(doc[:len(doc)-1])
	}
	if parsed < 150 {
		t.Errorf("parseMeta read only %d documents; the stored headers should mostly need no escapes", parsed)
	}
}

func BenchmarkDecodeMeta(b *testing.B) {
	m := benchMeta()
	doc, _ := appendMeta(nil, m)
	b.ReportAllocs()
	for b.Loop() {
		var got metaJSON
		if !parseMeta(doc, &got) {
			b.Fatal("not parsed")
		}
	}
}
