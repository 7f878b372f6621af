package config

import (
	"slices"
	"strings"

	"github.com/icpedge/icpedge/rewrite"
)

// Localize makes pages load in mainland China: it changes what pages ask
// for from third-party hosts blocked there (key localize). The zero value
// changes nothing.
type Localize struct {
	// Presets are the built-in rule sets switched on (key
	// localize.presets), by name: recaptcha, google-fonts, jsdelivr,
	// gravatar, google-ajax, trackers, embeds. Each at most once.
	Presets []string
	// GoogleFontsMirror replaces Google Fonts for the google-fonts preset
	// (key localize.google_fonts_mirror). Empty fields mean the preset's
	// defaults, fonts.googleapis.cn and fonts.gstatic.cn.
	GoogleFontsMirror FontsMirror
	// Trackers is what the trackers preset does (key localize.trackers):
	// "defer" (the default) or "strip".
	Trackers string
	// Rules are the instance's own rules (key localize.rules), applied
	// before the presets': for the same match, a rule here wins.
	Rules []LocalizeRule
}

// FontsMirror names the hosts that stand in for Google Fonts: each a host,
// or a host and path, optionally with "https://".
type FontsMirror struct {
	CSS   string // key localize.google_fonts_mirror.css, for fonts.googleapis.com
	Files string // key localize.google_fonts_mirror.files, for fonts.gstatic.com
}

// LocalizeRule is one rule of localize.rules.
type LocalizeRule struct {
	// Match is a host, or a host and path prefix, optionally with a
	// scheme, which is ignored (key localize.rules[].match).
	Match string
	// Action is replace, strip, defer or placeholder
	// (key localize.rules[].action).
	Action string
	// With is the replacement for action replace
	// (key localize.rules[].with); empty for the others.
	With string
	// Key names the rule in messages, e.g. "localize.rules[0]".
	Key string
}

const (
	defaultTrackers = "defer"

	expectMatch     = `a host or a URL prefix without query, e.g. www.google-analytics.com or www.google.com/recaptcha/`
	expectWith      = `a host or a URL prefix, e.g. www.recaptcha.net/recaptcha/ or https://mirror.client.cn/lib/`
	expectMirror    = "a host or a URL prefix, e.g. fonts.googleapis.cn"
	expectLocRules  = "a list of {match, action, with} mappings"
	expectLocAction = "replace, strip, defer or placeholder"
)

var (
	localizeKeys = []string{"presets", "google_fonts_mirror", "trackers", "rules"}
	mirrorKeys   = []string{"css", "files"}
	locRuleKeys  = []string{"match", "action", "with"}
)

// presetNames lists the presets rewrite knows, in its documentation order.
func presetNames() []string {
	var names []string
	for _, p := range rewrite.Presets() {
		names = append(names, p.Name)
	}
	return names
}

func (p *parser) localize(c *Config, top *mapping) {
	lm := top.sub("localize", localizeKeys)
	names := presetNames()
	expected := "one of " + strings.Join(names, ", ")
	items, _ := lm.list("presets", "a list of preset names, e.g. [recaptcha, google-fonts]")
	for i, n := range items {
		key := index("localize.presets", i)
		s, ok := p.item(n, key, expected)
		switch {
		case !ok:
		case !slices.Contains(names, s):
			p.bad(n, key, "a localize preset", expected)
		case slices.Contains(c.Localize.Presets, s):
			p.add(n.Line, key, "%s is listed twice; expected each preset once", show(n))
		default:
			c.Localize.Presets = append(c.Localize.Presets, s)
		}
	}

	// Settings of a preset that is off would be silently ignored.
	onlyWith := func(name, preset string) bool {
		if lm.node(name) == nil || slices.Contains(c.Localize.Presets, preset) {
			return true
		}
		p.add(lm.keyLine(name), lm.key(name), "only used with preset %s; expected %s in localize.presets, or no localize.%s", preset, preset, name)
		return false
	}
	if onlyWith("google_fonts_mirror", "google-fonts") {
		fm := lm.sub("google_fonts_mirror", mirrorKeys)
		c.Localize.GoogleFontsMirror.CSS = p.urlPrefix(fm, "css", expectMirror, false)
		c.Localize.GoogleFontsMirror.Files = p.urlPrefix(fm, "files", expectMirror, false)
	}
	c.Localize.Trackers = defaultTrackers
	if onlyWith("trackers", "trackers") {
		c.Localize.Trackers = p.enum(lm, "trackers", defaultTrackers, "a trackers action", "defer", "strip")
	}

	rules, _ := lm.list("rules", expectLocRules)
	first := map[string]string{}
	for i, item := range rules {
		key := index("localize.rules", i)
		if isNull(item) {
			p.add(item.Line, key, "empty; expected a mapping with keys match, action, with")
			continue
		}
		r := p.mapping(item, key, item.Line, locRuleKeys)
		if r.broken {
			continue
		}
		rule := LocalizeRule{Key: key}
		rule.Match = p.urlPrefix(r, "match", expectMatch, true)
		if rule.Match != "" {
			norm := strings.ToLower(stripScheme(rule.Match))
			if k := first[norm]; k != "" {
				p.add(r.node("match").Line, r.key("match"), "%s repeats %s; expected each match once", show(r.node("match")), k)
			} else {
				first[norm] = r.key("match")
			}
		}
		if s, n := r.required("action", expectLocAction); n != nil {
			if slices.Contains([]string{"replace", "strip", "defer", "placeholder"}, s) {
				rule.Action = s
			} else {
				p.bad(n, r.key("action"), "a localize action", expectLocAction)
			}
		}
		switch {
		case rule.Action == "replace":
			rule.With = p.urlPrefix(r, "with", expectWith, true)
		case rule.Action != "" && r.node("with") != nil:
			p.add(r.node("with").Line, r.key("with"), "only used with action replace; expected no with for action %s", rule.Action)
		}
		stars := strings.Count(rule.Match, "*")
		switch {
		case rule.Match == "":
			// Missing or invalid, and reported.
		case stars == 0 && strings.Contains(rule.With, "*"):
			p.add(r.node("with").Line, r.key("with"), `%s has a "*" but match has none; expected a "*" in both or in neither`, show(r.node("with")))
		case stars > 0 && rule.Action != "" && rule.Action != "replace":
			p.add(r.node("match").Line, r.key("match"), `%s has a "*", which only action replace takes; expected a plain prefix`, show(r.node("match")))
		case stars > 0 && rule.With != "" && strings.Count(rule.With, "*") != 1:
			p.add(r.node("with").Line, r.key("with"), `%s needs exactly one "*", for what the "*" in match matched`, show(r.node("with")))
		}
		c.Localize.Rules = append(c.Localize.Rules, rule)
	}
}

// urlPrefix reads a host or URL prefix: an optional http(s):// or //, a
// host name or IP address, and an optional path (no query or fragment)
// without spaces, quotes, angle brackets or backslashes; a "*" is allowed
// only in the path. It is returned as written.
func (p *parser) urlPrefix(m *mapping, name, expected string, required bool) string {
	s, n := m.scalar(name, expected)
	if n == nil || s == "" {
		if required {
			m.missing(name, expected)
		}
		return ""
	}
	norm, reason := urlPrefix(s)
	if reason != "" {
		p.add(n.Line, m.key(name), "%s is not a URL prefix (%s); expected %s", show(n), reason, expected)
		return ""
	}
	return norm
}

func stripScheme(s string) string {
	for _, pre := range []string{"https://", "http://", "//"} {
		if len(s) >= len(pre) && strings.EqualFold(s[:len(pre)], pre) {
			return s[len(pre):]
		}
	}
	return s
}

// urlPrefix checks a host or URL prefix and returns it with its host in
// canonical form (lower case, internationalised names as xn--); a
// non-empty reason says what is wrong.
func urlPrefix(s string) (norm, reason string) {
	lower := strings.ToLower(s)
	if strings.Contains(s, "://") && !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return "", "the scheme is not http or https"
	}
	rest := stripScheme(s)
	scheme := s[:len(s)-len(rest)]
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	switch {
	case strings.Contains(host, "*"):
		return "", `a "*" in the host`
	case strings.ContainsAny(rest, "?#"):
		return "", "has a query or fragment"
	case strings.ContainsAny(rest, " \t\"'<>\\()&;,"):
		return "", "has a space, quote, angle bracket, backslash, parenthesis, &, ; or ,"
	case strings.Count(path, "*") > 1:
		return "", `more than one "*"`
	}
	h, reason := hostOrIP(host)
	if reason != "" {
		return "", "host " + reason
	}
	return strings.ToLower(scheme) + h + path, ""
}
