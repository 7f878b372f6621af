package rewrite

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
)

func FuzzHTML(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.html"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "localize", "page.html")); err == nil {
		f.Add(b)
	}
	for _, s := range []string{"", "<", "<footer>",
		"<script src=//s.blocked.test/a>x</script><iframe src=//p.blocked.test/e width=5>y</iframe><link rel=stylesheet href=//d.blocked.test/c>",
		"<style>@import url(//s.blocked.test/a);a{b:url(//r.blocked.test/a/x)}</style><img srcset='//r.blocked.test/a/1 1x'>", "<table><footer>x", "<select><footer>", "<svg><footer></svg>",
		"<template><footer></template>", "<script>", "<!--", "</body><p>x</body>", "<frameset>",
		// UTF-16: an odd trailing byte, lone and paired surrogates.
		"\xff\xfe<\x00p\x00>\x00=\xd8x\x00\x3d\xd8\x00\xde<\x00/\x00b\x00o\x00d\x00y\x00>\x00!",
		"\xfe\xff\x00<\x00f\x00o\x00o\x00t\x00e\x00r\x00>\xdc\x00",
		"<\x00?\x00x\x00m\x00l\x00?\x00>\x00<\x00s\x00e\x00l\x00e\x00c\x00t\x00>\x00"} {
		f.Add([]byte(s))
	}
	plain, err := New(Options{Notice: testNotice()})
	if err != nil {
		f.Fatal(err)
	}
	hosts := testRewriter(f, "")
	loc, err := New(Options{Notice: testNotice(), RewriteHosts: []string{"www.example.com"}, Localize: append([]LocalizeRule{
		{Match: "s.blocked.test", Action: Strip},
		{Match: "d.blocked.test", Action: Defer},
		{Match: "p.blocked.test", Action: Placeholder},
		{Match: "r.blocked.test/a/", Action: Replace, With: "mirror.example.cn/b/"},
	}, presetRules(f, PresetOptions{}, allPresets()...)...)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// Localize: no panic, the same placement as without it, and a
		// second pass changes nothing.
		lres, _ := loc.HTML(in, "text/html", testEdge)
		if again, _ := loc.HTML(lres.Body, lres.ContentType, testEdge); !bytes.Equal(again.Body, lres.Body) {
			t.Fatalf("localize not idempotent: %q then %q", lres.Body, again.Body)
		}
		if dom, _ := loc.html(in, "text/html", testEdge, true); !bytes.Equal(dom.Body, lres.Body) {
			t.Fatalf("localize: got cheap placement %q; want the DOM's %q", lres.Body, dom.Body)
		}
		lw := loc.Stream(io.Discard, "text/html", testEdge)
		for b := in; len(b) > 0; {
			n := min(len(b), 5)
			lw.Write(b[:n])
			b = b[n:]
		}
		if err := lw.Close(); err != nil {
			t.Fatal(err)
		}
		_ = loc.CSS(in, testEdge)

		res, err := plain.HTML(in, "text/html", testEdge)
		if err != nil {
			t.Fatal(err)
		}
		if res.Skipped != "" {
			if !bytes.Equal(res.Body, in) {
				t.Fatalf("skipped (%s) but body changed", res.Skipped)
			}
			return
		}
		dom, _ := plain.html(in, "text/html", testEdge, true)
		if !bytes.Equal(res.Body, dom.Body) {
			t.Fatalf("got cheap placement %q; want the DOM's %q", res.Body, dom.Body)
		}
		again, _ := plain.HTML(res.Body, res.ContentType, testEdge)
		if !bytes.Equal(again.Body, res.Body) {
			t.Fatalf("not idempotent: %q then %q", res.Body, again.Body)
		}
		// A UTF-16 page gets the block in its own code units; every other
		// page the ASCII block. text is what the page reads as.
		p := fuzzPage(t, in)
		// A page that names no origin host comes out exactly as it does
		// without rewrite hosts: URL rewriting never touches a byte of
		// it, in HTML, scripts, data attributes or JSON.
		if !bytes.Contains(bytes.ToLower(p.text), []byte("www.example.com")) {
			if hres, _ := hosts.HTML(in, "text/html", testEdge); !bytes.Equal(hres.Body, res.Body) {
				t.Fatalf("a page naming no origin host: got %q with rewrite hosts; want %q as without", hres.Body, res.Body)
			}
			if got := hosts.JSON(in, testEdge); !bytes.Equal(got, in) {
				t.Fatalf("JSON naming no origin host: got %q; want it unchanged", got)
			}
		}
		block := p.enc(plain.noticeASCII)
		if p.utf16 != nil {
			block = p.enc(plain.noticeUTF8)
		}
		// With nothing to rewrite, the output is the input plus the block.
		if !bytes.Equal(res.Body, in) && !hasDeadLink(p.text) {
			i := bytes.Index(res.Body, block)
			if i < 0 {
				t.Fatalf("body changed but holds no notice: %q", res.Body)
			}
			if p.utf16 != nil && (i-p.start)%2 != 0 {
				t.Fatalf("got the UTF-16 block at byte %d, off the page's code units", i)
			}
			before, after := res.Body[:i], res.Body[i+len(block):]
			rest := append(append([]byte(nil), before...), after...)
			if !bytes.Equal(rest, in) {
				// At the end (before at most an unfinished tag, which
				// browsers drop), closers for an open select or
				// template may precede the block.
				for {
					if b, ok := bytes.CutSuffix(before, p.enc("</template>")); ok {
						before = b
					} else if b, ok := bytes.CutSuffix(before, p.enc("</select>")); ok {
						before = b
					} else {
						break
					}
				}
				if !bytes.Contains(after, p.enc(">")) {
					rest = append(append([]byte(nil), before...), after...)
				}
			}
			if !bytes.Equal(rest, in) {
				t.Fatalf("got %q after removing the notice; want the input %q", rest, in)
			}
		}
		if !bytes.Equal(res.Body, in) && !hasDeadLink(p.text) && bytes.Count(res.Body, block) != 1 {
			t.Fatalf("got %d notice blocks", bytes.Count(res.Body, block))
		}
		if bytes.Contains(p.text, []byte(NoticeID)) || hasDeadLink(p.text) {
			return
		}
		if n := len(findNotices(parseAs(t, res.Body, res.ContentType), nil)); n != 1 && inBody(p.text) {
			t.Fatalf("got %d notice elements in the parsed output of %q; want 1", n, res.Body)
		}
		if _, err := hosts.HTML(in, "", testEdge); err != nil {
			t.Fatal(err)
		}
		var sb bytes.Buffer
		w := hosts.Stream(&sb, "text/html", testEdge)
		for b := in; len(b) > 0; {
			n := min(len(b), 7)
			w.Write(b[:n])
			b = b[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// fuzzedPage is how a fuzz input reads when served as text/html.
type fuzzedPage struct {
	utf16 encoding.Encoding // nil unless a byte order mark or a UTF-16 XML declaration says UTF-16
	start int               // where the code units start (after a byte order mark)
	text  []byte            // the page decoded, for UTF-16; else the bytes
}

func fuzzPage(t *testing.T, in []byte) fuzzedPage {
	p := fuzzedPage{text: in}
	switch {
	case bytes.HasPrefix(in, []byte{0xFF, 0xFE}):
		p.utf16, p.start = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), 2
	case bytes.HasPrefix(in, []byte{0xFE, 0xFF}):
		p.utf16, p.start = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), 2
	case bytes.HasPrefix(in, []byte("\xEF\xBB\xBF")):
	case bytes.HasPrefix(in, []byte("<\x00?\x00x\x00")):
		p.utf16 = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case bytes.HasPrefix(in, []byte("\x00<\x00?\x00x")):
		p.utf16 = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	if p.utf16 != nil {
		body := in[p.start:]
		p.text = decodeTest(t, p.utf16, body[:len(body)&^1])
	}
	return p
}

// enc is s in the page's code units.
func (p fuzzedPage) enc(s string) []byte {
	if p.utf16 == nil {
		return []byte(s)
	}
	b, err := p.utf16.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(err)
	}
	return b
}

// hasDeadLink reports whether in may link to a MIIT host (then the page may
// count as carrying the notice, or have links repaired).
func hasDeadLink(in []byte) bool {
	return bytes.Contains(bytes.ToLower(in), []byte("gov.cn"))
}

// inBody reports whether a notice appended to in can be an element of the
// rendered body: framesets have no body, and markup left open in a select
// drops it.
func inBody(in []byte) bool {
	l := bytes.ToLower(in)
	for _, s := range []string{"<frameset", "<select", "<template", "<plaintext", "<math", "<svg", "<frame", "<table", "<noscript"} {
		if bytes.Contains(l, []byte(s)) {
			return false
		}
	}
	return true
}

// FuzzScript checks the URL rewriting of inline scripts and JSON: it
// changes nothing in text that names no origin host, it is idempotent,
// and a stream that gets the script in pieces of any size makes the same
// edits as a whole page.
func FuzzScript(f *testing.F) {
	for _, s := range []string{
		`{"a":"http:\/\/www.example.com\/x","b":"https:\u002F\u002Fwww.example.com\u002F"}`,
		`location.href="https://WWW.EXAMPLE.COM:8080/a?b#c"`,
		`"https://www.example.com.evil.test/" 'https://user@www.example.com/' "https:/\/www.example.com"`,
		`"https://www.example.com\u002Eevil" "https://www.example.com\x2f" xhttps://www.example.com/`,
		`http:\u002f\u002Fwww.example.com`, `https://www.example.com`, `http:`, `https:\`, `"http://www.example.com\`,
	} {
		f.Add(s, uint8(3))
	}
	r, err := New(Options{Notice: testNotice(), RewriteHosts: []string{"www.example.com", "example.com"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string, chunk uint8) {
		in := []byte(s)
		out := r.JSON(in, testEdge)
		if !bytes.Contains(bytes.ToLower(in), []byte("example.com")) && !bytes.Equal(out, in) {
			t.Fatalf("got %q from text naming no origin host; want it unchanged", out)
		}
		if again := r.JSON(out, testEdge); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
		if bytes.ContainsAny(in, "<") {
			return
		}
		doc := "<p>x<script>" + s + "</script></body>"
		res, _ := r.HTML([]byte(doc), "text/html; charset=utf-8", testEdge)
		want := bytes.Replace(res.Body, []byte(r.noticeASCII), nil, 1)
		var sb bytes.Buffer
		w := r.Stream(&sb, "text/html; charset=utf-8", testEdge)
		n := int(chunk%16) + 1
		for b := []byte(doc); len(b) > 0; {
			k := min(n, len(b))
			w.Write(b[:k])
			b = b[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := bytes.Replace(sb.Bytes(), []byte(r.noticeASCII), nil, 1); !bytes.Equal(got, want) {
			t.Fatalf("streamed in %d-byte pieces: got %q; want %q", n, got, want)
		}
	})
}
