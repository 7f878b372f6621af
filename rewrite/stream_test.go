package rewrite

import (
	"bytes"
	"testing"
)

// TestStreamEditsMatchHTML checks that, written 5 bytes at a time, the
// stream makes the same URL edits as HTML.
func TestStreamEditsMatchHTML(t *testing.T) {
	for _, page := range [][]byte{readPage(t, "wordpress.html"), readPage(t, "urls.html"), benchPage(t, 300<<10)} {
		r := testRewriter(t, "")
		res, _ := r.HTML(page, "text/html", testEdge)
		var out bytes.Buffer
		w := r.Stream(&out, "text/html", testEdge)
		for p := page; len(p) > 0; {
			n := min(len(p), 5)
			w.Write(p[:n])
			p = p[n:]
		}
		w.Close()
		x := bytes.Replace(res.Body, []byte(r.noticeASCII), nil, 1)
		y := bytes.Replace(out.Bytes(), []byte(r.noticeASCII), nil, 1)
		for i := range x {
			if x[i] != y[i] {
				t.Errorf("got stream diverging at %d: %q; want %q", i, y[max(0, i-100):i+50], x[max(0, i-100):i+50])
				break
			}
		}
	}
}
