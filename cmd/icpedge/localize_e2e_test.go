package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// localizeOrigin serves pages and a style sheet that load third-party
// hosts blocked in mainland China.
func localizeOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	page := `<!DOCTYPE html><html><head><title>Blocked</title>
<link href="https://fonts.googleapis.com/css2?family=Noto+Sans+SC&amp;display=swap" rel="stylesheet">
<link rel="stylesheet" href="https://www.client.test/site.css">
<script src="https://www.google.com/recaptcha/api.js"></script>
<script src="https://www.google-analytics.com/analytics.js"></script>
<script src="https://cdn.overseas.test/chat.js"></script>
</head><body><h1>Hello</h1>
<img src="https://secure.gravatar.com/avatar/abc?s=48" srcset="https://secure.gravatar.com/avatar/abc?s=96 2x">
<iframe width="560" height="315" src="https://www.youtube.com/embed/xyz"></iframe>
<footer>© Client</footer></body></html>`
	plain := `<!DOCTYPE html><html><head><title>Plain</title><link rel="stylesheet" href="/site.css"><script src="https://cdn.example.cn/app.js"></script></head>
<body><p>Nothing from abroad here. <a href="https://www.client.test/about">About</a></p><footer>© Client</footer></body></html>`
	css := `@import url("https://fonts.googleapis.com/css?family=Roboto");
@import url(https://cdn.overseas.test/chat.css);
body { background: url(https://www.client.test/bg.png); }
@font-face { font-family: X; src: url(https://fonts.gstatic.com/s/x.woff2); }
`
	js := `document.write('<link href="https://fonts.googleapis.com/css" rel="stylesheet">');`
	var big strings.Builder
	big.WriteString(`<!DOCTYPE html><html><head><script src="https://www.google.com/recaptcha/api.js"></script></head><body>`)
	for big.Len() < 200<<10 {
		big.WriteString(`<p><img src="https://secure.gravatar.com/avatar/abc?s=48"> filler text for a page over html.max_size.</p>` + "\n")
	}
	big.WriteString(`<script src="https://cdn.overseas.test/chat.js"></script></body></html>`)

	mux := http.NewServeMux()
	serve := func(path, ctype, body string, gz bool) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "max-age=300")
			if gz {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				io.WriteString(zw, body)
				zw.Close()
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(buf.Bytes())
				return
			}
			io.WriteString(w, body)
		})
	}
	serve("/page", "text/html; charset=utf-8", page, true)
	serve("/plain", "text/html; charset=utf-8", plain, false)
	serve("/site.css", "text/css; charset=utf-8", css, true)
	serve("/app.js", "application/javascript", js, false)
	serve("/big", "text/html; charset=utf-8", big.String(), false)
	o := httptest.NewServer(mux)
	t.Cleanup(o.Close)
	return o
}

func localizeConfig(t *testing.T, originURL, localize string) string {
	t.Helper()
	return writeConfig(t, fmt.Sprintf(`hosts: [%s]
origin: %s
origin_host: %s
listen:
  http: 127.0.0.1:0
state_dir: state
html:
  max_size: 100KiB
notice:
  icp: %s
admin:
  listen: ""
%s`, testHost, originURL, originName, testICP, localize))
}

// TestEdgeLocalize runs the binary with localize on: pages, streamed pages,
// style sheets and the cache all carry the rewrite; other types pass as
// they are; and a page without blocked hosts is byte-identical to what an
// edge without localize serves.
func TestEdgeLocalize(t *testing.T) {
	origin := localizeOrigin(t)
	e := startEdge(t, localizeConfig(t, origin.URL, `localize:
  presets: [recaptcha, google-fonts, gravatar, trackers, embeds]
  rules:
    - {match: cdn.overseas.test/chat.css, action: strip}
    - {match: cdn.overseas.test, action: defer}
`))
	c := newEdgeClient(t, e)
	base := "http://" + testHost + ":" + portOf(e.Addr("http"))

	t.Run("page", func(t *testing.T) {
		for i, wantCache := range []string{"fwd=miss; stored", "hit"} {
			resp, body := c.get("/page", nil)
			s := string(body)
			if resp.StatusCode != 200 || countNotices(s) != 1 {
				t.Fatalf("request %d: status %d, %d notices; want 200 and 1", i, resp.StatusCode, countNotices(s))
			}
			if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, wantCache) {
				t.Errorf("request %d: Cache-Status %q; want %s", i, cs, wantCache)
			}
			for _, want := range []string{
				`href="https://fonts.googleapis.cn/css2?family=Noto+Sans+SC&amp;display=swap"`,
				`href="` + base + `/site.css"`,
				`<script src="https://www.recaptcha.net/recaptcha/api.js"></script>`,
				`<script async src="https://www.google-analytics.com/analytics.js"></script>`,
				`<script async src="https://cdn.overseas.test/chat.js"></script>`,
				`src="https://cravatar.cn/avatar/abc?s=48" srcset="https://cravatar.cn/avatar/abc?s=96 2x"`,
				`<a class="icpedge-embed" href="https://www.youtube.com/embed/xyz" target="_blank" rel="noopener"`,
				`width:560px;height:315px`,
			} {
				mustContain(t, s, want)
			}
			for _, gone := range []string{"fonts.googleapis.com", "www.google.com", "gravatar.com", "<iframe"} {
				if strings.Contains(s, gone) {
					t.Errorf("request %d: page still has %s: %s", i, gone, abbrev(s))
				}
			}
		}
	})

	t.Run("style sheet", func(t *testing.T) {
		for i, wantCache := range []string{"fwd=miss; stored", "hit"} {
			resp, body := c.get("/site.css", map[string]string{"Accept-Encoding": "gzip"})
			if ce := resp.Header.Get("Content-Encoding"); ce == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, wantCache) {
				t.Errorf("request %d: Cache-Status %q; want %s", i, cs, wantCache)
			}
			want := `@import url("https://fonts.googleapis.cn/css?family=Roboto");

body { background: url(` + base + `/bg.png); }
@font-face { font-family: X; src: url(https://fonts.gstatic.cn/s/x.woff2); }
`
			if string(body) != want {
				t.Errorf("request %d: got\n%s\nwant\n%s", i, body, want)
			}
		}
	})

	t.Run("other types untouched", func(t *testing.T) {
		_, body := c.get("/app.js", nil)
		if want := `document.write('<link href="https://fonts.googleapis.com/css" rel="stylesheet">');`; string(body) != want {
			t.Errorf("got %s; want the origin's bytes %s", body, want)
		}
	})

	t.Run("streamed page", func(t *testing.T) {
		_, body := c.get("/big", nil)
		s := string(body)
		if countNotices(s) != 1 {
			t.Fatalf("got %d notices; want 1", countNotices(s))
		}
		mustContain(t, s, `<script src="https://www.recaptcha.net/recaptcha/api.js"></script>`)
		mustContain(t, s, `<script async src="https://cdn.overseas.test/chat.js"></script>`)
		if strings.Contains(s, "gravatar.com") || !strings.Contains(s, "cravatar.cn/avatar/abc") {
			t.Errorf("avatars not moved to cravatar.cn in the streamed page")
		}
	})

	t.Run("icpedge check", func(t *testing.T) {
		port := portOf(e.Addr("http"))
		detail := func(args ...string) (string, string) {
			out, _ := runCheck(t, append([]string{"--json"}, args...)...)
			var rep checkReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			for _, x := range rep.Results {
				if x.Check == "blocked_hosts" {
					return x.Status, x.Detail
				}
			}
			t.Fatalf("no blocked_hosts check in\n%s", out)
			return "", ""
		}
		// The origin's page holds up rendering on blocked hosts.
		status, d := detail(origin.URL + "/page")
		if want := "render-blocking: /page: fonts.googleapis.com (style sheet), www.google.com (script), www.google-analytics.com (script)"; status != "fail" || !strings.HasPrefix(d, want) {
			t.Errorf("origin: got %s %q; want fail starting %q", status, d, want)
		}
		// Through the edge, what is left loads without blocking.
		status, d = detail("--resolve", testHost+":"+port+":127.0.0.1", base+"/page")
		if want := "none render-blocking; loads /page: www.google-analytics.com (1 of 1 page)"; status != "ok" || d != want {
			t.Errorf("edge: got %s %q; want ok %q", status, d, want)
		}
	})

	t.Run("no blocked hosts, no change", func(t *testing.T) {
		plain := startEdge(t, localizeConfig(t, origin.URL, ""))
		pc := newEdgeClient(t, plain)
		for _, path := range []string{"/plain", "/app.js"} {
			_, with := c.get(path, nil)
			_, without := pc.get(path, nil)
			// The edges listen on different ports, which rewritten origin
			// URLs carry.
			without = bytes.ReplaceAll(without, []byte(":"+portOf(plain.Addr("http"))), []byte(":"+portOf(e.Addr("http"))))
			if !bytes.Equal(with, without) {
				t.Errorf("%s: got\n%s\nwith localize; want it byte-identical to\n%s", path, with, without)
			}
		}
	})
}
