// Package demo is what "icpedge demo" runs: a sample origin, and the
// config of an edge in front of it that needs no network.
package demo

import (
	"io"
	"net/http"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// ConfigFormat is the config of the instance the demo runs, a format
// for fmt.Sprintf with, in order, the sample origin's URL and address,
// the edge's listen address and its state directory.
const ConfigFormat = `# icpedge demo instance
hosts: [localhost]
origin: %s
rewrite_hosts: [www.client.example, %s]
listen:
  http: %s
state_dir: %s
notice:
  icp: 京ICP备12345678号-1
  company: 示例科技有限公司
  police: 京公网安备11010502012345号
admin:
  listen: ""
`

// Origin is a small sample origin: a UTF-8 site with a footer, a GBK
// page, a page without a footer, a stylesheet and a redirect.
func Origin() http.Handler {
	mux := http.NewServeMux()
	// Everything may be kept for five minutes (RFC 9111 §5.2.2.1), so the
	// second request for a page is a hit, as it is for a real origin that
	// says how long its pages stay fresh.
	cacheable := func(w http.ResponseWriter, ctype string) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	page := func(title, body string) string {
		return `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>` + title + `</title>
<link rel="stylesheet" href="https://www.client.example/style.css">
</head>
<body>
<nav><a href="https://www.client.example/">Home</a> · <a href="/about">About</a> · <a href="/gbk">GBK page</a> · <a href="/plain">No footer</a> · <a href="/old">Old link</a></nav>
<main>` + body + `</main>
</body>
</html>
`
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		cacheable(w, "text/html; charset=utf-8")
		io.WriteString(w, strings.Replace(page("Client Co.", `
<h1>Welcome to Client Co.</h1>
<p>This page comes from the sample origin. The edge moved its links onto itself and put the ICP notice below the footer.</p>
<p><img src="https://www.client.example/logo.svg" width="120" height="40" alt="logo"></p>
`), "</main>", `</main>
<footer class="site-footer"><p>© 2026 Client Co. All rights reserved.</p></footer>`, 1))
	})
	mux.HandleFunc("GET /about", func(w http.ResponseWriter, r *http.Request) {
		cacheable(w, "text/html; charset=utf-8")
		io.WriteString(w, strings.Replace(page("About", `<h1>About us</h1><p>We make things. 我们制造东西。</p>`), "</main>", `</main>
<footer><p>Client Co. · <a href="http://www.miibeian.gov.cn/">京ICP备12345678号-1</a></p></footer>`, 1))
	})
	mux.HandleFunc("GET /plain", func(w http.ResponseWriter, r *http.Request) {
		cacheable(w, "text/html; charset=utf-8")
		io.WriteString(w, page("No footer", `<h1>A page without a footer</h1><p>The notice goes at the end of the body.</p>`))
	})
	mux.HandleFunc("GET /gbk", func(w http.ResponseWriter, r *http.Request) {
		doc := `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gbk">
<title>简体中文页面</title>
</head>
<body>
<h1>这是一个 GBK 编码的页面</h1>
<p>边缘服务器保留页面原有的编码，备案号依然正确显示。</p>
<footer><p>版权所有 2026 示例科技有限公司</p></footer>
</body>
</html>
`
		b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(doc))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		cacheable(w, "text/html")
		w.Write(b)
	})
	mux.HandleFunc("GET /style.css", func(w http.ResponseWriter, r *http.Request) {
		cacheable(w, "text/css; charset=utf-8")
		io.WriteString(w, "body{font-family:sans-serif;max-width:48em;margin:2em auto;padding:0 1em;line-height:1.6}\nnav a{margin-right:.5em}\nfooter{margin-top:3em;border-top:1px solid #ddd;padding-top:1em;color:#555}\n")
	})
	mux.HandleFunc("GET /logo.svg", func(w http.ResponseWriter, r *http.Request) {
		cacheable(w, "image/svg+xml")
		io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" rx="6" fill="#2a6"/><text x="60" y="26" font-size="16" text-anchor="middle" fill="#fff" font-family="sans-serif">Client Co.</text></svg>`)
	})
	mux.HandleFunc("GET /old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://www.client.example/about", http.StatusMovedPermanently)
	})
	return mux
}
