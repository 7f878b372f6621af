package rewrite_test

import (
	"fmt"
	"strings"

	"github.com/icpedge/icpedge/rewrite"
)

func ExampleRewriter_HTML() {
	r, err := rewrite.New(rewrite.Options{
		Notice:       rewrite.Notice{ICP: "ICP-12345678-1"},
		RewriteHosts: []string{"www.example.com"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	page := []byte(`<html><body><a href="https://www.example.com/about?a=1&amp;b=2">About</a>` +
		`<footer>(c) Example</footer></body></html>`)
	res, err := r.HTML(page, "text/html", rewrite.Edge{Scheme: "https", Host: "example.cn"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The block is long (its inline style resists page CSS); elide it.
	body := strings.Replace(string(res.Body), r.NoticeHTML(), "[notice]", 1)
	fmt.Println(res.ContentType)
	fmt.Println(body)
	fmt.Println(strings.Contains(r.NoticeHTML(), `<a href="https://beian.miit.gov.cn/" target="_blank" rel="noopener nofollow"`))
	// Output:
	// text/html
	// <html><body><a href="https://example.cn/about?a=1&amp;b=2">About</a><footer>(c) Example</footer>[notice]</body></html>
	// true
}

func ExampleExpandPresets() {
	rules, err := rewrite.ExpandPresets([]string{"recaptcha", "trackers"}, rewrite.PresetOptions{Trackers: rewrite.Strip})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := rewrite.New(rewrite.Options{Notice: rewrite.Notice{ICP: "ICP-12345678-1"}, Localize: rules})
	if err != nil {
		fmt.Println(err)
		return
	}
	page := []byte(`<head><script src="https://www.google.com/recaptcha/api.js"></script>` +
		`<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script></head>`)
	res, _ := r.HTML(page, "text/html", rewrite.Edge{Scheme: "https", Host: "example.cn"})
	fmt.Println(strings.Replace(string(res.Body), r.NoticeHTML(), "[notice]", 1))
	// Output:
	// <head><script src="https://www.recaptcha.net/recaptcha/api.js"></script></head>[notice]
}
