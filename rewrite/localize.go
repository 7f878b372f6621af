package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Action is what a localize rule does where a page asks for a matched URL.
type Action string

// The localize actions.
const (
	// Replace swaps the matched prefix for With wherever the URL occurs:
	// src, href, srcset, action and the other URL attributes, <link>,
	// <meta http-equiv=refresh>, and style sheets (url() and @import).
	Replace Action = "replace"
	// Strip removes the element that loads the URL: a <script src> or
	// <iframe> through its end tag; a <link> (stylesheet, preload,
	// modulepreload, prefetch, preconnect, dns-prefetch) or <img>; and an
	// @import of it from a style sheet. Links (<a>) and forms stay.
	Strip Action = "strip"
	// Defer keeps the element but stops it holding up the page: a
	// <script src> gets async (not defer, which would still hold
	// DOMContentLoaded until the blocked host times out); a
	// <link rel=stylesheet> gets media="print" and an onload that switches
	// it to its own media once loaded, with a <noscript> copy of the
	// original for browsers without scripts. Nothing else changes.
	Defer Action = "defer"
	// Placeholder replaces an <iframe> through its end tag with a small
	// link that opens the embedded page in a new tab, with the iframe's
	// width and height if it gives them. Other elements stay.
	Placeholder Action = "placeholder"
)

// LocalizeRule changes what pages ask for from one third-party host or URL
// prefix, typically one blocked in mainland China.
type LocalizeRule struct {
	// Match is a host ("www.google-analytics.com") or a host and path
	// prefix ("www.google.com/recaptcha/"). http, https and
	// protocol-relative URLs all match; a scheme given here is ignored.
	// The host matches exactly, ignoring case and port; the path is a
	// plain, case-sensitive prefix, in which one "*" stands for any run of
	// characters other than "/", "?" and "#" (for Replace only).
	Match string
	// Action is what happens to a matching URL.
	Action Action
	// With is, for Replace, what the matched prefix becomes: a host, or a
	// host and path ("www.recaptcha.net/recaptcha/"), keeping the URL's
	// own scheme; or an "https://…" prefix, which replaces the scheme too.
	// A "*" in it is what the "*" in Match matched. Empty for the other
	// actions.
	With string
}

// locRule is a compiled LocalizeRule.
type locRule struct {
	match  string // as configured, for messages
	path   string // path prefix after the host; the part before "*" if any
	suffix string // after "*", when wild
	wild   bool
	action Action
	// with replaces the authority and path (or, with scheme set, the whole
	// prefix); for a wild rule, withPre + star + withSuf.
	with, withSuf string
	scheme        bool
}

// localizer holds the rules by host; each host's rules are longest path
// first, so that the most specific one wins. A nil localizer has no rules.
type localizer map[string][]*locRule

// compileLocalize checks and indexes rules. For the same Match the first
// rule wins, so rules listed before presets override them.
func compileLocalize(rules []LocalizeRule) (localizer, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	var errs []error
	l := localizer{}
	seen := map[string]bool{}
	for _, lr := range rules {
		host, path, err := splitMatch(lr.Match)
		if err != nil {
			errs = append(errs, fmt.Errorf("localize match %q: %w", lr.Match, err))
			continue
		}
		r := &locRule{match: lr.Match, path: path, action: lr.Action}
		switch lr.Action {
		case Replace:
			if lr.With == "" {
				errs = append(errs, fmt.Errorf("localize match %q: replace needs with", lr.Match))
				continue
			}
			with, scheme, err := parseWith(lr.With)
			if err != nil {
				errs = append(errs, fmt.Errorf("localize with %q: %w", lr.With, err))
				continue
			}
			r.with, r.scheme = with, scheme
		case Strip, Defer, Placeholder:
			if lr.With != "" {
				errs = append(errs, fmt.Errorf("localize match %q: with is only for replace", lr.Match))
				continue
			}
		default:
			errs = append(errs, fmt.Errorf("localize match %q: unknown action %q; want replace, strip, defer or placeholder", lr.Match, lr.Action))
			continue
		}
		if pre, suf, ok := strings.Cut(path, "*"); ok {
			if lr.Action != Replace || strings.Contains(suf, "*") || strings.Count(r.with, "*") != 1 {
				errs = append(errs, fmt.Errorf("localize match %q: a \"*\" needs action replace and exactly one \"*\" in match and in with", lr.Match))
				continue
			}
			r.path, r.suffix, r.wild = pre, suf, true
			r.with, r.withSuf, _ = strings.Cut(r.with, "*")
		} else if strings.Contains(r.with, "*") {
			errs = append(errs, fmt.Errorf("localize with %q: \"*\" without one in match", lr.With))
			continue
		}
		if key := host + "/" + path; !seen[key] {
			seen[key] = true
			l[host] = append(l[host], r)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, rs := range l {
		slices.SortStableFunc(rs, func(a, b *locRule) int { return len(b.path) + len(b.suffix) - len(a.path) - len(a.suffix) })
	}
	return l, nil
}

// splitMatch splits a rule's Match into a lower-case host and a path
// prefix ("" or beginning with "/").
func splitMatch(m string) (host, path string, err error) {
	m = strings.TrimSpace(m)
	for _, p := range []string{"https://", "http://", "//"} {
		if len(m) >= len(p) && strings.EqualFold(m[:len(p)], p) {
			m = m[len(p):]
			break
		}
	}
	host, path = m, ""
	if i := strings.IndexAny(m, "/?#"); i >= 0 {
		host, path = m[:i], m[i:]
		if path[0] != '/' {
			return "", "", errors.New("want a host, or a host and a path beginning with /")
		}
	}
	if err := checkHost(host); err != nil {
		return "", "", err
	}
	if strings.ContainsAny(path, " \t\r\n\f\"'<>\\") {
		return "", "", errors.New("the path has a space, quote, angle bracket or backslash")
	}
	return strings.ToLower(host), path, nil
}

// parseWith checks a replacement and returns what replaces the authority
// and path, and whether it carries its own scheme.
func parseWith(w string) (with string, scheme bool, err error) {
	w = strings.TrimSpace(w)
	rest := w
	for _, p := range []string{"https://", "http://", "//"} {
		if len(w) >= len(p) && strings.EqualFold(w[:len(p)], p) {
			rest, scheme = w[len(p):], true
			break
		}
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if err := checkHost(host); err != nil {
		return "", false, err
	}
	// The replacement is spliced unescaped into attributes and CSS.
	if strings.ContainsAny(rest, " \t\r\n\f\"'<>\\()&;,") {
		return "", false, errors.New("has a space, quote, angle bracket, backslash, parenthesis, &, ; or ,")
	}
	return w, scheme, nil
}

func checkHost(h string) error {
	if h == "" {
		return errors.New("no host")
	}
	for i := 0; i < len(h); i++ {
		c := h[i] | 0x20
		if !(c >= 'a' && c <= 'z' || isDigit(h[i]) || h[i] == '.' || h[i] == '-' || h[i] == ':' || h[i] == '[' || h[i] == ']') {
			return fmt.Errorf("the host has the character %q", h[i])
		}
	}
	return nil
}

// schemeLen is the length of "https://", "http://" or "//" at the start of
// s, which urlAuthority has already accepted.
func schemeLen(s []byte) int {
	switch {
	case hasPrefixFold(s, "https://"):
		return 8
	case hasPrefixFold(s, "http://"):
		return 7
	}
	return 2
}

// lookup finds the rule for the URL at the start of s, whose authority
// urlAuthority measured as n bytes naming host. end is where the matched
// prefix ends in s, star the span "*" matched.
func (l localizer) lookup(s []byte, n int, host []byte) (r *locRule, end int, star []byte) {
	for _, r := range l[string(host)] {
		rest := s[n:]
		if !hasPrefixStr(rest, r.path) {
			continue
		}
		if !r.wild {
			return r, n + len(r.path), nil
		}
		k := len(r.path)
		for k < len(rest) && !isURLEnd(rest[k]) && rest[k] != '/' && rest[k] != '?' && rest[k] != '#' {
			k++
		}
		// The segment must be followed by the literal suffix; try the
		// longest run that is (a suffix may start with characters the
		// run holds, as ".min.js" does after "3.6.0").
		for m := k; m >= len(r.path); m-- {
			if hasPrefixStr(rest[m:], r.suffix) {
				return r, n + m + len(r.suffix), rest[len(r.path):m]
			}
		}
	}
	return nil, 0, nil
}

// isURLEnd reports whether c cannot be part of a URL as written in an
// attribute value or style sheet.
func isURLEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '"', '\'', '(', ')', '<', '>', ',', '\\':
		return true
	}
	return false
}

// replaceEdit is the edit a Replace rule makes to the URL at the start
// of u, at offset at in the document, which lookup matched up to end
// with star.
func (r *locRule) replaceEdit(u []byte, end int, star []byte, at int) edit {
	with := r.with
	if r.wild {
		with = r.with + string(star) + r.withSuf
	}
	if r.scheme {
		return edit{at, at + end, with}
	}
	return edit{at + schemeLen(u), at + end, with}
}

// elemEdits is what editTag must do for an element a rule acts on.
type elemEdits struct {
	// whole is set when the start tag is replaced (strip, placeholder);
	// then no attribute is edited.
	whole bool
	// through is set when the removal must run through the element's end
	// tag (script, iframe).
	through bool
	// after is inserted right after the start tag.
	after string
}

// resourceRels are the <link> relations that load something; others
// (canonical, alternate, icon…) only name a URL.
var resourceRels = []string{"stylesheet", "preload", "modulepreload", "prefetch", "preconnect", "dns-prefetch"}

// element applies the rule matching an element's own resource URL, for the
// actions that act on elements (strip, defer, placeholder). It records its
// edits in u and says what else editTag must do.
func (u *urlRewriter) element(t *startTag) elemEdits {
	var attrName string
	switch string(t.name) {
	case "script", "iframe", "img":
		attrName = "src"
	case "link":
		attrName = "href"
	default:
		return elemEdits{}
	}
	v, ok := t.get(attrName)
	if !ok {
		return elemEdits{}
	}
	v = v[skipSpace(v, 0):]
	n, host := urlAuthority(v)
	if n == 0 {
		return elemEdits{}
	}
	r, _, _ := u.loc.lookup(v, n, host)
	if r == nil {
		return elemEdits{}
	}
	var rels []string
	if string(t.name) == "link" {
		rel, _ := t.get("rel")
		for _, f := range strings.Fields(strings.ToLower(string(rel))) {
			if slices.Contains(resourceRels, f) {
				rels = append(rels, f)
			}
		}
		if len(rels) == 0 {
			return elemEdits{}
		}
	}
	whole := func(repl string) {
		*u.out = append(*u.out, edit{t.base, t.base + len(t.raw), repl})
	}
	nameEnd := t.base + 1 + len(t.name)
	switch string(t.name) + " " + string(r.action) {
	case "script strip", "iframe strip":
		whole("")
		return elemEdits{whole: true, through: true}
	case "link strip", "img strip":
		whole("")
		return elemEdits{whole: true}
	case "iframe placeholder":
		whole(placeholderHTML(t, v, string(host)))
		return elemEdits{whole: true, through: true}
	case "script defer":
		if _, ok := t.get("async"); !ok {
			*u.out = append(*u.out, edit{nameEnd, nameEnd, " async"})
		}
	case "link defer":
		_, onload := t.get("onload")
		if !slices.Contains(rels, "stylesheet") || onload {
			// Already deferred (by us or the page), or not a style sheet.
			break
		}
		media := "all"
		for _, a := range t.attrs {
			if eqFold(t.attrName(a), "media") {
				if m := t.attrVal(a); safeMedia(m) {
					media = string(bytes.TrimSpace(m))
				}
				*u.out = append(*u.out, edit{t.base + a.vs, t.base + a.ve, "print"})
				break
			}
		}
		ins := ` onload="this.onload=null;this.media='` + media + `'"`
		if media == "all" {
			if _, has := t.get("media"); !has {
				ins = ` media="print"` + ins
			}
		}
		*u.out = append(*u.out, edit{nameEnd, nameEnd, ins})
		return elemEdits{after: "<noscript>" + string(t.raw) + "</noscript>"}
	}
	return elemEdits{}
}

// safeMedia reports whether a media attribute's raw value can be copied
// into a JavaScript string in an attribute as it is.
func safeMedia(m []byte) bool {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || len(m) > 200 {
		return false
	}
	for _, c := range m {
		if !(isLetter(c) || isDigit(c) || c == ' ' || c == '(' || c == ')' || c == ':' || c == ',' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

const placeholderStyle = "display:inline-flex;align-items:center;justify-content:center;" +
	"box-sizing:border-box;max-width:100%;padding:8px;border:1px solid #ccc;" +
	"background:#f4f4f4;color:#333;font:14px/1.4 sans-serif;text-decoration:none"

// placeholderHTML is the link that stands in for an embed: the iframe's src
// (still escaped as in the page), its size, and the host it opens.
func placeholderHTML(t *startTag, src []byte, host string) string {
	var b strings.Builder
	b.WriteString(`<a class="icpedge-embed" href="`)
	b.Write(bytes.ReplaceAll(bytes.TrimSpace(src), []byte(`"`), []byte("&#34;")))
	b.WriteString(`" target="_blank" rel="noopener" style="` + placeholderStyle)
	for _, dim := range []string{"width", "height"} {
		if v, ok := t.get(dim); ok {
			if css := cssLength(v); css != "" {
				b.WriteString(";" + dim + ":" + css)
			}
		}
	}
	b.WriteString(`">`)
	escapeText(&b, "▶ 在新窗口打开 "+host, true)
	b.WriteString(`</a>`)
	return b.String()
}

// cssLength turns an HTML dimension attribute ("560", "560px", "100%")
// into a CSS length; "" if it is none of those.
func cssLength(v []byte) string {
	v = bytes.TrimSpace(v)
	unit := "px"
	switch {
	case bytes.HasSuffix(v, []byte("%")):
		v, unit = v[:len(v)-1], "%"
	case hasSuffixFold(v, "px"):
		v = v[:len(v)-2]
	}
	if len(v) == 0 || len(v) > 5 {
		return ""
	}
	for _, c := range v {
		if !isDigit(c) {
			return ""
		}
	}
	return string(v) + unit
}

func hasPrefixStr(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

func hasSuffixFold(s []byte, p string) bool {
	return len(s) >= len(p) && hasPrefixFold(s[len(s)-len(p):], p)
}

// importEnd returns the index just past the ";" ending the @import at
// v[i:], or -1 if it has none (then it is left alone).
func importEnd(v []byte, i int) int {
	var q byte
	depth := 0
	for ; i < len(v); i++ {
		c := v[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == ';' && depth == 0:
			return i + 1
		case c == '{' || c == '}':
			return -1
		}
	}
	return -1
}
