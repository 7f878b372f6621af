package rewrite

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// lexTok is one token as the differential tests compare it: its type, its
// raw span in the input, the text of a text token and the name of a tag
// (the scan's tagName against the tokenizer's TagName).
type lexTok struct {
	typ        html.TokenType
	start, end int
	text       string
}

func (t lexTok) String() string {
	return fmt.Sprintf("%v[%d:%d]%q", t.typ, t.start, t.end, t.text)
}

// The control bytes drive AllowCDATA and NextIsNotRawText as a caller
// might: before the k-th token, bit 0 of ctl[k%len(ctl)] is AllowCDATA's
// argument, and after a start tag bit 1 calls NextIsNotRawText. The scan
// calls them as its foreign content dictates; every pattern of calls must
// give the same tokens.
func ctlBits(ctl []byte, k int) (cdata, notRaw bool) {
	if len(ctl) == 0 {
		return false, false
	}
	c := ctl[k%len(ctl)]
	return c&1 != 0, c&2 != 0
}

// tokenizerTokens is what golang.org/x/net/html's Tokenizer makes of src.
func tokenizerTokens(t testing.TB, src, ctl []byte) []lexTok {
	z := html.NewTokenizer(bytes.NewReader(src))
	var toks []lexTok
	off := 0
	for k := 0; ; k++ {
		cdata, notRaw := ctlBits(ctl, k)
		z.AllowCDATA(cdata)
		tt := z.Next()
		if tt == html.ErrorToken {
			return toks
		}
		raw := z.Raw()
		if !bytes.Equal(raw, src[off:off+len(raw)]) {
			t.Fatalf("tokenizer's raw bytes %q are not the input's at %d", raw, off)
		}
		tok := lexTok{typ: tt, start: off, end: off + len(raw)}
		off += len(raw)
		switch tt {
		case html.TextToken:
			tok.text = string(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			tok.text = string(name)
		}
		if notRaw && (tt == html.StartTagToken || tt == html.SelfClosingTagToken) {
			z.NextIsNotRawText()
		}
		toks = append(toks, tok)
	}
}

// lexerTokens is what the lexer makes of src, driven the same way.
func lexerTokens(src, ctl []byte) []lexTok {
	l := &lexer{src: src}
	sc := &scanner{}
	var toks []lexTok
	for k := 0; ; k++ {
		cdata, notRaw := ctlBits(ctl, k)
		l.AllowCDATA(cdata)
		tt := l.Next()
		if tt == html.ErrorToken {
			return toks
		}
		tok := lexTok{typ: tt, start: l.start, end: l.end}
		switch tt {
		case html.TextToken:
			tok.text = string(l.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			tok.text = string(sc.tagName(l.Raw()[1:]))
		case html.EndTagToken:
			tok.text = string(sc.tagName(l.Raw()[2:]))
		}
		if notRaw && (tt == html.StartTagToken || tt == html.SelfClosingTagToken) {
			l.NextIsNotRawText()
		}
		toks = append(toks, tok)
	}
}

// checkLexer fails t at the first token where the lexer and the tokenizer
// part on src.
func checkLexer(t testing.TB, name string, src, ctl []byte) {
	t.Helper()
	want := tokenizerTokens(t, src, ctl)
	got := lexerTokens(src, ctl)
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w lexTok
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("%s (ctl %v): token %d: got %v; want %v (input %q)", name, ctl, i, g, w, clip(src))
		}
	}
	// The tokens tile the input up to where the tokenizer stops.
	for i := 1; i < len(got); i++ {
		if got[i].start != got[i-1].end {
			t.Fatalf("%s: token %d starts at %d, not at %d", name, i, got[i].start, got[i-1].end)
		}
	}
}

func clip(b []byte) []byte {
	if len(b) > 400 {
		return b[:400]
	}
	return b
}

// ctlPatterns are the AllowCDATA/NextIsNotRawText patterns every input is
// tokenized with: never, always, each alone, and mixed.
var ctlPatterns = [][]byte{nil, {1}, {2}, {3}, {0, 3}, {1, 2, 0}, {2, 0, 1, 3, 3}}

// lexerCorners are inputs for the lexer's every state, each also cut short
// at every byte.
var lexerCorners = []string{
	// Text and '<' that starts nothing.
	"", "a", "<", "a<", "<<", "<<a>", "< a>", "<1>", "<=>", "a < b > c", "<\x00a>", "x&amp;y&lt", "a\r\nb\rc\n",
	"&#0;\x00&nbsp", "<é>", "<ä>",
	// Start tags and attributes.
	"<a>", "<A HREF=x>", "<a\tb\nc\fd\re>", "<a b>", "<a b=>", "<a b= >", "<a b=c>", "<a b='c'>", `<a b="c">`,
	`<a b="c>d">`, `<a b='c>d'>`, `<a b=c"d>`, `<a b = "c">`, `<a ==">">x`, `<a b==">">x`, `<a =b>`, `<a b=c=d>`,
	`<a "b"=c>`, `<a 'b='c'>'>`, `<a b='c`, `<a b="c`, `<a b=c`, `<a b=`, `<a b`, `<a `, `<a/`, `<a/b>`, `<a//>`,
	`<a b c d>`, `<a b="1"c="2">`, `<a\x00b=\x00>`, `<A B=1 b=2>`,
	// Self-closing: the '/' of an unquoted value, and duplicates.
	"<br/>", "<br />", "<br/ >", "<a b=/>", "<a b=x/>", "<a b=x />", "<a b='x'/>", `<a b="x"/>`, "<a b/>",
	"<a b=1 b=x/>", "<a b=1 B=x/>", "<a B=1 b=x/>", "<a c=1 b=x/>", "<a / b=x/>", "<a =/>", "<a ==/>", "<a b= />",
	"<a b=//>", "<a/ />", "<a b=x/ >", "<script/>x</script>", "<title/>x</title>",
	// End tags.
	"</a>", "</A>", "</a b='>'>x", "</a/>", "</>", "</", "</ ", "</ x>", "</1>", "</a", "</a ", "</-->", "</\x00>",
	"x</>y", "a</b",
	// Comments.
	"<!---->", "<!-->", "<!--->", "<!-- -->", "<!--x-->", "<!--x--!>", "<!--x--!->y-->", "<!--x--!x-->",
	"<!--x--!!>y-->", "<!--x->y-->", "<!--x-- >y-->", "<!---x-->", "<!----x-->", "<!--x---->", "<!--", "<!---",
	"<!--x", "<!--x-", "<!--x--", "<!--x--!", "<!--<!-->", "<!--->-->", "<!-- --!-->", "<!--!-->", "<!--!>-->",
	"<!-----!>", "<!--x-!>-->", "<!--x--->",
	// Markup declarations: DOCTYPE, CDATA, bogus comments.
	"<!DOCTYPE html>", "<!doctype html>", "<!DocType>", "<!DOCTYPEhtml>", "<!DOCTYPE", "<!DOCTYPE ", "<!DOCTY",
	"<!DOCTYPE x", "<!DOCTYPEx>y", "<!", "<!>", "<!>x", "<!x>", "<!-x>", "<!-", "<?xml?>", "<?", "<?x", "<?>",
	"<![CDATA[x]]>", "<![CDATA[x]]]>", "<![CDATA[x]>]]>", "<![CDATA[x", "<![CDATA[", "<![CDAT", "<![cdata[x]]>",
	"<![CDATA[a\x00b&amp;\r\n]]>", "<svg><![CDATA[<p>]]></svg>",
	// Raw text elements.
	"<title>a<b>c</b>&amp;</title>", "<textarea>a&lt;\x00</textarea>", "<style>a</b></style >x",
	"<xmp><p></xmp>", "<iframe><p></iframe/>", "<noembed><p></noembed>", "<noframes><p></noframes>",
	"<noscript><p></noscript>", "<plaintext><p></plaintext>", "<plaintext>", "<PLAINTEXT>a\x00", "<title>",
	"<title></title>", "<title>x</titl", "<title>x</title", "<title>x</title>", "<title>x</titlex></title>",
	"<title>x</TITLE>", "<title>x</</title>", "<style>x</style", "<STYLE>x</sTyLe\t>", "<textarea/>x</textarea>",
	"<title a='</title>'>x</title>", "<title>a</title b='>'>", "<xmp>\r\n</xmp>", "<iframe>&amp;</iframe>",
	// Script data, escaped and double-escaped.
	"<script>a</script>", "<script>a</SCRIPT>", "<script>a</script", "<script>a</scrip", "<script>a</scriptx>",
	"<script>if(a<b)c</script>", "<script>a<!--b</script>", "<script><!--</script>--></script>",
	"<script><!--<script></script>--></script>", "<script><!--<script>x</script>y</script>",
	"<script><!--<script>--></script>", "<script><!--<scriptx></script>", "<script><!--<SCRIPT ></script>",
	"<script><!-- -><</script>", "<script><!--<1</script>", "<script><!--<a</script>", "<script><!--<</script>",
	"<script><!--<script/></script>-->", "<script><!--<script>--!></script>", "<script><!--<script><!--</script>",
	"<script><!--<script>-</script>--</script>", "<script><!--<script>--->x</script>",
	"<script><!--<script></scrip></script>--></script>", "<script><!-</script>", "<script><!</script>",
	"<script><!-x--></script>", "<script><!---></script>", "<script><!---->x</script>", "<script><!--x-->y</script>",
	"<script><!--x-y</script>", "<script><!--<script>x</script>-->", "<script><!--<script>x</script><!--y</script>",
	"<script><!--", "<script><!--<", "<script><!--<s", "<script><!--<script", "<script><!--<script>",
	"<script><!--<script><", "<script><!--<script></", "<script><!--<script></script", "<script>\x00</script>",
	"<script></script>", "<script>", "<script><</script>", "<script></</script>", "<script></script/>",
	"<script><!--<script>a<!--b--></script>c</script>", "<script>a<!--b--><!--<script>--></script>",
	"<script><!--<script\t>a</script\n>b</script>", "<script><!--<1<script></script>x</script>",
	"<script><!--< <script></script>x</script>", "<script><!--<!<script></script>x</script>", "<script><!--<scRipT/></sCrIpT>x</script>",
	// Mixed documents.
	"<!DOCTYPE html><html><head><title>t</title><script>x<y</script></head><body><p a=b>c</p></body></html>",
	"<svg><title>a<b>c</b></title></svg>", "<math><mi><![CDATA[x]]></mi></math>",
	"<body><a href=https://beian.miit.gov.cn/>京ICP备12345678号&nbsp;-1</a></body>",
}

// testdataInputs returns every input under testdata: pages, golden
// outputs and the fuzz corpora's []byte and string values.
func testdataInputs(t testing.TB) map[string][]byte {
	in := map[string][]byte{}
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(b, []byte("go test fuzz v1\n")) {
			in[path] = b
			return nil
		}
		for i, line := range strings.Split(string(b), "\n")[1:] {
			for _, p := range []string{"[]byte(", "string("} {
				if q, ok := strings.CutPrefix(line, p); ok {
					v, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					in[fmt.Sprintf("%s#%d", path, i)] = []byte(v)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(in) < 50 {
		t.Fatalf("found %d inputs under testdata; want the corpus, golden files and fuzz seeds", len(in))
	}
	return in
}

// TestLexerMatchesTokenizer holds the lexer to x/net/html's tokens over
// every input in testdata and the corner cases, whole and cut short.
func TestLexerMatchesTokenizer(t *testing.T) {
	for _, s := range lexerCorners {
		for _, ctl := range ctlPatterns {
			for n := 0; n <= len(s); n++ {
				checkLexer(t, fmt.Sprintf("corner %q[:%d]", s, n), []byte(s[:n]), ctl)
			}
		}
	}
	for name, src := range testdataInputs(t) {
		for _, ctl := range ctlPatterns {
			checkLexer(t, name, src, ctl)
		}
		// Cut short at about 200 places, as a truncated origin response
		// would be.
		step := max(1, len(src)/200)
		for n := 0; n < len(src); n += step {
			checkLexer(t, fmt.Sprintf("%s[:%d]", name, n), src[:n], ctlPatterns[n%len(ctlPatterns)])
		}
	}
}

// FuzzLexerMatchesTokenizer looks for an input, and a pattern of
// AllowCDATA and NextIsNotRawText calls, on which the lexer and the
// tokenizer part.
func FuzzLexerMatchesTokenizer(f *testing.F) {
	for _, src := range testdataInputs(f) {
		f.Add(src, []byte(nil))
		f.Add(src, []byte{1, 2, 0})
	}
	for _, s := range lexerCorners {
		f.Add([]byte(s), []byte{3})
	}
	f.Fuzz(func(t *testing.T, src, ctl []byte) {
		checkLexer(t, "fuzz", src, ctl)
	})
}
