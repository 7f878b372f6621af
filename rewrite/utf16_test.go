package rewrite

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
)

func utf16Enc(be bool) encoding.Encoding {
	if be {
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
}

// u16 spells s in UTF-16 code units with x/text, independently of the
// package's own transcoding.
func u16(t testing.TB, s string, be bool) []byte {
	t.Helper()
	b, err := utf16Enc(be).NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUTF16Notice checks that a UTF-16 page gets the notice as code units
// in its own byte order, right before its </body>, with every other byte
// as it was: lone surrogates, a trailing odd byte and a <meta> that
// names another charset included.
func TestUTF16Notice(t *testing.T) {
	r := testRewriter(t, "")
	head := "<!DOCTYPE html><html><head><meta charset=gbk><title>宽字符 😀</title></head><body><p>页面</p>"
	tail := "</body></html>\n"
	loneHigh, loneLow := []byte{0x3D, 0xD8}, []byte{0x00, 0xDE} // LE: U+D83D alone, U+DE00 alone
	tests := []struct {
		name   string
		be     bool
		bom    bool
		ct     string
		prefix []byte // before the head's code units
		middle []byte // raw code units between head and tail, LE order unless be
		suffix []byte // after the tail
		wantCT string
	}{
		{name: "little-endian with bom", bom: true, ct: "text/html", wantCT: "text/html; charset=utf-16le"},
		{name: "big-endian with bom", be: true, bom: true, ct: "text/html; charset=utf-8", wantCT: "text/html; charset=utf-16be"},
		{name: "no bom, content type", ct: "text/html; charset=utf-16", wantCT: "text/html; charset=utf-16"},
		{name: "no bom, big-endian content type", be: true, ct: "text/html; charset=UTF-16BE", wantCT: "text/html; charset=UTF-16BE"},
		{name: "lone surrogates", bom: true, ct: "text/html", middle: append(append([]byte{}, loneHigh...), loneLow...), wantCT: "text/html; charset=utf-16le"},
		{name: "trailing odd byte", bom: true, ct: "text/html", suffix: []byte{'!'}, wantCT: "text/html; charset=utf-16le"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in bytes.Buffer
			switch {
			case tt.bom && tt.be:
				in.Write([]byte{0xFE, 0xFF})
			case tt.bom:
				in.Write([]byte{0xFF, 0xFE})
			}
			in.Write(u16(t, head, tt.be))
			middle := append([]byte(nil), tt.middle...)
			if tt.be {
				for i := 0; i+1 < len(middle); i += 2 {
					middle[i], middle[i+1] = middle[i+1], middle[i]
				}
			}
			in.Write(middle)
			at := in.Len()
			in.Write(u16(t, tail, tt.be))
			in.Write(tt.suffix)
			src := in.Bytes()

			res, err := r.HTML(src, tt.ct, testEdge)
			if err != nil {
				t.Fatal(err)
			}
			if res.Skipped != "" {
				t.Fatalf("got skipped: %s", res.Skipped)
			}
			if res.ContentType != tt.wantCT {
				t.Errorf("Content-Type: got %q; want %q", res.ContentType, tt.wantCT)
			}
			want := append(append(append([]byte(nil), src[:at]...), u16(t, r.noticeUTF8, tt.be)...), src[at:]...)
			if !bytes.Equal(res.Body, want) {
				t.Fatalf("got %q;\nwant the page with the notice in its code units before </body>: %q", res.Body, want)
			}
			again, _ := r.HTML(res.Body, res.ContentType, testEdge)
			if !bytes.Equal(again.Body, res.Body) {
				t.Errorf("a second pass changed the page")
			}
			for _, chunk := range []int{1, 3, 4096} {
				var out bytes.Buffer
				w := r.Stream(&out, tt.ct, testEdge)
				for b := src; len(b) > 0; b = b[min(chunk, len(b)):] {
					if _, err := w.Write(b[:min(chunk, len(b))]); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Errorf("streamed in %d-byte writes: got %q; want %q", chunk, out.Bytes(), want)
				}
			}
		})
	}
}

// TestUTF16Rewrites checks that a UTF-16 page is treated like any other:
// origin URLs move onto the edge, dead MIIT links are repaired, and a page
// that already carries the notice gets no second one.
func TestUTF16Rewrites(t *testing.T) {
	r := testRewriter(t, "")
	for _, be := range []bool{false, true} {
		t.Run(fmt.Sprintf("big-endian %v", be), func(t *testing.T) {
			in := `<body><a href="https://www.example.com/关于">关于</a><a href="http://www.miibeian.gov.cn/">备案</a></body>`
			want := `<body><a href="https://edge.example.cn/关于">关于</a><a href="https://beian.miit.gov.cn/">备案</a>` + r.noticeUTF8 + `</body>`
			res, _ := r.HTML(append([]byte{0xFF, 0xFE}, u16(t, in, false)...), "text/html", testEdge)
			if be {
				res, _ = r.HTML(append([]byte{0xFE, 0xFF}, u16(t, in, true)...), "text/html", testEdge)
			}
			if got := string(decodeTest(t, utf16Enc(be), res.Body[2:])); got != want {
				t.Errorf("got %s; want %s", got, want)
			}
			has := `<body>北京示例科技有限公司 <a href="https://beian.miit.gov.cn/">京ICP备12345678号</a>` +
				`<a href="https://beian.mps.gov.cn/#/query/webSearch?code=11010502012345">京公网安备11010502012345号</a></body>`
			src := append([]byte{0xFF, 0xFE}, u16(t, has, false)...)
			if res, _ := r.HTML(src, "text/html", testEdge); !bytes.Equal(res.Body, src) {
				t.Errorf("got a page that carries the notice changed")
			}
			// One that shows only the number gets the rest, in its own
			// characters.
			number := `<body><a href="https://beian.miit.gov.cn/">京ICP备12345678号</a></body>`
			res, _ = r.HTML(append([]byte{0xFF, 0xFE}, u16(t, number, false)...), "text/html", testEdge)
			if got, want := string(decodeTest(t, utf16Enc(false), res.Body[2:])), strings.Replace(number, "</body>", r.blocksUTF8[partCompany|partPolice]+"</body>", 1); got != want {
				t.Errorf("page with the number only: got %s; want %s", got, want)
			}
		})
	}
}

// FuzzTranscode16 checks the lossless transcoding: any bytes, read as
// code units in either order, come back identical (but a trailing odd
// byte, which decode16 leaves), and decoding or encoding in pieces gives
// what one call gives.
func FuzzTranscode16(f *testing.F) {
	for _, s := range []string{"", "a\x00", "=\xd8\x00\xde", "=\xd8x\x00", "\x00\xdc", "\xff", "\x00\xd8\x00\xd8\x00\xdc"} {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		for _, be := range []bool{false, true} {
			text, n := decode16(nil, b, be, true)
			if n != len(b)&^1 {
				t.Fatalf("decode16 used %d of %d bytes", n, len(b))
			}
			back, m := encode16(nil, text, be, true)
			if m != len(text) || !bytes.Equal(back, b[:n]) {
				t.Fatalf("round trip of %x: got %x", b[:n], back)
			}
			// In two pieces, as a stream gets them.
			k := 0
			if len(b) > 0 {
				k = (split%len(b) + len(b)) % len(b)
			}
			part, used := decode16(nil, b[:k], be, false)
			rest := append(append([]byte(nil), b[used:k]...), b[k:]...)
			part, _ = decode16(part, rest, be, true)
			if !bytes.Equal(part, text) {
				t.Fatalf("decoded in pieces at %d: got %x; want %x", k, part, text)
			}
			j := 0
			if len(text) > 0 {
				j = (split%len(text) + len(text)) % len(text)
			}
			enc, used := encode16(nil, text[:j], be, false)
			rest = append(append([]byte(nil), text[used:j]...), text[j:]...)
			enc, _ = encode16(enc, rest, be, true)
			if !bytes.Equal(enc, back) {
				t.Fatalf("encoded in pieces at %d: got %x; want %x", j, enc, back)
			}
		}
		// Not WTF-8 at all: never a panic, always whole code units.
		if out, _ := encode16(nil, b, false, true); len(out)%2 != 0 {
			t.Fatalf("got %d bytes of code units", len(out))
		}
	})
}
