package rewrite

import (
	"bytes"
	"strings"
	"testing"
)

// TestUndeclaredUTF8KeepsContentType is the page that used to be
// relabelled: no charset in the header or a <meta>, a UTF-8 ’ in its
// <title>, 30 KB long. Browsers read it in their default encoding (not
// UTF-8: they don't detect UTF-8 on pages from the network), so the edge
// must not declare one, and must add the notice in a form every
// ASCII-compatible default reads.
func TestUndeclaredUTF8KeepsContentType(t *testing.T) {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><title>Editor’s picks</title></head>\n<body>\n")
	for b.Len() < 30<<10 {
		b.WriteString("<p>Plain ASCII paragraph of an old page that never declared its encoding.</p>\n")
	}
	b.WriteString("</body></html>\n")
	src := []byte(b.String())
	if i := bytes.Index(src, []byte("’")); i < 0 || i > prescanLimit {
		t.Fatalf("test page: want the ’ in the first %d bytes", prescanLimit)
	}
	r := testRewriter(t, "")
	for _, ct := range []string{"text/html", "text/html; foo=bar"} {
		res, err := r.HTML(src, ct, testEdge)
		if err != nil {
			t.Fatal(err)
		}
		if res.ContentType != ct {
			t.Errorf("Content-Type %q: got %q; want it kept as the origin sent it", ct, res.ContentType)
		}
		want := strings.Replace(string(src), "</body>", r.noticeASCII+"</body>", 1)
		if string(res.Body) != want {
			t.Errorf("Content-Type %q: got a body other than the page plus the ASCII notice before </body>", ct)
		}
	}
}

// TestCharset checks the determination against HTML's encoding sniffing
// algorithm: what the page is read as, and the Content-Type it is sent
// with (a declared charset spelled out, the origin's header otherwise).
func TestCharset(t *testing.T) {
	pad := "<!-- " + strings.Repeat("x", prescanLimit) + " -->"
	tests := []struct {
		name   string
		src    string
		ct     string
		want   string // the encoding's WHATWG name
		wantCT string
	}{
		{"utf-8 bom beats the header", "\xEF\xBB\xBF<p>x", "text/html; charset=gbk", "utf-8", "text/html; charset=utf-8"},
		{"header", "<meta charset=big5><p>x", "text/html; charset=GB2312", "gbk", "text/html; charset=GB2312"},
		{"unknown header label falls through", "<meta charset=big5><p>x", "text/html; charset=foo", "big5", "text/html; charset=big5"},
		{"meta charset", "<meta charset=gbk><p>x", "text/html", "gbk", "text/html; charset=gbk"},
		{"meta charset quoted, upper case", `<META CHARSET="Shift_JIS">`, "text/html", "shift_jis", "text/html; charset=shift_jis"},
		{"meta http-equiv", `<meta http-equiv="Content-Type" content="text/html; charset=big5">`, "text/html", "big5", "text/html; charset=big5"},
		{"meta http-equiv, quoted charset", `<meta content="text/html; charset='gbk'" http-equiv=content-type>`, "text/html", "gbk", "text/html; charset=gbk"},
		{"meta content without http-equiv", `<meta content="text/html; charset=gbk"><p>x`, "text/html", "windows-1252", "text/html"},
		{"meta naming utf-16 means utf-8", `<meta charset="utf-16">`, "text/html", "utf-8", "text/html; charset=utf-8"},
		{"meta naming x-user-defined means windows-1252", `<meta charset="x-user-defined">`, "text/html", "windows-1252", "text/html; charset=windows-1252"},
		{"first charset attribute counts", `<meta charset=gbk charset=big5>`, "text/html", "gbk", "text/html; charset=gbk"},
		{"failed charset hides content", `<meta charset=foo http-equiv=content-type content="text/html; charset=gbk"><meta charset=big5>`, "text/html", "big5", "text/html; charset=big5"},
		{"meta in a comment", `<!-- <meta charset=gbk> --><p>x`, "text/html", "windows-1252", "text/html"},
		{"comment closed by its own dashes", `<!--><meta charset=gbk>`, "text/html", "gbk", "text/html; charset=gbk"},
		{"meta in an attribute value", `<div title="<meta charset=gbk>"><p>x`, "text/html", "windows-1252", "text/html"},
		{"meta in an end tag", `</x <meta charset=gbk>><p>x`, "text/html", "windows-1252", "text/html"},
		{"meta in a processing instruction", `<? <meta charset=gbk> ?><p>x`, "text/html", "windows-1252", "text/html"},
		{"meta without space", `<metacharset=gbk><p>x`, "text/html", "windows-1252", "text/html"},
		{"meta with slash", `<meta/charset=gbk>`, "text/html", "gbk", "text/html; charset=gbk"},
		{"meta inside script text", `<script>"<meta charset=gbk>"</script>`, "text/html", "gbk", "text/html; charset=gbk"},
		{"xml declaration", `<?xml version="1.0" encoding="gbk"?><html><p>x`, "text/html", "gbk", "text/html; charset=gbk"},
		{"xml declaration naming utf-16", `<?xml version="1.0" encoding="UTF-16"?><p>x`, "text/html", "utf-8", "text/html; charset=utf-8"},
		{"meta beats xml declaration", `<?xml version="1.0" encoding="gbk"?><meta charset=big5>`, "text/html", "big5", "text/html; charset=big5"},
		{"xml declaration not at the start", ` <?xml version="1.0" encoding="gbk"?>`, "text/html", "windows-1252", "text/html"},
		{"late meta in the head", "<head>" + pad + "<meta charset=gbk></head><p>x", "text/html", "gbk", "text/html; charset=gbk"},
		{"late meta after an unknown label", "<head>" + pad + "<meta charset=foo><meta charset=big5></head><p>x", "text/html", "big5", "text/html; charset=big5"},
		{"late meta in the body is not used", "<head>" + pad + "</head><body><meta charset=gbk><p>x", "text/html", "windows-1252", "text/html"},
		// No declaration: the default, and nothing relabelled, whatever
		// the bytes look like.
		{"undeclared utf-8", "<title>Editor’s</title><p>x", "text/html", "windows-1252", "text/html"},
		{"undeclared, no content type", "<p>caf\xc3\xa9", "", "windows-1252", "text/html"},
	}
	r := testRewriter(t, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte(tt.src)
			pc, ok := sniffTransport(src, tt.ct)
			if !ok {
				pc, ok = prescan(src)
			}
			if !ok {
				pc = afterScan(r.scan(src, 0, "", "").meta)
			}
			if pc.name != tt.want {
				t.Errorf("got %s; want %s", pc.name, tt.want)
			}
			res, err := r.HTML(src, tt.ct, testEdge)
			if err != nil {
				t.Fatal(err)
			}
			if res.ContentType != tt.wantCT {
				t.Errorf("Content-Type: got %q; want %q", res.ContentType, tt.wantCT)
			}
		})
	}
}

// TestPrescanUTF16 checks the prescan's first step: a UTF-16 XML
// declaration without a byte order mark.
func TestPrescanUTF16(t *testing.T) {
	for _, tt := range []struct {
		src  []byte
		want string
	}{
		{[]byte("<\x00?\x00x\x00m\x00l\x00"), "utf-16le"},
		{[]byte("\x00<\x00?\x00x\x00m\x00l"), "utf-16be"},
		{[]byte("<\x00?\x00X\x00"), ""}, // case-sensitive
		{[]byte("<\x00?\x00x"), ""},     // too short
	} {
		pc, ok := prescan(tt.src)
		if got := pc.name; ok != (tt.want != "") || got != tt.want {
			t.Errorf("prescan(%q): got %q, %v; want %q", tt.src, got, ok, tt.want)
		}
	}
}

// FuzzPrescan checks that the prescan never panics, reads nothing past
// 1024 bytes, and returns only encodings a document may declare.
func FuzzPrescan(f *testing.F) {
	for _, s := range []string{"<meta charset=gbk>", "<!--", "<meta", "<meta ", `<meta http-equiv=content-type content="charset=big5">`,
		`<?xml encoding="gbk"?>`, "<a b='", "<a b=c", "</", "<?", "<\x00?\x00x\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pc, ok := prescan(b)
		if len(b) > prescanLimit {
			if pc2, ok2 := prescan(b[:prescanLimit]); ok2 != ok || pc2.name != pc.name {
				t.Fatalf("got %q, %v; the first %d bytes alone give %q, %v", pc.name, ok, prescanLimit, pc2.name, ok2)
			}
		}
		if ok && (pc.name == "" || pc.name == "x-user-defined" || !pc.declared) {
			t.Fatalf("got %+v", pc)
		}
		if ok && isUTF16(pc.name) && !bytes.HasPrefix(b, []byte("<\x00?\x00x\x00")) && !bytes.HasPrefix(b, []byte("\x00<\x00?\x00x")) {
			t.Fatalf("got %s without a UTF-16 XML declaration", pc.name)
		}
	})
}
