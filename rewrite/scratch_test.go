package rewrite

import "testing"

func TestScratch(t *testing.T) {
	r, err := New(Options{Notice: Notice{ICP: "京ICP备12345678号-1", Company: "示例公司", Police: "京公网安备11010502012345号", PoliceBadgeURL: "/.icpedge/police.png"}, RewriteHosts: []string{"www.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		`<html><head><title>x</title></head><body><p>hi <a href="https://www.example.com/a?b=1&amp;c=2">x</a><footer><p>c</footer><script>"</footer>"</script></body></html>`,
		`<p>frag`,
		`<body><div><footer>a</div>tail`,
		`<a href="http://www.miibeian.gov.cn/">京ICP备12345678号</a>`,
	} {
		for _, force := range []bool{false, true} {
			res, err := r.html([]byte(in), "", Edge{"https", "edge.cn"}, force)
			t.Logf("%v %s %q %v", force, res.Body, res.ContentType, err)
		}
	}
}
