package rewrite

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestScriptURLs covers the forms of an origin URL in an inline script,
// and what stays because it is ambiguous.
func TestScriptURLs(t *testing.T) {
	r := testRewriter(t, "")
	tests := []struct{ name, in, want string }{
		{"plain", `"https://www.example.com/a"`, `"https://edge.example.cn/a"`},
		{"http, upper case", `'HTTP://WWW.Example.COM/a'`, `'https://edge.example.cn/a'`},
		{"port", `"https://www.example.com:8443/a"`, `"https://edge.example.cn/a"`},
		{"escaped slashes", `{"u":"http:\/\/www.example.com\/a"}`, `{"u":"https:\/\/edge.example.cn\/a"}`},
		{"host at the end of a string", `{"home":"http:\/\/www.example.com"}`, `{"home":"https:\/\/edge.example.cn"}`},
		{"unicode escapes", `"https:\u002F\u002Fwww.example.com\u002Fa"`, `"https:\u002F\u002Fedge.example.cn\u002Fa"`},
		{"unicode escapes, lower case", `"https:\u002f\u002fwww.example.com\u002f"`, `"https:\u002f\u002fedge.example.cn\u002f"`},
		{"escaped quote after the host", `"<a href=\"http://www.example.com\">"`, `"<a href=\"https://edge.example.cn\">"`},
		{"\\u0022 after the host", `"http:\/\/www.example.com\u0022"`, `"https:\/\/edge.example.cn\u0022"`},
		{"query after the host", `"https://www.example.com?p=1"`, `"https://edge.example.cn?p=1"`},
		{"two in a row", `["http://www.example.com/","http://www.example.com/b"]`, `["https://edge.example.cn/","https://edge.example.cn/b"]`},
		{"at the end of the script", `x="https://www.example.com`, `x="https://edge.example.cn`},
		{"lookalike host", `"https://www.example.com.evil.test/"`, ``},
		{"longer host", `"https://www.example.community/"`, ``},
		{"escaped dot continues the host", `"https:\u002F\u002Fwww.example.com\u002Eevil.test"`, ``},
		{"hex escape continues the host", `"https://www.example.com\x2eevil.test"`, ``},
		{"unknown escape", `"https://www.example.com\qx"`, ``},
		{"percent-encoding continues the host", `"https://www.example.com%2e/"`, ``},
		{"user info", `"https://user@www.example.com/"`, ``},
		{"mixed slashes", `"https:/\/www.example.com/"`, ``},
		{"scheme inside a word", `"xhttps://www.example.com/"`, ``},
		{"protocol-relative, maybe a comment", `//www.example.com/x`, ``},
		{"other host", `"https://cdn.example.net/"`, ``},
		{"ftp", `"ftp://www.example.com/"`, ``},
		{"no slashes", `"https:www.example.com"`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.in
			}
			in := "<script>" + tt.in + "</script>"
			res, err := r.HTML([]byte(in), "text/html", testEdge)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Replace(string(res.Body), r.noticeASCII, "", 1); got != "<script>"+want+"</script>" {
				t.Errorf("got %s; want <script>%s</script>", got, want)
			}
			if got := string(r.JSON([]byte(tt.in), testEdge)); got != want {
				t.Errorf("JSON: got %s; want %s", got, want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	r := testRewriter(t, "")
	in := []byte(`{"id":1,"link":"http:\/\/www.example.com\/hello-world\/","guid":{"rendered":"http:\/\/www.example.com\/?p=1"},` +
		`"content":{"rendered":"<p><a href=\"http:\/\/www.example.com\/x\">x<\/a><\/p>"},"_links":{"self":[{"href":"http:\/\/www.example.com\/wp-json\/wp\/v2\/posts\/1"}]},` +
		`"other":"https:\/\/cdn.example.net\/"}`)
	want := `{"id":1,"link":"https:\/\/edge.example.cn\/hello-world\/","guid":{"rendered":"https:\/\/edge.example.cn\/?p=1"},` +
		`"content":{"rendered":"<p><a href=\"https:\/\/edge.example.cn\/x\">x<\/a><\/p>"},"_links":{"self":[{"href":"https:\/\/edge.example.cn\/wp-json\/wp\/v2\/posts\/1"}]},` +
		`"other":"https:\/\/cdn.example.net\/"}`
	if got := string(r.JSON(in, testEdge)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	none := []byte(`{"a":"https:\/\/cdn.example.net\/"}`)
	if got := r.JSON(none, testEdge); &got[0] != &none[0] {
		t.Errorf("a document naming no origin host was copied; want it returned as it is")
	}
	plain, err := New(Options{Notice: testNotice()})
	if err != nil {
		t.Fatal(err)
	}
	if plain.EditsJSON() || !r.EditsJSON() {
		t.Errorf("EditsJSON: %v without rewrite hosts, %v with; want false, true", plain.EditsJSON(), r.EditsJSON())
	}
	if got := string(plain.JSON(in, testEdge)); got != string(in) {
		t.Errorf("without rewrite hosts: got %s; want the input", got)
	}
}

// TestXML checks a WordPress feed and a sitemap: every URL on the
// origin's host moves onto the edge, in element text, attributes, CDATA
// and escaped markup, and nothing else changes.
func TestXML(t *testing.T) {
	r := testRewriter(t, "")
	const feed = `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>` +
		`<atom:link href="%[1]s/feed/" rel="self" type="application/rss+xml" />` +
		`<link>%[1]s</link><item><title>Hello</title><link>%[1]s/hello-world/</link>` +
		`<guid isPermaLink="false">%[1]s/?p=1</guid>` +
		`<description>&lt;a href=&quot;%[1]s/x/&quot;&gt;x&lt;/a&gt;</description>` +
		`<content:encoded><![CDATA[<p><img src="%[1]s/wp-content/uploads/a.jpg?w=1&amp;h=2"></p>]]></content:encoded>` +
		`<comments>HTTP://WWW.EXAMPLE.COM:80/hello-world/#comments</comments>` +
		`<source url="https://www.example.com.evil.example/">x</source><author>www.example.com</author>` +
		`<enclosure url="https://cdn.example.net/a.mp3" /></item></channel></rss>`
	in := fmt.Sprintf(feed, "https://www.example.com")
	want := strings.Replace(fmt.Sprintf(feed, "https://edge.example.cn"), "HTTP://WWW.EXAMPLE.COM:80", "https://edge.example.cn", 1)
	if got := string(r.XML([]byte(in), testEdge)); got != want {
		t.Errorf("feed: got\n%s\nwant\n%s", got, want)
	}
	sitemap := `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://www.example.com/about/</loc></url></urlset>`
	if got, want := string(r.XML([]byte(sitemap), testEdge)), strings.Replace(sitemap, "http://www.example.com", "https://edge.example.cn", 1); got != want {
		t.Errorf("sitemap: got %s; want %s", got, want)
	}
	none := []byte(`<urlset><url><loc>https://cdn.example.net/</loc></url></urlset>`)
	if got := r.XML(none, testEdge); &got[0] != &none[0] {
		t.Errorf("a document naming no origin host was copied; want it returned as it is")
	}
	plain, err := New(Options{Notice: testNotice()})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(plain.XML([]byte(in), testEdge)); got != in {
		t.Errorf("without rewrite hosts: got %s; want the input", got)
	}
}

func TestLinkHeader(t *testing.T) {
	r := testRewriter(t, "")
	tests := []struct{ in, want string }{
		{`<http://www.example.com/wp-json/>; rel="https://api.w.org/"`, `<https://edge.example.cn/wp-json/>; rel="https://api.w.org/"`},
		{`<https://www.example.com/?p=1>; rel=shortlink, <https://www.example.com/wp-json/wp/v2/posts/1>; rel="alternate"; type="application/json"`,
			`<https://edge.example.cn/?p=1>; rel=shortlink, <https://edge.example.cn/wp-json/wp/v2/posts/1>; rel="alternate"; type="application/json"`},
		{`</style.css>; rel=preload; as=style`, `</style.css>; rel=preload; as=style`},
		{`<//www.example.com/a.js>; rel=preload; as=script`, `<https://edge.example.cn/a.js>; rel=preload; as=script`},
		{`<https://cdn.example.net/a>; rel=preconnect`, `<https://cdn.example.net/a>; rel=preconnect`},
		{`<https://www.example.com/a>; title="a, <b>", <https://www.example.com/c>; rel=next`, `<https://edge.example.cn/a>; title="a, <b>", <https://edge.example.cn/c>; rel=next`},
		{`<https://www.example.com/a`, `<https://www.example.com/a`},
		{``, ``},
	}
	for _, tt := range tests {
		if got := r.Link(tt.in, testEdge); got != tt.want {
			t.Errorf("Link(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestRefreshHeader(t *testing.T) {
	r := testRewriter(t, "")
	for _, tt := range []struct{ in, want string }{
		{`0; url=http://www.example.com/next`, `0; url=https://edge.example.cn/next`},
		{`5;URL='https://www.example.com/a'`, `5;URL='https://edge.example.cn/a'`},
		{`3`, `3`},
		{`0; url=https://cdn.example.net/`, `0; url=https://cdn.example.net/`},
	} {
		if got := r.Refresh(tt.in, testEdge); got != tt.want {
			t.Errorf("Refresh(%q): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

// A stream may cut a script anywhere; the URLs in it move exactly as they
// do in the whole page.
func TestStreamScriptAcrossWrites(t *testing.T) {
	r := testRewriter(t, "")
	page := readPage(t, "scripts.html")
	want, err := r.HTML(page, "text/html; charset=UTF-8", testEdge)
	if err != nil {
		t.Fatal(err)
	}
	// The stream places the notice before </body>, the buffered rewrite
	// after the footer: compare what each does to the rest.
	strip := func(b []byte) []byte { return bytes.Replace(b, []byte(r.noticeASCII), nil, 1) }
	for _, size := range []int{1, 2, 3, 5, 7, 11, 64, 333, 4096} {
		var out bytes.Buffer
		w := r.Stream(&out, "text/html; charset=UTF-8", testEdge)
		for b := page; len(b) > 0; {
			n := min(len(b), size)
			if _, err := w.Write(b[:n]); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := strip(out.Bytes()); !bytes.Equal(got, strip(want.Body)) {
			t.Errorf("writes of %d bytes: got\n%s\nwant\n%s", size, got, strip(want.Body))
		}
	}
}

// Splitting one script at every byte gives the same result, and the
// stream never holds more than maxScriptCarry of it back.
func TestStreamScriptCarry(t *testing.T) {
	r := testRewriter(t, "")
	script := `var a="http:\/\/www.example.com\/x",b='https:\u002F\u002Fwww.example.com:8080',c="https://www.example.com.evil.test/";` +
		strings.Repeat("x", 3000) + `d="https://www.example.com"`
	in := "<p>x<script>" + script + "</script></body>"
	res, _ := r.HTML([]byte(in), "text/html", testEdge)
	want := strings.Replace(string(res.Body), r.noticeASCII, "", 1)
	for cut := 1; cut < len(in); cut++ {
		var out bytes.Buffer
		w := r.Stream(&out, "text/html", testEdge)
		w.Write([]byte(in[:cut]))
		if s := w.(*stream); len(s.buf) > maxScriptCarry+len("</script") && cut > len("<p>x<script>")+maxScriptCarry+600 && cut < len(in)-600 {
			t.Fatalf("cut at %d: holding %d bytes back; want at most %d", cut, len(s.buf), maxScriptCarry+len("</script"))
		}
		w.Write([]byte(in[cut:]))
		w.Close()
		if got := strings.Replace(out.String(), r.noticeASCII, "", 1); got != want {
			t.Fatalf("cut at %d: got %s; want %s", cut, got, want)
		}
	}
}
