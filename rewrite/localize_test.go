package rewrite

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func localizeRewriter(t testing.TB, rules ...LocalizeRule) *Rewriter {
	t.Helper()
	r, err := New(Options{Notice: testNotice(), RewriteHosts: []string{"www.example.com"}, Localize: rules})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func presetRules(t testing.TB, o PresetOptions, names ...string) []LocalizeRule {
	t.Helper()
	rules, err := ExpandPresets(names, o)
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func allPresets() []string {
	var names []string
	for _, p := range Presets() {
		names = append(names, p.Name)
	}
	return names
}

// localizeCase is one configuration of the localize golden files.
type localizeCase struct {
	name    string
	presets []string
	opts    PresetOptions
	rules   []LocalizeRule
}

var localizeCases = []localizeCase{
	{name: "recaptcha", presets: []string{"recaptcha"}},
	{name: "google-fonts", presets: []string{"google-fonts"}},
	{name: "google-fonts-mirror", presets: []string{"google-fonts"}, opts: PresetOptions{FontsCSS: "fonts.loli.net", FontsFiles: "https://gstatic.loli.net"}},
	{name: "jsdelivr", presets: []string{"jsdelivr"}},
	{name: "gravatar", presets: []string{"gravatar"}},
	{name: "google-ajax", presets: []string{"google-ajax"}},
	{name: "trackers", presets: []string{"trackers"}},
	{name: "trackers-strip", presets: []string{"trackers"}, opts: PresetOptions{Trackers: Strip}},
	{name: "embeds", presets: []string{"embeds"}},
	{name: "all", presets: allPresets()},
	{name: "rules", presets: []string{"jsdelivr"}, rules: []LocalizeRule{
		{Match: "https://cdn.jsdelivr.net/npm/normalize.css", Action: Strip},
		{Match: "cdn.jsdelivr.net/npm/vue@3/", Action: Replace, With: "https://unpkg.example.cn/vue@3/"},
		{Match: "www.google-analytics.com", Action: Strip},
		{Match: "ajax.googleapis.com", Action: Defer},
		{Match: "www.youtube.com", Action: Placeholder},
	}},
}

// TestLocalizeGolden rewrites one page full of third-party hosts, and one
// style sheet served on its own, under each preset.
func TestLocalizeGolden(t *testing.T) {
	page := readFile(t, "localize", "page.html")
	sheet := readFile(t, "localize", "sheet.css")
	for _, c := range localizeCases {
		t.Run(c.name, func(t *testing.T) {
			rules := append(append([]LocalizeRule(nil), c.rules...), presetRules(t, c.opts, c.presets...)...)
			r := localizeRewriter(t, rules...)
			res, err := r.HTML(page, "text/html; charset=utf-8", testEdge)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "localize", "golden", c.name+".html"), res.Body)
			checkGolden(t, filepath.Join("testdata", "localize", "golden", c.name+".css"), r.CSS(sheet, testEdge))

			// The stream makes the same edits.
			var out bytes.Buffer
			w := r.Stream(&out, "text/html; charset=utf-8", testEdge)
			for p := page; len(p) > 0; {
				n := min(len(p), 11)
				w.Write(p[:n])
				p = p[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			x := bytes.Replace(res.Body, []byte(r.noticeASCII), nil, 1)
			y := bytes.Replace(out.Bytes(), []byte(r.noticeASCII), nil, 1)
			if !bytes.Equal(x, y) {
				t.Errorf("got stream output differing from HTML's:\n%s\nwant\n%s", y, x)
			}

			// Once localized, a page is left as it is.
			again, _ := r.HTML(res.Body, res.ContentType, testEdge)
			if !bytes.Equal(again.Body, res.Body) {
				t.Errorf("got a second pass changing the page; want it idempotent")
			}
			if css := r.CSS(sheet, testEdge); !bytes.Equal(r.CSS(css, testEdge), css) {
				t.Errorf("got a second CSS pass changing the sheet; want it idempotent")
			}
		})
	}
}

func readFile(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got %d bytes differing from %s; want golden (run with -update and review the diff)", len(got), golden)
	}
}

// TestLocalizeUntouched checks that a page with none of the presets' hosts
// comes out byte-identical to what it is without localize: every page of
// the corpus, with every preset on.
func TestLocalizeUntouched(t *testing.T) {
	with := localizeRewriter(t, presetRules(t, PresetOptions{}, allPresets()...)...)
	without := localizeRewriter(t)
	for _, p := range corpus {
		t.Run(p.name(), func(t *testing.T) {
			src := readPage(t, p.file)
			a, _ := with.HTML(src, p.contentType, testEdge)
			b, _ := without.HTML(src, p.contentType, testEdge)
			if !bytes.Equal(a.Body, b.Body) || a.ContentType != b.ContentType {
				t.Errorf("got output differing with localize on; want it byte-identical")
			}
		})
	}
	css := []byte(`@import "https://www.example.com/a.css"; a { background: url(https://cdn.example.net/b.png) }`)
	if got, want := with.CSS(css, testEdge), without.CSS(css, testEdge); !bytes.Equal(got, want) {
		t.Errorf("CSS: got %s; want %s", got, want)
	}
}

func TestLocalizeTags(t *testing.T) {
	r := localizeRewriter(t,
		LocalizeRule{Match: "s.blocked.test", Action: Strip},
		LocalizeRule{Match: "d.blocked.test", Action: Defer},
		LocalizeRule{Match: "p.blocked.test", Action: Placeholder},
		LocalizeRule{Match: "r.blocked.test/a/", Action: Replace, With: "mirror.example.cn/b/"},
		LocalizeRule{Match: "r.blocked.test", Action: Replace, With: "https://all.example.cn"},
		LocalizeRule{Match: "w.blocked.test/lib/*/x.js", Action: Replace, With: "cdn.example.cn/x-*.js"},
	)
	tests := []struct{ name, in, want string }{
		{"strip script through end tag", `<p>a<script src="https://s.blocked.test/a.js">x()</script>b`, `<p>a` + `b`},
		{"strip script upper case", `<SCRIPT SRC=//S.Blocked.Test/a.js></Script >b`, `b`},
		{"strip unterminated script", `<p>a<script src="https://s.blocked.test/a.js">x()`, `<p>a`},
		{"strip link", `<link rel=stylesheet href=https://s.blocked.test/a.css><p>x`, `<p>x`},
		{"strip preconnect", `<link rel="preconnect" href="https://s.blocked.test">`, ``},
		{"keep canonical link", `<link rel=canonical href=https://s.blocked.test/>`, `<link rel=canonical href=https://s.blocked.test/>`},
		{"strip img", `<img src="https://s.blocked.test/p.gif" alt="">t`, `t`},
		{"strip iframe", `<iframe src="https://s.blocked.test/e">fallback</iframe>t`, `t`},
		{"keep anchor", `<a href="https://s.blocked.test/">s</a>`, `<a href="https://s.blocked.test/">s</a>`},
		{"keep svg script", `<svg><script src="https://s.blocked.test/a.js"></script></svg>`, `<svg><script src="https://s.blocked.test/a.js"></script></svg>`},
		{"strip @import", `<style>@import url("https://s.blocked.test/a.css") screen; a{b:c}</style>`, `<style> a{b:c}</style>`},
		{"keep url()", `<style>a{background:url(https://s.blocked.test/a.png)}</style>`, `<style>a{background:url(https://s.blocked.test/a.png)}</style>`},
		{"defer script", `<script src="https://d.blocked.test/a.js"></script>`, `<script async src="https://d.blocked.test/a.js"></script>`},
		{"defer async script", `<script async src="https://d.blocked.test/a.js"></script>`, `<script async src="https://d.blocked.test/a.js"></script>`},
		{"defer style sheet", `<link rel=stylesheet href=https://d.blocked.test/a.css>`,
			`<link media="print" onload="this.onload=null;this.media='all'" rel=stylesheet href=https://d.blocked.test/a.css><noscript><link rel=stylesheet href=https://d.blocked.test/a.css></noscript>`},
		{"defer style sheet with media", `<link media="screen and (min-width: 40em)" rel="stylesheet" href="https://d.blocked.test/a.css">`,
			`<link onload="this.onload=null;this.media='screen and (min-width: 40em)'" media="print" rel="stylesheet" href="https://d.blocked.test/a.css"><noscript><link media="screen and (min-width: 40em)" rel="stylesheet" href="https://d.blocked.test/a.css"></noscript>`},
		{"defer style sheet with odd media", `<link rel=stylesheet media='x"y' href=https://d.blocked.test/a.css>`,
			`<link onload="this.onload=null;this.media='all'" rel=stylesheet media='print' href=https://d.blocked.test/a.css><noscript><link rel=stylesheet media='x"y' href=https://d.blocked.test/a.css></noscript>`},
		{"defer keeps onload", `<link rel=stylesheet onload="f()" href=https://d.blocked.test/a.css>`, `<link rel=stylesheet onload="f()" href=https://d.blocked.test/a.css>`},
		{"defer leaves iframe", `<iframe src="https://d.blocked.test/e"></iframe>`, `<iframe src="https://d.blocked.test/e"></iframe>`},
		{"placeholder", `<iframe width=560 height="315px" src="https://p.blocked.test/embed/x?a=1&amp;b=2"></iframe>`,
			`<a class="icpedge-embed" href="https://p.blocked.test/embed/x?a=1&amp;b=2" target="_blank" rel="noopener" style="` + placeholderStyle + `;width:560px;height:315px">&#9654; &#22312;&#26032;&#31383;&#21475;&#25171;&#24320; p.blocked.test</a>`},
		{"placeholder percent, no height", `<iframe src='https://p.blocked.test/e"q' width="100%"></iframe>`,
			`<a class="icpedge-embed" href="https://p.blocked.test/e&#34;q" target="_blank" rel="noopener" style="` + placeholderStyle + `;width:100%">&#9654; &#22312;&#26032;&#31383;&#21475;&#25171;&#24320; p.blocked.test</a>`},
		{"placeholder leaves script", `<script src="https://p.blocked.test/api.js"></script>`, `<script src="https://p.blocked.test/api.js"></script>`},
		{"replace path prefix", `<script src="https://r.blocked.test/a/x.js"></script>`, `<script src="https://mirror.example.cn/b/x.js"></script>`},
		{"replace with scheme", `<img src="http://r.blocked.test:8080/c.png">`, `<img src="https://all.example.cn/c.png">`},
		{"replace protocol-relative", `<a href="//r.blocked.test/a/">x</a>`, `<a href="//mirror.example.cn/b/">x</a>`},
		{"replace srcset", `<img srcset="https://r.blocked.test/a/1.jpg 1x, //r.blocked.test/z.jpg 2x">`, `<img srcset="https://mirror.example.cn/b/1.jpg 1x, https://all.example.cn/z.jpg 2x">`},
		{"replace style attr", `<div style="background:url(&quot;https://r.blocked.test/a/b.png&quot;)">`, `<div style="background:url(&quot;https://mirror.example.cn/b/b.png&quot;)">`},
		{"replace wildcard", `<script src="https://w.blocked.test/lib/3.6.0/x.js"></script>`, `<script src="https://cdn.example.cn/x-3.6.0.js"></script>`},
		{"wildcard needs the suffix", `<script src="https://w.blocked.test/lib/3.6.0/y.js"></script>`, `<script src="https://w.blocked.test/lib/3.6.0/y.js"></script>`},
		{"lookalike host kept", `<script src="https://s.blocked.test.evil/a.js"></script>`, `<script src="https://s.blocked.test.evil/a.js"></script>`},
		{"user info kept", `<script src="https://u@s.blocked.test/a.js"></script>`, `<script src="https://u@s.blocked.test/a.js"></script>`},
		{"origin host still moves", `<script src="https://www.example.com/a.js"></script>`, `<script src="https://edge.example.cn/a.js"></script>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.HTML([]byte(tt.in), "text/html", testEdge)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Replace(string(res.Body), r.noticeASCII, "", 1)
			if got != tt.want {
				t.Errorf("HTML: got %s; want %s", got, tt.want)
			}
			var out bytes.Buffer
			w := r.Stream(&out, "text/html", testEdge)
			for i := 0; i < len(tt.in); i += 3 {
				w.Write([]byte(tt.in[i:min(i+3, len(tt.in))]))
			}
			w.Close()
			if got := strings.Replace(out.String(), r.noticeASCII, "", 1); got != tt.want {
				t.Errorf("Stream: got %s; want %s", got, tt.want)
			}
		})
	}
}

func TestLocalizeRuleErrors(t *testing.T) {
	tests := []struct {
		name string
		rule LocalizeRule
		want string
	}{
		{"no host", LocalizeRule{Match: "/path", Action: Strip}, `localize match "/path": no host`},
		{"bad host", LocalizeRule{Match: "a b.test", Action: Strip}, `localize match "a b.test": the host has the character ' '`},
		{"replace without with", LocalizeRule{Match: "a.test", Action: Replace}, `localize match "a.test": replace needs with`},
		{"with on strip", LocalizeRule{Match: "a.test", Action: Strip, With: "b.test"}, `localize match "a.test": with is only for replace`},
		{"unknown action", LocalizeRule{Match: "a.test", Action: "drop"}, `localize match "a.test": unknown action "drop"; want replace, strip, defer or placeholder`},
		{"quote in with", LocalizeRule{Match: "a.test", Action: Replace, With: `b.test/"x`}, `localize with "b.test/\"x": has a space, quote, angle bracket, backslash, parenthesis, &, ; or ,`},
		{"star on strip", LocalizeRule{Match: "a.test/*/x", Action: Strip}, `localize match "a.test/*/x": a "*" needs action replace and exactly one "*" in match and in with`},
		{"star only in with", LocalizeRule{Match: "a.test/x", Action: Replace, With: "b.test/*"}, `localize with "b.test/*": "*" without one in match`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Notice: testNotice(), Localize: []LocalizeRule{tt.rule}})
			if err == nil || err.Error() != tt.want {
				t.Errorf("got error %v; want %s", err, tt.want)
			}
		})
	}
	if _, err := ExpandPresets([]string{"nope"}, PresetOptions{}); err == nil || err.Error() != `unknown localize preset "nope"` {
		t.Errorf("got %v; want an unknown preset error", err)
	}
	if _, err := ExpandPresets([]string{"trackers"}, PresetOptions{Trackers: Placeholder}); err == nil {
		t.Errorf("got no error for trackers: placeholder; want one")
	}
}

func TestBlockedURL(t *testing.T) {
	tests := []struct {
		url, host, preset string
		blocked           bool
	}{
		{"https://www.google.com/recaptcha/api.js", "www.google.com", "recaptcha", true},
		{"https://www.google.com/maps/embed?pb=1", "www.google.com", "", true},
		{"//fonts.googleapis.com/css?family=x", "fonts.googleapis.com", "google-fonts", true},
		{"https://fonts.googleapis.cn/css?family=x", "fonts.googleapis.cn", "", false},
		{"https://cdn.jsdelivr.net/npm/x", "cdn.jsdelivr.net", "jsdelivr", true},
		{"https://fastly.jsdelivr.net/npm/x", "fastly.jsdelivr.net", "", false},
		{"https://ajax.googleapis.com/ajax/libs/jquery/3.6.0/jquery.min.js", "ajax.googleapis.com", "google-ajax", true},
		{"https://ajax.googleapis.com/ajax/libs/angularjs/1.8.2/angular.min.js", "ajax.googleapis.com", "", true},
		{"https://I.YTIMG.COM:443/vi/x/hq.jpg", "i.ytimg.com", "", true},
		{"https://www.youtube.com/embed/x", "www.youtube.com", "embeds", true},
		{"https://platform.twitter.com/widgets.js", "platform.twitter.com", "trackers", true},
		{"https://www.recaptcha.net/recaptcha/api.js", "www.recaptcha.net", "", false},
		{"https://cdn.example.net/x", "cdn.example.net", "", false},
		{"/relative", "", "", false},
	}
	for _, tt := range tests {
		host, preset, blocked := BlockedURL(tt.url)
		if host != tt.host || preset != tt.preset || blocked != tt.blocked {
			t.Errorf("BlockedURL(%q) = %q, %q, %v; want %q, %q, %v", tt.url, host, preset, blocked, tt.host, tt.preset, tt.blocked)
		}
	}
}
