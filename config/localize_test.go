package config

import (
	"reflect"
	"testing"
)

func TestLocalizeValues(t *testing.T) {
	c, err := Parse("site.yaml", file(nil,
		"localize:",
		"  presets: [google-fonts, trackers, embeds]",
		"  google_fonts_mirror: {css: Fonts.Loli.Net, files: 'https://gstatic.loli.net'}",
		"  trackers: strip",
		"  rules:",
		"    - {match: 'https://CDN.overseas.example/lib/*/x.js', action: replace, with: cdn.client.cn/x-*.js}",
		"    - {match: widgets.chat.example, action: defer}",
		"    - {match: maps.example.com/embed, action: placeholder}",
	))
	if err != nil {
		t.Fatal(err)
	}
	want := Localize{
		Presets:           []string{"google-fonts", "trackers", "embeds"},
		GoogleFontsMirror: FontsMirror{CSS: "fonts.loli.net", Files: "https://gstatic.loli.net"},
		Trackers:          "strip",
		Rules: []LocalizeRule{
			{Match: "https://cdn.overseas.example/lib/*/x.js", Action: "replace", With: "cdn.client.cn/x-*.js", Key: "localize.rules[0]"},
			{Match: "widgets.chat.example", Action: "defer", Key: "localize.rules[1]"},
			{Match: "maps.example.com/embed", Action: "placeholder", Key: "localize.rules[2]"},
		},
	}
	if !reflect.DeepEqual(c.Localize, want) {
		t.Errorf("Localize = %+v; want %+v", c.Localize, want)
	}
}

func TestLocalizeProblems(t *testing.T) {
	const presets = "recaptcha, google-fonts, jsdelivr, gravatar, google-ajax, trackers, embeds"
	tests := []struct {
		name  string
		extra []string
		want  string
	}{
		{"unknown preset", []string{"localize: {presets: [recaptcha, youtube, recaptcha]}"},
			`site.yaml:7: localize.presets[1]: "youtube" is not a localize preset; expected one of ` + presets + "\n" +
				`site.yaml:7: localize.presets[2]: "recaptcha" is listed twice; expected each preset once`},
		{"presets not a list", []string{"localize: {presets: recaptcha}"},
			`site.yaml:7: localize.presets: "recaptcha" is a string; expected a list of preset names, e.g. [recaptcha, google-fonts]`},
		{"mirror without preset", []string{"localize:", "  presets: [recaptcha]", "  google_fonts_mirror: {css: fonts.loli.net}"},
			"site.yaml:9: localize.google_fonts_mirror: only used with preset google-fonts; expected google-fonts in localize.presets, or no localize.google_fonts_mirror"},
		{"trackers without preset", []string{"localize: {trackers: strip}"},
			"site.yaml:7: localize.trackers: only used with preset trackers; expected trackers in localize.presets, or no localize.trackers"},
		{"bad trackers", []string{"localize: {presets: [trackers], trackers: remove}"},
			`site.yaml:7: localize.trackers: "remove" is not a trackers action; expected defer or strip`},
		{"bad mirror", []string{"localize:", "  presets: [google-fonts]", "  google_fonts_mirror: {css: 'ftp://x.cn', files: 'x.cn/a?b'}"},
			`site.yaml:9: localize.google_fonts_mirror.css: "ftp://x.cn" is not a URL prefix (the scheme is not http or https); expected a host or a URL prefix, e.g. fonts.googleapis.cn` + "\n" +
				`site.yaml:9: localize.google_fonts_mirror.files: "x.cn/a?b" is not a URL prefix (has a query or fragment); expected a host or a URL prefix, e.g. fonts.googleapis.cn`},
		{"unknown mirror key", []string{"localize:", "  presets: [google-fonts]", "  google_fonts_mirror: {file: x.cn}"},
			"site.yaml:9: localize.google_fonts_mirror.file: unknown key; did you mean localize.google_fonts_mirror.files?"},
		{"rule without match and action", []string{"localize:", "  rules:", "    - {with: x.cn}"},
			"site.yaml:9: localize.rules[0].match: missing; expected " + expectMatch + "\n" +
				"site.yaml:9: localize.rules[0].action: missing; expected replace, strip, defer or placeholder"},
		{"empty rule", []string{"localize:", "  rules:", "    -"},
			"site.yaml:9: localize.rules[0]: empty; expected a mapping with keys match, action, with"},
		{"bad action", []string{"localize: {rules: [{match: a.example, action: block}]}"},
			`site.yaml:7: localize.rules[0].action: "block" is not a localize action; expected replace, strip, defer or placeholder`},
		{"replace without with", []string{"localize: {rules: [{match: a.example, action: replace}]}"},
			"site.yaml:7: localize.rules[0].with: missing; expected " + expectWith},
		{"with on strip", []string{"localize: {rules: [{match: a.example, action: strip, with: b.example}]}"},
			"site.yaml:7: localize.rules[0].with: only used with action replace; expected no with for action strip"},
		{"bad match", []string{"localize:", "  rules:",
			"    - {match: 'a.example:8080', action: strip}",
			"    - {match: '*.example', action: strip}",
			`    - {match: 'a.example/x"y', action: strip}`,
			"    - {match: a.example/*/*, action: replace, with: b.example/*}"},
			`site.yaml:9: localize.rules[0].match: "a.example:8080" is not a URL prefix (host has a port); expected ` + expectMatch + "\n" +
				`site.yaml:10: localize.rules[1].match: "*.example" is not a URL prefix (a "*" in the host); expected ` + expectMatch + "\n" +
				`site.yaml:11: localize.rules[2].match: "a.example/x\"y" is not a URL prefix (has a space, quote, angle bracket, backslash, parenthesis, &, ; or ,); expected ` + expectMatch + "\n" +
				`site.yaml:12: localize.rules[3].match: "a.example/*/*" is not a URL prefix (more than one "*"); expected ` + expectMatch},
		{"stars", []string{"localize:", "  rules:",
			"    - {match: a.example/x, action: replace, with: b.example/*}",
			"    - {match: a.example/*/y, action: strip}",
			"    - {match: a.example/*/z, action: replace, with: b.example/z}"},
			`site.yaml:9: localize.rules[0].with: "b.example/*" has a "*" but match has none; expected a "*" in both or in neither` + "\n" +
				`site.yaml:10: localize.rules[1].match: "a.example/*/y" has a "*", which only action replace takes; expected a plain prefix` + "\n" +
				`site.yaml:11: localize.rules[2].with: "b.example/z" needs exactly one "*", for what the "*" in match matched`},
		{"repeated match", []string{"localize:", "  rules:",
			"    - {match: a.example/x, action: strip}",
			"    - {match: 'https://A.example/x', action: defer}"},
			`site.yaml:10: localize.rules[1].match: "https://A.example/x" repeats localize.rules[0].match; expected each match once`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("site.yaml", file(nil, tt.extra...))
			if err == nil {
				t.Fatalf("got no error; want\n%s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
