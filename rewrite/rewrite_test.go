package rewrite

import (
	"bytes"
	"fmt"
	"html"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
)

// utf16Of returns the decoder of a UTF-16 page, by the byte order mark
// or else the Content-Type, as a browser tells; nil for other pages.
func utf16Of(src []byte, contentType string) encoding.Encoding {
	switch {
	case bytes.HasPrefix(src, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
	case bytes.HasPrefix(src, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM)
	case strings.Contains(contentType, "utf-16le"):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case strings.Contains(contentType, "utf-16be"):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	return nil
}

func decodeTest(t testing.TB, e encoding.Encoding, b []byte) []byte {
	t.Helper()
	d, err := e.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	return d
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"ok", Options{Notice: Notice{ICP: "京ICP备1号"}}, ""},
		{"no icp", Options{}, "icp is empty"},
		{"bad selector", Options{Notice: Notice{ICP: "x", Selector: "div["}}, "selector"},
		{"police without digits", Options{Notice: Notice{ICP: "x", Police: "京公网安备"}}, "police"},
		{"host with scheme", Options{Notice: Notice{ICP: "x"}, RewriteHosts: []string{"https://a.com"}}, "bare host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tt.wantErr == "" && err != nil || !strings.Contains(got, tt.wantErr) {
				t.Errorf("got error %q; want one containing %q", got, tt.wantErr)
			}
		})
	}
}

func TestURL(t *testing.T) {
	r := testRewriter(t, "")
	tests := []struct{ in, want string }{
		{"https://www.example.com/a?b=1#c", "https://edge.example.cn/a?b=1#c"},
		{"http://WWW.Example.COM:8080/x", "https://edge.example.cn/x"},
		{"//www.example.com", "https://edge.example.cn"},
		{"https://www.example.com.evil.test/", "https://www.example.com.evil.test/"},
		{"https://user@www.example.com/", "https://user@www.example.com/"},
		{"https://cdn.example.net/x", "https://cdn.example.net/x"},
		{"/relative", "/relative"},
		{"ftp://www.example.com/", "ftp://www.example.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := r.URL(tt.in, testEdge); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
	if got := r.URL("https://www.example.com/", Edge{Scheme: "https", Host: `a"b`}); got != "https://www.example.com/" {
		t.Errorf("got %q for an unsafe edge host; want the URL unchanged", got)
	}
}

func TestAttributes(t *testing.T) {
	r := testRewriter(t, "")
	tests := []struct{ name, in, want string }{
		{"href keeps references", `<a href="https://www.example.com/?a=1&amp;b=2">`, `<a href="https://edge.example.cn/?a=1&amp;b=2">`},
		{"unquoted", `<img src=//www.example.com/i.png alt=x>`, `<img src=https://edge.example.cn/i.png alt=x>`},
		{"srcset", `<img srcset="https://www.example.com/a.jpg 1x,https://www.example.com/b.jpg 2x">`, `<img srcset="https://edge.example.cn/a.jpg 1x,https://edge.example.cn/b.jpg 2x">`},
		{"refresh", `<meta http-equiv="Refresh" content="0;url=https://www.example.com/n">`, `<meta http-equiv="Refresh" content="0;url=https://edge.example.cn/n">`},
		{"style attr", `<div style="background:url(&quot;https://www.example.com/b.png&quot;)">`, `<div style="background:url(&quot;https://edge.example.cn/b.png&quot;)">`},
		{"action", `<form action="https://www.example.com/post">`, `<form action="https://edge.example.cn/post">`},
		{"dead miibeian", `<a href="http://www.miibeian.gov.cn/">`, `<a href="https://beian.miit.gov.cn/">`},
		{"dead www.beian", `<a href='https://www.beian.miit.gov.cn'>`, `<a href='https://beian.miit.gov.cn/'>`},
		{"http miit", `<a href=http://beian.miit.gov.cn>`, `<a href=https://beian.miit.gov.cn/>`},
		{"https miit kept", `<a href="https://beian.miit.gov.cn">`, `<a href="https://beian.miit.gov.cn">`},
		{"script", `<script>"<a href='https://www.example.com/'>"</script>`, `<script>"<a href='https://edge.example.cn/'>"</script>`},
		{"lazy src", `<img data-src="https://www.example.com/a.jpg" data-lazy-src=//www.example.com/b.jpg>`, `<img data-src="https://edge.example.cn/a.jpg" data-lazy-src=https://edge.example.cn/b.jpg>`},
		{"lazy srcset", `<img data-srcset="https://www.example.com/a.jpg 1x, https://www.example.com/b.jpg 2x">`, `<img data-srcset="https://edge.example.cn/a.jpg 1x, https://edge.example.cn/b.jpg 2x">`},
		{"lazy background", `<div data-bg=" https://www.example.com/a.jpg">`, `<div data-bg=" https://edge.example.cn/a.jpg">`},
		{"lazy background url()", `<div data-bg="url('https://www.example.com/a.jpg'), url(https://www.example.com/b.jpg)">`, `<div data-bg="url('https://edge.example.cn/a.jpg'), url(https://edge.example.cn/b.jpg)">`},
		{"other data attribute", `<div data-href="https://www.example.com/">`, `<div data-href="https://www.example.com/">`},
		{"comment untouched", `<!-- <a href="https://www.example.com/"> -->`, `<!-- <a href="https://www.example.com/"> -->`},
		{"style element", `<style>a{b:url(https://www.example.com/x)}</style>`, `<style>a{b:url(https://edge.example.cn/x)}</style>`},
		{"other attr", `<a title="https://www.example.com/">`, `<a title="https://www.example.com/">`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.HTML([]byte(tt.in), "text/html", testEdge)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Replace(string(res.Body), r.noticeASCII, "", 1)
			if got != tt.want {
				t.Errorf("got %s; want %s", got, tt.want)
			}
		})
	}
}

func TestPlacement(t *testing.T) {
	tests := []struct{ name, sel, in, want string }{
		{"footer", "", `<body><p>a</p><footer>f</footer></body>`, `<body><p>a</p><footer>f</footer>@</body>`},
		{"last footer", "", `<footer>1</footer><footer>2</footer>x`, `<footer>1</footer><footer>2</footer>@x`},
		{"footer at the end", "", `<p>a<footer>f</footer>`, `<p>a<footer>f</footer>@`},
		{"flex footer", "", `<body><footer style="display:flex;justify-content:space-between"><span>a</span><nav>b</nav></footer>` + "\n</body>",
			`<body><footer style="display:flex;justify-content:space-between"><span>a</span><nav>b</nav></footer>@` + "\n</body>"},
		{"nested footer", "", `<footer>o<footer>i</footer></footer>`, `<footer>o<footer>i</footer>@</footer>`},
		{"footer in a cell", "", `<table><tr><td><footer>f</footer></td></tr></table>`, `<table><tr><td><footer>f</footer>@</td></tr></table>`},
		{"footer fostered from a table", "", `<table><footer>f</footer><tr><td>x</table>`, `<table><footer>f@</footer><tr><td>x</table>`},
		{"footer in template ignored", "", `<body><template><footer></footer></template></body>`, `<body><template><footer></footer></template>@</body>`},
		{"footer in svg ignored", "", `<body><svg><footer></footer></svg></body>`, `<body><svg><footer></footer></svg>@</body>`},
		{"footer in script ignored", "", `<body><script>"<footer></footer>"</script></body>`, `<body><script>"<footer></footer>"</script>@</body>`},
		{"footer closed by its parent", "", `<div><footer>f</div>t`, `<div><footer>f@</div>t`},
		{"selector", "#c", `<div id=c>c</div><footer>f</footer>`, `<div id=c>c@</div><footer>f</footer>`},
		{"selector missing", "#nope", `<div id=c>c</div><footer>f</footer>`, `<div id=c>c</div><footer>f</footer>@`},
		{"end of body", "", `<html><body><p>x</p></body></html>`, `<html><body><p>x</p>@</body></html>`},
		{"no body end", "", `<p>x`, `<p>x@`},
		{"unterminated script", "", `<p>x<script>a()`, `<p>x@<script>a()`},
		{"unterminated comment", "", `<p>x<!-- a`, `<p>x@<!-- a`},
		{"number there", "", `<a href="http://beian.miit.gov.cn/">京ICP备12345678号</a>`, `<a href="https://beian.miit.gov.cn/">京ICP备12345678号</a>+`},
		{"number there, with a footer", "", `<footer><a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></footer><p>x`, `<footer><a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></footer>+<p>x`},
		{"other number", "", `<a href="https://beian.miit.gov.cn/">京ICP备99999999号</a>`, `<a href="https://beian.miit.gov.cn/">京ICP备99999999号</a>@`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRewriter(t, tt.sel)
			for _, force := range []bool{false, true} {
				res, _ := r.html([]byte(tt.in), "text/html", testEdge, force)
				got := strings.Replace(string(res.Body), r.noticeASCII, "@", 1)
				got = strings.Replace(got, r.blocks[partCompany|partPolice], "+", 1)
				if got != tt.want {
					t.Errorf("force DOM %v: got %s; want %s", force, got, tt.want)
				}
			}
		})
	}
}

func TestNoticeHTML(t *testing.T) {
	r := testRewriter(t, "")
	got := r.NoticeHTML()
	for _, want := range []string{`id="icpedge-notice"`, `<a href="https://beian.miit.gov.cn/" target="_blank" rel="noopener nofollow"`,
		">京ICP备12345678号-1</a>", "https://beian.mps.gov.cn/#/query/webSearch?code=11010502012345",
		`<img src="/.icpedge/police.png"`, "北京示例科技有限公司", "display:block!important",
		// On top of positioned page content, and opaque (the browser
		// test checks what this achieves).
		"position:relative!important", "z-index:2147483647!important", "background:#fff!important"} {
		if !strings.Contains(got, want) {
			t.Errorf("got %s; want it to contain %s", got, want)
		}
	}
	for i := 0; i < len(r.noticeASCII); i++ {
		if r.noticeASCII[i] >= 0x80 {
			t.Fatalf("got non-ASCII byte in the injected block at %d; want ASCII only", i)
		}
	}
}

func TestStream(t *testing.T) {
	r := testRewriter(t, "")
	for _, p := range corpus {
		src := readPage(t, p.file)
		for _, chunk := range []int{1, 7, 4096, 1 << 20} {
			t.Run(fmt.Sprintf("%s/%d", p.name(), chunk), func(t *testing.T) {
				var out bytes.Buffer
				w := r.Stream(&out, p.contentType, testEdge)
				for b := src; len(b) > 0; {
					n := min(chunk, len(b))
					if _, err := w.Write(b[:n]); err != nil {
						t.Fatal(err)
					}
					b = b[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				got := out.Bytes()
				block := r.noticeASCII
				if p.partial {
					block = r.blocks[partCompany|partPolice]
				}
				if order := utf16Of(src, p.contentType); order != nil {
					// A UTF-16 page gets the notice in its own
					// characters; check what it reads as.
					src, got, block = decodeTest(t, order, src), decodeTest(t, order, got), r.noticeUTF8
				}
				n := bytes.Count(got, []byte(block))
				if want := 1; p.where == "" {
					want = 0
					if n != want {
						t.Fatalf("got %d notices; want %d", n, want)
					}
				} else if n != want {
					t.Fatalf("got %d notices; want %d", n, want)
				}
				if bytes.Contains(src, []byte("</body>")) {
					i := bytes.LastIndex(got, []byte("</body>"))
					if p.where != "" && !bytes.HasSuffix(got[:i], []byte(block)) {
						t.Fatalf("got notice not right before the last </body>")
					}
				}
				if bytes.Contains(got, []byte(`"https://www.example.com/`)) && !bytes.Contains(src, []byte("<script")) {
					t.Fatalf("got an origin URL left in a tag")
				}
			})
		}
	}
}

// TestStreamMatchesHTML checks that, where HTML places the notice before
// </body>, streaming produces the same bytes.
func TestStreamMatchesHTML(t *testing.T) {
	r := testRewriter(t, "")
	for _, in := range []string{
		`<html><body><a href="https://www.example.com/x">x</a><img srcset="//www.example.com/a 1x"></body></html>`,
		`<p style="background:url(https://www.example.com/b)">x`,
		`<a href="http://miibeian.gov.cn">y</a></body>`,
		// An end tag ends as a start tag does, past a '>' in quotes: what
		// the quotes hold is not a link to move.
		`<p>a</p title='><a href=//www.example.com/x>'><a href=//www.example.com/y>b</a>`,
	} {
		res, _ := r.HTML([]byte(in), "text/html", testEdge)
		var out bytes.Buffer
		w := r.Stream(&out, "text/html", testEdge)
		for i := 0; i < len(in); i += 3 {
			w.Write([]byte(in[i:min(i+3, len(in))]))
		}
		w.Close()
		if out.String() != string(res.Body) {
			t.Errorf("got %s; want %s", out.String(), res.Body)
		}
	}
}

// TestNoticeOnlyWhatIsMissing: a page that already links the number to
// MIIT still gets the company and the police number with its badge,
// unless it shows them too; HTML and Stream agree, in UTF-8 and GBK.
func TestNoticeOnlyWhatIsMissing(t *testing.T) {
	const (
		icpLink    = `<a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a>`
		policeLink = `<a href="https://beian.mps.gov.cn/#/query/webSearch?code=11010502012345">京公网安备11010502012345号</a>`
		oldPolice  = `<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=11010502012345">京公网安备11010502012345号</a>`
		company    = "北京示例科技有限公司"
	)
	r := testRewriter(t, "")
	tests := []struct {
		name, footer string
		gbk          bool
		want         int // the parts of the added block; 0 for none
	}{
		{"nothing there", `<p>© client</p>`, false, partICP | partCompany | partPolice},
		{"number there", icpLink, false, partCompany | partPolice},
		{"number under the short form", `<a href="https://beian.miit.gov.cn/">京ICP备12345678号</a>`, false, partCompany | partPolice},
		{"number and company there", "© " + company + " " + icpLink, false, partPolice},
		{"number and police there", icpLink + policeLink, false, partCompany},
		{"everything there", company + icpLink + policeLink, false, 0},
		{"police linked the old way", company + icpLink + oldPolice, false, partPolice},
		{"police number without its code in the text", company + icpLink + `<a href="https://beian.mps.gov.cn/#/query/webSearch?code=11010502012345">公安备案</a>`, false, partPolice},
		{"company in a GBK page", "版权所有 " + company + " " + icpLink, true, partPolice},
		{"police there, number missing", company + policeLink, false, partICP | partCompany},
		{"another number there", `<a href="https://beian.miit.gov.cn/">沪ICP备87654321号</a>`, false, partICP | partCompany | partPolice},
		{"company only in an attribute", `<img alt="` + company + `">` + icpLink, false, partCompany | partPolice},
		{"company in an attribute, then in the text", `<img alt="` + company + `">© ` + company + icpLink, false, partPolice},
		{"company in a template, then in the text", `<template>` + company + `</template>© ` + company + icpLink, false, partPolice},
		// Split by markup, the name is not in one run of text: HTML and
		// Stream alike add it, whatever the writes.
		{"company split by a tag", "© 北京示例<b>科技有限公司</b>" + icpLink, false, partCompany | partPolice},
		{"company split by a comment", "© 北京示例<!-- x -->科技有限公司" + icpLink, false, partCompany | partPolice},
		{"company beside a lone <", "a < b " + company + icpLink, false, partPolice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(`<!DOCTYPE html><html><head><title>` + company + `</title></head><body><p>x</p><footer>` + tt.footer + `</footer></body></html>`)
			ct := "text/html; charset=utf-8"
			if tt.gbk {
				enc, err := simplifiedchinese.GBK.NewEncoder().Bytes(in)
				if err != nil {
					t.Fatal(err)
				}
				in, ct = enc, "text/html; charset=gbk"
			}
			want := r.blocks[tt.want]
			res, err := r.HTML(in, ct, testEdge)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			w := r.Stream(&out, ct, testEdge)
			for b := in; len(b) > 0; b = b[min(len(b), 3):] {
				w.Write(b[:min(len(b), 3)])
			}
			w.Close()
			for name, got := range map[string][]byte{"HTML": res.Body, "Stream": out.Bytes()} {
				if want == "" {
					if !bytes.Equal(got, in) {
						t.Errorf("%s: got %q; want the page unchanged", name, got)
					}
					continue
				}
				if n := bytes.Count(got, []byte(want)); n != 1 {
					t.Errorf("%s: got %d blocks of the wanted parts in %q; want 1", name, n, got)
				}
				if n := bytes.Count(got, []byte(NoticeID+`"`)); n != 2 { // id and class
					t.Errorf("%s: got %d notice blocks; want 1", name, n/2)
				}
			}
			// The output as a whole shows each part, and a second pass
			// adds nothing.
			if again, _ := r.HTML(res.Body, res.ContentType, testEdge); !bytes.Equal(again.Body, res.Body) {
				t.Errorf("second pass changed the page")
			}
			page := string(res.Body)
			if tt.gbk {
				b, _ := simplifiedchinese.GBK.NewDecoder().Bytes(res.Body)
				page = string(b)
			}
			page = html.UnescapeString(page)
			for _, part := range []string{"beian.miit.gov.cn", company, "code=11010502012345"} {
				if !strings.Contains(page, part) {
					t.Errorf("output lacks %s", part)
				}
			}
			if tt.want&partPolice != 0 && !strings.Contains(page, `<img src="/.icpedge/police.png"`) {
				t.Errorf("police number added without its badge")
			}
		})
	}
}

// TestBuffer checks that a rewritten page goes into the buffer Options
// gives, reused or not, with the same bytes as without one: a UTF-8 page
// and a UTF-16 one, which is rewritten in UTF-8 and encoded back.
func TestBuffer(t *testing.T) {
	utf8Page := `<!DOCTYPE html><html><head><title>t</title></head><body><a href="https://www.example.com/x">x</a><footer>f</footer></body></html>`
	utf16Page, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(utf8Page))
	if err != nil {
		t.Fatal(err)
	}
	edge := Edge{Scheme: "https", Host: "icp.example.com"}
	plain, err := New(Options{Notice: testNotice(), RewriteHosts: []string{"www.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ctype string
		src         []byte
	}{
		{"utf-8", "text/html; charset=utf-8", []byte(utf8Page)},
		{"utf-16", "text/html", utf16Page},
	} {
		want, err := plain.HTML(tc.src, tc.ctype, edge)
		if err != nil || bytes.Equal(want.Body, tc.src) {
			t.Fatalf("%s: not rewritten: %v", tc.name, err)
		}
		for _, size := range []int{0, 64, 64 << 10} {
			var given []byte
			r, err := New(Options{Notice: testNotice(), RewriteHosts: []string{"www.example.com"}, Buffer: func(n int) []byte {
				// Dirty, as a reused buffer is, and perhaps too small.
				given = bytes.Repeat([]byte{'!'}, max(size, 1))[:0]
				return given
			}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.HTML(tc.src, tc.ctype, edge)
			if err != nil || !bytes.Equal(got.Body, want.Body) {
				t.Fatalf("%s, buffer of %d: got %q, %v; want %q", tc.name, size, got.Body, err, want.Body)
			}
			if into := given != nil && &got.Body[0] == &given[:1][0]; into != (size >= len(want.Body)+16) {
				t.Errorf("%s, buffer of %d for %d bytes: written into it: %v", tc.name, size, len(want.Body), into)
			}
		}
	}
}

// The scanner keeps one position for each form of the company name: a
// name that every encoding spells differently gives the most forms.
func TestCompanyForms(t *testing.T) {
	if all, _ := companyNeedles(testNotice().Company); len(all) != maxCompanyForms {
		t.Errorf("forms of %q: got %d; want %d (maxCompanyForms)", testNotice().Company, len(all), maxCompanyForms)
	}
}
