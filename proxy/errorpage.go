package proxy

import (
	"fmt"
	"html"
	"net/http"
)

// errorPage answers with a small page that still carries the ICP notice:
// the visitor gets a short message and the request ID, the log the detail.
func (x *exchange) errorPage(status int) {
	x.page(status, "网站暂时无法访问，请稍后再试。", "The site is temporarily unavailable. Please try again shortly.")
}

// page answers with status and a short page saying zh and msg, with the
// request ID and the notice.
func (x *exchange) page(status int, zh, msg string) {
	h, w, id := x.h, x.w, x.id
	text := http.StatusText(status)
	body := fmt.Sprintf(`<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>%d %s</title></head>
<body style="font-family:sans-serif;margin:0;min-height:100vh;display:flex;flex-direction:column">
<main style="flex:1;text-align:center;padding:15vh 1em 2em">
<h1>%d %s</h1>
<p>%s</p>
<p>%s</p>
<p style="color:#888;font-size:12px">Request ID: %s</p>
</main>
<footer>%s</footer>
</body>
</html>
`, status, html.EscapeString(text), status, html.EscapeString(text), zh, msg, html.EscapeString(id), h.rw.NoticeHTML())
	hdr := http.Header{}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	for k := range w.Header() {
		if k != "X-Request-Id" && k != "Cache-Status" && k != "Connection" {
			w.Header().Del(k)
		}
	}
	x.writeBody(status, hdr, []byte(body))
}

// plainError answers requests that are not for this site at all, such as
// a foreign host: no notice, since the page is not the client's.
func (x *exchange) plainError(status int, msg string) {
	w := x.w
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}
