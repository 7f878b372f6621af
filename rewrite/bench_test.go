package rewrite

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// benchPage grows the WordPress-like corpus page to about size bytes by
// repeating realistic article markup (links, images with srcset, inline
// styles, scripts) before its footer.
func benchPage(b testing.TB, size int) []byte {
	src := readPage(b, "wordpress.html")
	i := bytes.Index(src, []byte("<footer"))
	var post strings.Builder
	for n := 0; post.Len()+len(src) < size; n++ {
		fmt.Fprintf(&post, `<article class="post-%d post type-post status-publish"><header class="entry-header">
<h2 class="entry-title"><a href="https://www.example.com/%d/news-item/" rel="bookmark">新闻标题 %d：公司发布新产品</a></h2>
<div class="entry-meta"><span class="posted-on"><time datetime="2024-01-%02dT08:00:00+08:00">2024年1月%d日</time></span></div></header>
<div class="entry-content"><p>这是一段新闻摘要，介绍了产品的<strong>主要功能</strong>与<a href="https://www.example.com/product/%d">详细信息</a>。We also link to <a href="https://partner.example.org/">a partner</a>.</p>
<figure class="wp-block-image"><img loading="lazy" width="800" height="450" src="https://www.example.com/wp-content/uploads/2024/01/img-%d.jpg" srcset="https://www.example.com/wp-content/uploads/2024/01/img-%d-300x169.jpg 300w, https://www.example.com/wp-content/uploads/2024/01/img-%d.jpg 800w" sizes="(max-width: 800px) 100vw, 800px" alt="配图"></figure>
<div class="wp-block-buttons" style="margin-top:1em;background-image:url(https://www.example.com/wp-content/uploads/bg-%d.png)"><a class="wp-block-button__link" href="https://www.example.com/contact/?ref=%d&amp;utm=news">联系我们</a></div>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle","headline":"新闻 %d","url":"https://www.example.com/%d/"}</script>
</div></article>
`, n, n, n, n%28+1, n%28+1, n, n, n, n, n, n, n, n)
	}
	return append(append(append([]byte(nil), src[:i]...), post.String()...), src[i:]...)
}

func benchHTML(b *testing.B, size int, selector string) {
	page := benchPage(b, size)
	r := testRewriter(b, selector)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.HTML(page, "text/html; charset=utf-8", testEdge); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTML60KB(b *testing.B)  { benchHTML(b, 60<<10, "") }
func BenchmarkHTML100KB(b *testing.B) { benchHTML(b, 100<<10, "") }
func BenchmarkHTML300KB(b *testing.B) { benchHTML(b, 300<<10, "") }

// BenchmarkHTML100KBSelector needs the DOM: the selector matches the page.
func BenchmarkHTML100KBSelector(b *testing.B) { benchHTML(b, 100<<10, ".footer-copyright") }

// BenchmarkHTML100KBDOM forces the goquery decision for comparison.
func BenchmarkHTML100KBDOM(b *testing.B) {
	page := benchPage(b, 100<<10)
	r := testRewriter(b, "")
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		r.html(page, "text/html; charset=utf-8", testEdge, true)
	}
}

func BenchmarkStream300KB(b *testing.B) {
	page := benchPage(b, 300<<10)
	r := testRewriter(b, "")
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		w := r.Stream(io.Discard, "text/html", testEdge)
		for p := page; len(p) > 0; {
			n := min(len(p), 32<<10)
			w.Write(p[:n])
			p = p[n:]
		}
		w.Close()
	}
}

// BenchmarkHTML100KBLocalize is BenchmarkHTML100KB with every preset on and
// the localize test page's third-party markup (scripts, style sheets, fonts,
// avatars, embeds) in the head and the article.
func BenchmarkHTML100KBLocalize(b *testing.B) {
	page := benchPage(b, 100<<10)
	extra := readFile(b, "localize", "page.html")
	head := extra[bytes.Index(extra, []byte("<link")):bytes.Index(extra, []byte("</head>"))]
	main := extra[bytes.Index(extra, []byte("<main>")):bytes.Index(extra, []byte("</main>"))]
	i := bytes.Index(page, []byte("</head>"))
	page = append(append(append([]byte(nil), page[:i]...), head...), page[i:]...)
	i = bytes.Index(page, []byte("<footer"))
	page = append(append(append([]byte(nil), page[:i]...), main...), page[i:]...)
	r := localizeRewriter(b, presetRules(b, PresetOptions{}, allPresets()...)...)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.HTML(page, "text/html; charset=utf-8", testEdge); err != nil {
			b.Fatal(err)
		}
	}
}
