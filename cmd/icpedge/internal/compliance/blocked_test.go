package compliance

import (
	"context"
	"strings"
	"testing"
)

// TestBlockedHosts checks the report of third-party hosts blocked in
// mainland China that pages still load: render-blocking ones fail, with
// the preset that would localize them; others are listed.
func TestBlockedHosts(t *testing.T) {
	const head = `<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">` +
		`<script src="https://www.google.com/recaptcha/api.js"></script>`
	tests := []struct {
		name   string
		pages  map[string]string
		status Status
		detail string
		fix    string
	}{
		{"none", compliantPages(), OK, "no blocked third-party hosts on 3 pages", ""},
		{"render-blocking", map[string]string{
			"/": page("Home", head+`<a href="/about">About</a>`+notice),
			"/about": page("About", `<script src="https://cdn.example.cn/app.js"></script><script src="https://ajax.googleapis.com/ajax/libs/angularjs/1.8.2/angular.min.js"></script>`+
				`<img src="https://secure.gravatar.com/avatar/x">`+notice),
		}, Fail,
			"render-blocking: /: fonts.googleapis.com (style sheet), www.google.com (script); /about: ajax.googleapis.com (script) (2 of 2 pages); also loads /about: secure.gravatar.com (1 of 2 pages)",
			"(localize.presets: recaptcha, google-fonts), or with localize.rules"},
		{"localized or deferred", map[string]string{
			"/": page("Home", `<link media="print" onload="this.media='all'" rel="stylesheet" href="https://fonts.googleapis.com/css"><noscript><link rel="stylesheet" href="https://fonts.googleapis.com/css"></noscript>`+
				`<script async src="https://www.googletagmanager.com/gtag/js"></script><script src="https://www.recaptcha.net/recaptcha/api.js"></script>`+
				`<style>@font-face{src:url(https://fonts.gstatic.com/a.woff2)}</style><iframe src="https://www.youtube.com/embed/x"></iframe>`+notice),
		}, OK, "none render-blocking; loads /: fonts.googleapis.com, www.googletagmanager.com, fonts.gstatic.com, www.youtube.com (1 of 1 page)", ""},
		{"@import in a style element", map[string]string{
			"/": page("Home", `<style>@import url("//fonts.googleapis.com/css?family=x");</style>`+notice),
		}, Fail, "render-blocking: /: fonts.googleapis.com (style sheet) (1 of 1 page)", "(localize.presets: google-fonts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.site(t, siteHost, tt.pages)
			rep := e.checker(t, defaultOpts()).Run(context.Background(), []Site{{URL: s.url()}})
			r := byCheck(rep.Results)[CheckBlocked]
			if r.Status != tt.status || r.Detail != tt.detail {
				t.Errorf("got %s %q; want %s %q", r.Status, r.Detail, tt.status, tt.detail)
			}
			if !strings.Contains(r.Fix, tt.fix) {
				t.Errorf("got fix %q; want it to contain %q", r.Fix, tt.fix)
			}
		})
	}
}
