package rewrite

import (
	"fmt"
	"strings"
)

// Preset describes one built-in set of localize rules for a family of
// third-party hosts that are blocked, or unreliable, from mainland China.
type Preset struct {
	Name string
	// Hosts are the hosts its rules match.
	Hosts []string
	// Support says whether the replacement is one the vendor documents,
	// for operators deciding whether to switch it on.
	Support string
}

// PresetOptions tune the presets that take settings. Zero values mean the
// documented defaults.
type PresetOptions struct {
	// FontsCSS replaces fonts.googleapis.com for "google-fonts" (a host,
	// or host and path). Default fonts.googleapis.cn.
	FontsCSS string
	// FontsFiles replaces fonts.gstatic.com for "google-fonts". Default
	// fonts.gstatic.cn.
	FontsFiles string
	// Trackers is the action for "trackers": Defer (the default) or Strip.
	Trackers Action
}

// Defaults for PresetOptions.
const (
	DefaultFontsCSS   = "fonts.googleapis.cn"
	DefaultFontsFiles = "fonts.gstatic.cn"
)

// presetTable is the presets in documentation order. Each rules function
// returns fresh slices.
var presetTable = []struct {
	Preset
	rules func(o PresetOptions) []LocalizeRule
}{
	{Preset{Name: "recaptcha", Hosts: []string{"www.google.com"},
		Support: "documented by Google (reCAPTCHA FAQ: use www.recaptcha.net where www.google.com is not accessible)"},
		func(PresetOptions) []LocalizeRule {
			return []LocalizeRule{{Match: "www.google.com/recaptcha/", Action: Replace, With: "www.recaptcha.net/recaptcha/"}}
		}},
	{Preset{Name: "google-fonts", Hosts: []string{"fonts.googleapis.com", "fonts.gstatic.com"},
		Support: "not documented by Google: fonts.googleapis.cn and fonts.gstatic.cn answer from China today, but Google makes no promise about them; google_fonts_mirror names another mirror"},
		func(o PresetOptions) []LocalizeRule {
			return []LocalizeRule{
				{Match: "fonts.googleapis.com", Action: Replace, With: o.FontsCSS},
				{Match: "fonts.gstatic.com", Action: Replace, With: o.FontsFiles},
			}
		}},
	{Preset{Name: "jsdelivr", Hosts: []string{"cdn.jsdelivr.net"},
		Support: "suggested by jsDelivr's maintainers for visitors in mainland China; fastly.jsdelivr.net serves the same files under the same paths"},
		func(PresetOptions) []LocalizeRule {
			return []LocalizeRule{{Match: "cdn.jsdelivr.net", Action: Replace, With: "fastly.jsdelivr.net"}}
		}},
	{Preset{Name: "gravatar", Hosts: []string{"gravatar.com", "www.gravatar.com", "secure.gravatar.com", "0.gravatar.com", "1.gravatar.com", "2.gravatar.com"},
		Support: "a third-party mirror (Cravatar, cravatar.cn), not run or endorsed by Gravatar; avatars only (/avatar/)"},
		func(PresetOptions) []LocalizeRule {
			var rs []LocalizeRule
			for _, h := range []string{"gravatar.com", "www.gravatar.com", "secure.gravatar.com", "0.gravatar.com", "1.gravatar.com", "2.gravatar.com"} {
				rs = append(rs, LocalizeRule{Match: h + "/avatar/", Action: Replace, With: "cravatar.cn/avatar/"})
			}
			return rs
		}},
	{Preset{Name: "google-ajax", Hosts: []string{"ajax.googleapis.com"},
		Support: "jQuery's own CDN (code.jquery.com), same files under another path; jQuery and jQuery UI only, other libraries on ajax.googleapis.com stay"},
		func(PresetOptions) []LocalizeRule {
			return []LocalizeRule{
				{Match: "ajax.googleapis.com/ajax/libs/jquery/*/jquery.min.js", Action: Replace, With: "code.jquery.com/jquery-*.min.js"},
				{Match: "ajax.googleapis.com/ajax/libs/jquery/*/jquery.js", Action: Replace, With: "code.jquery.com/jquery-*.js"},
				{Match: "ajax.googleapis.com/ajax/libs/jqueryui/", Action: Replace, With: "code.jquery.com/ui/"},
			}
		}},
	{Preset{Name: "trackers", Hosts: []string{"www.google-analytics.com", "ssl.google-analytics.com", "www.googletagmanager.com", "connect.facebook.net", "platform.twitter.com"},
		Support: "no replacement exists: Google Analytics, Tag Manager and the Facebook and Twitter widgets are deferred (scripts async, style sheets non-blocking) or, with trackers: strip, removed"},
		func(o PresetOptions) []LocalizeRule {
			var rs []LocalizeRule
			for _, h := range []string{"www.google-analytics.com", "ssl.google-analytics.com", "www.googletagmanager.com", "connect.facebook.net", "platform.twitter.com"} {
				rs = append(rs, LocalizeRule{Match: h, Action: o.Trackers})
			}
			return rs
		}},
	{Preset{Name: "embeds", Hosts: []string{"www.youtube.com", "youtube.com", "www.youtube-nocookie.com", "platform.twitter.com", "www.facebook.com"},
		Support: "no replacement exists: YouTube, Twitter/X and Facebook embed iframes become a link that opens the embed in a new tab"},
		func(PresetOptions) []LocalizeRule {
			var rs []LocalizeRule
			for _, m := range []string{"www.youtube.com/embed/", "youtube.com/embed/", "www.youtube-nocookie.com/embed/", "platform.twitter.com/embed/", "www.facebook.com/plugins/"} {
				rs = append(rs, LocalizeRule{Match: m, Action: Placeholder})
			}
			return rs
		}},
}

// Presets returns the built-in presets in documentation order.
func Presets() []Preset {
	out := make([]Preset, len(presetTable))
	for i, p := range presetTable {
		out[i] = p.Preset
		out[i].Hosts = append([]string(nil), p.Hosts...)
	}
	return out
}

// ExpandPresets returns the rules of the named presets, in the order
// named. An unknown name, or a Trackers action other than Defer and Strip,
// is an error.
func ExpandPresets(names []string, o PresetOptions) ([]LocalizeRule, error) {
	if o.FontsCSS == "" {
		o.FontsCSS = DefaultFontsCSS
	}
	if o.FontsFiles == "" {
		o.FontsFiles = DefaultFontsFiles
	}
	switch o.Trackers {
	case "":
		o.Trackers = Defer
	case Defer, Strip:
	default:
		return nil, fmt.Errorf("trackers action %q: want defer or strip", o.Trackers)
	}
	var out []LocalizeRule
	for _, name := range names {
		found := false
		for _, p := range presetTable {
			if p.Name == name {
				out = append(out, p.rules(o)...)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown localize preset %q", name)
		}
	}
	return out, nil
}

// blockedSuffixes are domains whose every host is blocked from mainland
// China, beyond the hosts the presets name.
var blockedSuffixes = []string{
	"google.com", "googleapis.com", "gstatic.com", "google-analytics.com", "googletagmanager.com",
	"googlesyndication.com", "doubleclick.net", "youtube.com", "youtube-nocookie.com", "ytimg.com",
	"facebook.com", "facebook.net", "fbcdn.net", "twitter.com", "twimg.com", "x.com", "gravatar.com",
}

// BlockedHost reports whether host (lower-case, without port) is a
// third-party host known to be blocked or unreliable from mainland China.
func BlockedHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, p := range presetTable {
		for _, h := range p.Hosts {
			if h == host {
				return true
			}
		}
	}
	for _, s := range blockedSuffixes {
		if host == s || strings.HasSuffix(host, "."+s) {
			return true
		}
	}
	return false
}

// BlockedURL reports whether an absolute (or protocol-relative) URL is on
// a blocked host (see BlockedHost), and names the preset whose rules would
// localize it, "" when none would. host is the URL's host, lower-case.
func BlockedURL(rawURL string) (host, preset string, blocked bool) {
	s := []byte(strings.TrimSpace(rawURL))
	n, h := urlAuthority(s)
	host = string(h)
	if n == 0 || !BlockedHost(host) {
		return host, "", false
	}
	for _, p := range presetTable {
		for _, r := range p.rules(PresetOptions{FontsCSS: DefaultFontsCSS, FontsFiles: DefaultFontsFiles, Trackers: Defer}) {
			h, path, err := splitMatch(r.Match)
			path, _, _ = strings.Cut(path, "*")
			if err == nil && h == host && hasPrefixStr(s[n:], path) {
				return host, p.Name, true
			}
		}
	}
	return host, "", true
}
