package proxy

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
)

// Landing is a minimal built-in site for a root domain (apex) pointed at
// the edge, so that it is never empty or an error: the company name, a
// link to the main site and the notice. It needs no origin.
type Landing struct {
	// Host is the apex host name that gets the page, e.g. client.com.
	Host string
	// Company is shown as the page's title and heading. Empty shows Host.
	Company string
	// SiteURL is the main site the page links to, e.g.
	// https://icp.client.com/. Required.
	SiteURL string
}

// landingMaxAge is how long visitors and shared caches may keep the page.
const landingMaxAge = "public, max-age=300"

// serveLanding answers every request for the landing host: the page at
// "/", and the same page as a 404 elsewhere, so any path still shows the
// company, the link and the notice. Only GET and HEAD are allowed.
func (x *exchange) serveLanding() {
	h, r := x.h, x.r
	l := h.opts.Landing
	x.setCacheStatus("fwd=bypass; detail=landing")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		x.w.Header().Set("Allow", "GET, HEAD")
		x.plainError(http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	status := http.StatusOK
	if r.URL.Path != "/" && r.URL.Path != "" && r.URL.Path != "/index.html" {
		status = http.StatusNotFound
	}
	name := l.Company
	if name == "" {
		name = l.Host
	}
	site := l.SiteURL
	siteName := site
	if u, err := url.Parse(site); err == nil && u.Host != "" {
		siteName = u.Host
	}
	lead := "欢迎访问"
	if status == http.StatusNotFound {
		lead = "页面不存在，请访问"
	}
	body := fmt.Sprintf(`<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>%[1]s</title></head>
<body style="font-family:sans-serif;margin:0;min-height:100vh;display:flex;flex-direction:column">
<main style="flex:1;text-align:center;padding:15vh 1em 2em">
<h1>%[1]s</h1>
<p>%[4]s <a href="%[2]s">%[3]s</a></p>
<p><a href="%[2]s">Visit %[3]s</a></p>
</main>
<footer>%[5]s</footer>
</body>
</html>
`, html.EscapeString(name), html.EscapeString(site), html.EscapeString(siteName), lead, h.rw.NoticeHTML())
	hdr := http.Header{}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", landingMaxAge)
	x.writeBody(status, hdr, []byte(body))
}
