package rewrite

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

var (
	update    = flag.Bool("update", false, "rewrite the golden files in testdata/golden")
	genCorpus = flag.Bool("gencorpus", false, "regenerate the non-UTF-8 pages in testdata/corpus")
)

// page is one document of the test corpus.
type page struct {
	file        string
	contentType string
	selector    string
	// where says where the notice must land: "in X", as the last child of
	// X, or "after X", as the next sibling of X, where X is "tag",
	// "tag.class" or "tag#id"; "" when no notice is expected.
	where string
	// partial is set for a page that shows the number itself: the block
	// holds only the company and the police number.
	partial bool
}

var corpus = []page{
	{"wordpress.html", "text/html; charset=UTF-8", "", "after footer#site-footer", false},
	{"footers.html", "text/html", "", "after footer.page-footer", false},
	{"nested-footer-last.html", "text/html", "", "after footer.byline", false},
	{"no-end-tags.html", "text/html", "", "in div", false}, // the unclosed last <div> is open at EOF
	{"fragment.html", "", "", "in body", false},
	{"big-script.html", "text/html", "", "after footer", false},
	{"template-svg-pre.html", "text/html", "", "after footer.real", false},
	{"has-notice.html", "text/html", "", "after footer", true},
	{"has-all.html", "text/html", "", "", false},
	{"dead-link.html", "text/html", "", "in body", false},
	{"urls.html", "text/html", "", "after footer", false},
	{"scripts.html", "text/html; charset=UTF-8", "", "after footer", false},
	{"selector.html", "text/html", "div.copyright", "in div.copyright", false},
	{"selector.html", "text/html", "#missing", "after footer", false},
	{"late-meta.html", "text/html", "", "after footer", false},
	{"gbk.html", "text/html", "", "after footer", false},
	{"gbk-undeclared.html", "text/html; charset=gbk", "", "after footer", false},
	{"big5.html", "text/html", "", "in body", false},
	{"shift_jis.html", "text/html", "", "in body", false},
	{"utf16.html", "text/html", "", "in body", false},
	{"utf16.html", "text/html; charset=utf-16le", "", "in body", false},
	{"utf16be.html", "text/html", "", "after footer", false},
	{"utf16le-nobom.html", "text/html; charset=utf-16le", "", "in body", false},
}

// encodedPages are written by -gencorpus: real legacy-encoded bytes.
var encodedPages = []struct {
	file string
	enc  encoding.Encoding
	html string
}{
	{"gbk.html", simplifiedchinese.GBK, `<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>北京示例科技有限公司</title></head>
<body><div class="nav"><a href="http://www.example.com/about.html">关于我们</a> | <a href="http://www.example.com/news/">新闻中心</a></div>
<p>欢迎访问本公司网站，我们专注于软件开发。</p>
<footer><p>版权所有 &copy; 北京示例科技有限公司 地址：北京市海淀区</p></footer>
</body></html>
`},
	{"gbk-undeclared.html", simplifiedchinese.GBK, `<html><head><title>无声明页面</title></head>
<body><p>内容：中文字符“引号”</p><footer>页脚</footer></body></html>
`},
	{"big5.html", traditionalchinese.Big5, `<!DOCTYPE html>
<html><head><meta charset="big5"><title>臺灣範例公司</title></head>
<body><p>歡迎光臨，許功蓋</p><div id="ft">版權所有</div>
</body></html>
`},
	{"shift_jis.html", japanese.ShiftJIS, `<!DOCTYPE html>
<html><head><meta charset="Shift_JIS"><title>日本語のページ</title></head>
<body><p>表示・ソフト・能力</p><a href="https://www.example.com/ja/">リンク</a>
</body></html>
`},
	{"late-meta.html", charmap.Windows1252, "<!DOCTYPE html>\n<html><head>\n<!-- " + strings.Repeat("padding ", 150) +
		"-->\n<meta charset=\"windows-1252\">\n<title>Late meta</title></head>\n<body><p>Caf\u00e9 \u201cquoted\u201d \u20ac5</p><footer>f</footer></body></html>\n"},
	{"utf16.html", unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), `<!DOCTYPE html>
<html><head><title>UTF-16</title></head><body><p>宽字符</p></body></html>
`},
	// The <meta> is wrong and the byte order mark wins; the URL moves
	// onto the edge like in any page; 😀 is a surrogate pair.
	{"utf16be.html", unicode.UTF16(unicode.BigEndian, unicode.UseBOM), `<!DOCTYPE html>
<html><head><meta charset="gbk"><title>UTF-16BE 页面 😀</title></head>
<body><p>宽字符 <a href="https://www.example.com/zh/">链接</a></p>
<footer><p>版权所有 © 示例公司</p></footer>
</body></html>
`},
	{"utf16le-nobom.html", unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), `<html><head><title>无 BOM</title></head><body><div id="main">内容 😀</div></body></html>
`},
}

func TestGenerateCorpus(t *testing.T) {
	if !*genCorpus {
		t.Skip("run with -gencorpus to regenerate")
	}
	for _, p := range encodedPages {
		b, err := p.enc.NewEncoder().Bytes([]byte(p.html))
		if err != nil {
			t.Fatalf("%s: %v", p.file, err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "corpus", p.file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readPage(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testEdge = Edge{Scheme: "https", Host: "edge.example.cn"}

func testNotice() Notice {
	return Notice{
		ICP:            "京ICP备12345678号-1",
		Company:        "北京示例科技有限公司",
		Police:         "京公网安备11010502012345号",
		PoliceBadgeURL: "/.icpedge/police.png",
	}
}

func testRewriter(t testing.TB, selector string) *Rewriter {
	t.Helper()
	n := testNotice()
	n.Selector = selector
	r, err := New(Options{Notice: n, RewriteHosts: []string{"www.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (p page) name() string {
	n := strings.TrimSuffix(p.file, ".html")
	if p.selector != "" {
		n += "-sel" + strings.Map(func(c rune) rune {
			if c >= 'a' && c <= 'z' {
				return c
			}
			return '_'
		}, p.selector)
	}
	if strings.Contains(p.contentType, "charset") {
		n += "-ct"
	}
	return n
}

func TestGolden(t *testing.T) {
	for _, p := range corpus {
		t.Run(p.name(), func(t *testing.T) {
			r := testRewriter(t, p.selector)
			res, err := r.HTML(readPage(t, p.file), p.contentType, testEdge)
			if err != nil {
				t.Fatal(err)
			}
			got := append([]byte("Content-Type: "+res.ContentType+"\nSkipped: "+res.Skipped+"\n\n"), res.Body...)
			golden := filepath.Join("testdata", "golden", p.name()+".html")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("got %d bytes differing from %s; want golden (run with -update and review the diff)", len(got), golden)
			}
		})
	}
}
