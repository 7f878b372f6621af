package rewrite

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode"
)

// The hints are what the rewritten page loads before it renders, found in
// the scan that places the notice.
func TestHints(t *testing.T) {
	r := localizeRewriter(t,
		LocalizeRule{Match: "cdn.blocked.example", Action: Strip},
		LocalizeRule{Match: "slow.example", Action: Defer},
		LocalizeRule{Match: "fonts.googleapis.com", Action: Replace, With: "fonts.googleapis.cn"},
	)
	edge := Edge{Scheme: "https", Host: "icp.example.cn"}
	tests := []struct {
		name string
		head string
		body string
		want []string // URL as crossorigin, joined by " "
		base string
	}{
		{"a style sheet", `<link rel="stylesheet" href="/css/site.css?v=1&amp;x=2">`, "", []string{"/css/site.css?v=1&x=2 style"}, ""},
		{"rel in any case, with other words", `<link REL="Stylesheet preload" href=a.css>`, "", []string{"a.css style"}, ""},
		{"an origin URL moves onto the edge", `<link rel=stylesheet href="https://www.example.com/a.css">`, "", []string{"https://icp.example.cn/a.css style"}, ""},
		{"another host is reported as it is", `<link rel=stylesheet href="https://cdn.other.example/a.css">`, "", []string{"https://cdn.other.example/a.css style"}, ""},
		{"replaced by localize", `<link rel=stylesheet href="https://fonts.googleapis.com/css?family=Roboto">`, "", []string{"https://fonts.googleapis.cn/css?family=Roboto style"}, ""},
		{"stripped by localize", `<link rel=stylesheet href="https://cdn.blocked.example/a.css"><script src="https://cdn.blocked.example/a.js"></script>`, "", nil, ""},
		{"deferred by localize", `<link rel=stylesheet href="https://slow.example/a.css"><script src="https://slow.example/a.js"></script>`, "", nil, ""},
		{"print and narrow style sheets", `<link rel=stylesheet href=p.css media=print><link rel=stylesheet href=n.css media="(max-width: 600px)"><link rel=stylesheet href=s.css media=" Screen ">`, "", []string{"s.css style"}, ""},
		{"alternate and disabled", `<link rel="alternate stylesheet" href=a.css><link rel=stylesheet href=d.css disabled>`, "", nil, ""},
		{"preloads", `<link rel=preload href=/f.woff2 as=font type=font/woff2><link rel=preload href=/h.jpg as=image><link rel=preload href=/x.json as=fetch><link rel=preload href=/s.js as=script crossorigin=use-credentials>`, "",
			[]string{"/f.woff2 font anonymous", "/h.jpg image", "/s.js script use-credentials"}, ""},
		{"a responsive image preload", `<link rel=preload as=image href=a.jpg imagesrcset="a.jpg 1x, b.jpg 2x">`, "", nil, ""},
		{"blocking scripts in head", `<script src=/a.js></script><script src=/b.js async></script><script src=/c.js defer></script><script type=module src=/m.js></script><script nomodule src=/n.js></script><script type="text/javascript" src=/t.js crossorigin></script><script type=text/template src=/x.html></script>`, "",
			[]string{"/a.js script", "/t.js script anonymous"}, ""},
		{"scripts in the body are not", "", `<p>x</p><script src=/late.js></script>`, nil, ""},
		{"style sheets in the body are", "", `<p>x</p><link rel=stylesheet href=/late.css>`, []string{"/late.css style"}, ""},
		{"template, svg and noscript content", `<noscript><link rel=stylesheet href=/ns.css></noscript><template><link rel=stylesheet href=/t.css></template>`, `<svg><link rel=stylesheet href=/svg.css></svg>`, nil, ""},
		{"base", `<base href="https://icp.example.cn/sub/&amp;"><base href=/other/><link rel=stylesheet href=a.css>`, "", []string{"a.css style"}, "https://icp.example.cn/sub/&"},
		{"no href", `<link rel=stylesheet><script></script>`, "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := "<!DOCTYPE html><html><head><title>t</title>" + tt.head + "</head><body>" + tt.body + "<footer>f</footer></body></html>"
			res, err := r.HTML([]byte(page), "text/html; charset=utf-8", edge)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range res.Hints {
				got = append(got, strings.TrimSpace(fmt.Sprintf("%s %s %s", h.URL, h.As, h.CrossOrigin)))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got hints %q; want %q", got, tt.want)
			}
			if res.Base != tt.base {
				t.Errorf("got base %q; want %q", res.Base, tt.base)
			}
		})
	}
}

func TestHintsUTF16(t *testing.T) {
	page := `<html><head><link rel=stylesheet href="/页面.css"></head><body><p>内容</p></body></html>`
	src, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	res, err := localizeRewriter(t).HTML(src, "text/html", Edge{Scheme: "https", Host: "icp.example.cn"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hints) != 1 || res.Hints[0].URL != "/页面.css" {
		t.Errorf("got hints %+v; want /页面.css", res.Hints)
	}
}

func TestHintsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("<html><head>")
	for i := range 100 {
		fmt.Fprintf(&b, `<link rel=stylesheet href="/%d.css">`, i)
	}
	b.WriteString("</head><body></body></html>")
	res, err := localizeRewriter(t).HTML([]byte(b.String()), "text/html", Edge{Scheme: "https", Host: "icp.example.cn"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hints) != maxHints || res.Hints[0].URL != "/0.css" {
		t.Errorf("got %d hints starting %+v; want the first %d", len(res.Hints), res.Hints[0], maxHints)
	}
}
