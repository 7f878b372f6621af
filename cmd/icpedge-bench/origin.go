package main

import (
	"bytes"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// pageSize is the size the sample page is grown to: a typical article
// page with its navigation, inline style and script.
const pageSize = 60 << 10

// origin is the in-process origin the edge fetches from. It serves the
// same page under every path (the path appears in its title and heading,
// so pages differ slightly) and counts the requests it gets per path.
type origin struct {
	srv  *httptest.Server
	head []byte // the page up to its title text
	mid  []byte // between the title and the heading text
	tail []byte // after the heading text

	total atomic.Int64
	mu    sync.Mutex
	count map[string]int // requests per path, under mu
	// extra, when set, answers the paths a scenario adds; it reports
	// false for the others.
	extra atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
}

// setExtra sets (or, with nil, clears) the handler of a scenario's own
// paths.
func (o *origin) setExtra(f func(http.ResponseWriter, *http.Request) bool) {
	if f == nil {
		o.extra.Store(nil)
		return
	}
	o.extra.Store(&f)
}

func startOrigin() *origin {
	o := &origin{count: map[string]int{}}
	o.head, o.mid, o.tail = pageParts()
	o.srv = httptest.NewServer(http.HandlerFunc(o.serveHTTP))
	return o
}

func (o *origin) Close() { o.srv.Close() }

// URL is the origin's base URL (http://127.0.0.1:port).
func (o *origin) URL() string { return o.srv.URL }

// addr is the origin's address (127.0.0.1:port).
func (o *origin) addr() string { return o.srv.Listener.Addr().String() }

func (o *origin) serveHTTP(w http.ResponseWriter, r *http.Request) {
	o.total.Add(1)
	o.mu.Lock()
	o.count[r.URL.Path]++
	o.mu.Unlock()
	if f := o.extra.Load(); f != nil && (*f)(w, r) {
		return
	}

	body := o.page(r.URL.Path)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Last-Modified", "Mon, 02 Mar 2026 08:00:00 GMT")
	h.Set("ETag", `"`+strconv.FormatUint(fnv64(r.URL.Path), 36)+`"`)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// page returns the document served at path.
func (o *origin) page(path string) []byte {
	esc := html.EscapeString(path)
	b := make([]byte, 0, len(o.head)+len(o.mid)+len(o.tail)+2*len(esc))
	b = append(b, o.head...)
	b = append(b, esc...)
	b = append(b, o.mid...)
	b = append(b, esc...)
	return append(b, o.tail...)
}

// pathCounts returns how many requests each path under prefix got.
func (o *origin) pathCounts(prefix string) map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for p, n := range o.count {
		if strings.HasPrefix(p, prefix) {
			out[p] = n
		}
	}
	return out
}

// pageParts builds a deterministic bilingual news page of about pageSize
// bytes, split around the two places the path goes. Words come from a
// fixed vocabulary in a seeded order, so the page compresses about as
// well as real prose does, not as well as repeated filler would.
func pageParts() (head, mid, tail []byte) {
	rng := rand.New(rand.NewPCG(20260302, 1))
	words := strings.Fields(`the of and to in a is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all we their has would when if so no out up said what its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three`)
	han := []string{"我们", "公司", "产品", "服务", "客户", "发展", "技术", "市场", "中国", "北京", "上海", "新闻", "合作", "项目", "管理", "质量", "创新", "系统", "平台", "数据", "用户", "提供", "支持", "工作", "企业", "行业", "国际", "经济", "社会", "文化", "教育", "研究"}
	sentence := func(b *bytes.Buffer, n int) {
		for i := range n {
			if rng.IntN(3) == 0 {
				b.WriteString(han[rng.IntN(len(han))])
				b.WriteString(han[rng.IntN(len(han))])
				b.WriteString("，")
				continue
			}
			w := words[rng.IntN(len(words))]
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			b.WriteByte(' ')
		}
		b.WriteString("。 ")
	}

	var b bytes.Buffer
	b.WriteString(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>`)
	head = bytes.Clone(b.Bytes())
	b.Reset()
	b.WriteString(` | 客户科技有限公司 News</title>
<meta name="description" content="Company news, product updates and case studies.">
<link rel="stylesheet" href="/static/css/site.9f3c2a.css">
<link rel="icon" href="/favicon.ico">
<style>
:root{--brand:#c8102e;--ink:#1d1d1f;--muted:#6e6e73;--bg:#fafafa}
*{box-sizing:border-box}body{margin:0;font:16px/1.6 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:var(--ink);background:var(--bg)}
header{position:sticky;top:0;background:#fff;border-bottom:1px solid #e5e5e5;z-index:10}
nav ul{display:flex;gap:1.5rem;list-style:none;margin:0 auto;padding:.75rem 1rem;max-width:72rem}
nav a{color:var(--ink);text-decoration:none}nav a:hover{color:var(--brand)}
main{max-width:72rem;margin:0 auto;padding:2rem 1rem;display:grid;grid-template-columns:3fr 1fr;gap:2rem}
article{background:#fff;border-radius:8px;padding:1.5rem;margin-bottom:1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}
article h2{margin-top:0;font-size:1.375rem}article .meta{color:var(--muted);font-size:.875rem}
aside section{background:#fff;border-radius:8px;padding:1rem;margin-bottom:1rem}
footer{background:#1d1d1f;color:#d2d2d7;padding:2rem 1rem;font-size:.875rem}
footer a{color:#d2d2d7}@media (max-width:48rem){main{grid-template-columns:1fr}}
</style>
<script>
window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}
gtag('js',new Date());gtag('config','G-XXXXXXX',{anonymize_ip:true});
document.documentElement.classList.add('js');
</script>
</head>
<body>
<header>
<nav><ul>
`)
	for _, s := range []string{"首页", "产品中心", "解决方案", "客户案例", "新闻动态", "技术支持", "关于我们", "联系我们"} {
		fmt.Fprintf(&b, "<li><a href=\"/%x/\">%s</a></li>\n", fnv64(s)&0xffff, s)
	}
	b.WriteString("</ul></nav>\n</header>\n<main>\n<div class=\"feed\">\n<h1>")
	mid = bytes.Clone(b.Bytes())
	b.Reset()
	b.WriteString("</h1>\n")

	var aside bytes.Buffer
	aside.WriteString("</div>\n<aside>\n<section><h3>热门文章</h3><ol>\n")
	for i := range 12 {
		fmt.Fprintf(&aside, "<li><a href=\"/news/2026/%02d/%d.html\">", i%12+1, 1000+i*37)
		sentence(&aside, 4)
		aside.WriteString("</a></li>\n")
	}
	aside.WriteString("</ol></section>\n</aside>\n</main>\n")
	footer := `<footer>
<div class="links"><a href="/about/">关于我们</a> · <a href="/privacy/">隐私政策</a> · <a href="/terms/">使用条款</a> · <a href="/sitemap.xml">网站地图</a></div>
<p>© 2026 客户科技有限公司 版权所有</p>
</footer>
<script src="/static/js/app.4b1e7d.js" defer></script>
</body>
</html>
`
	for n := 0; b.Len()+aside.Len()+len(footer) < pageSize-len(head)-len(mid); n++ {
		fmt.Fprintf(&b, "<article id=\"a%d\">\n<h2><a href=\"/news/2026/03/%d.html\">", n, 4000+n)
		sentence(&b, 8)
		fmt.Fprintf(&b, "</a></h2>\n<p class=\"meta\">2026-03-%02d · 新闻动态</p>\n", n%28+1)
		for range 1 + rng.IntN(3) {
			b.WriteString("<p>")
			sentence(&b, 20+rng.IntN(25))
			b.WriteString("</p>\n")
		}
		if n%4 == 3 {
			fmt.Fprintf(&b, "<figure><img src=\"/static/img/%d.jpg\" alt=\"\" width=\"720\" height=\"405\" loading=\"lazy\"></figure>\n", 7000+n)
		}
		b.WriteString("</article>\n")
	}
	b.Write(aside.Bytes())
	b.WriteString(footer)
	return head, mid, bytes.Clone(b.Bytes())
}

// fnv64 is FNV-1a, for short stable identifiers.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
