package compliance

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/PuerkitoBio/goquery"

	"github.com/icpedge/icpedge/rewrite"
)

// CheckBlocked is the check of third-party hosts blocked in mainland
// China: pages must not hold up rendering on one.
const CheckBlocked = "blocked_hosts"

// blockedLoad is one thing a page loads from a third-party host blocked
// in mainland China.
type blockedLoad struct {
	host   string
	what   string // "script", "style sheet", "iframe", "image", "font or image", …
	preset string // the localize preset that handles the URL; "" if none
	// blocking is set for what holds up rendering until the host times
	// out: a script without async or defer, or a style sheet.
	blocking bool
}

// cssURLRE finds the URLs of @import and url() in a style sheet.
var cssURLRE = regexp.MustCompile(`(?i)(@import\s+(?:url\(\s*)?|url\(\s*)["']?([^"')\s;]+)`)

// blockedLoads lists what doc loads from blocked hosts (rewrite.BlockedURL),
// one entry per host and kind, render-blocking ones first.
func blockedLoads(doc *goquery.Document, base *url.URL) []blockedLoad {
	var out []blockedLoad
	add := func(raw, what string, blocking bool) {
		u, err := base.Parse(strings.TrimSpace(raw))
		if err != nil || u.Scheme != "http" && u.Scheme != "https" {
			return
		}
		host, preset, blocked := rewrite.BlockedURL(u.String())
		if !blocked {
			return
		}
		l := blockedLoad{host: host, what: what, preset: preset, blocking: blocking}
		if i := slices.IndexFunc(out, func(o blockedLoad) bool { return o.host == host && o.what == what }); i >= 0 {
			out[i].blocking = out[i].blocking || blocking
			if out[i].preset == "" {
				out[i].preset = preset
			}
			return
		}
		out = append(out, l)
	}
	css := func(text string, blocking bool) {
		for _, m := range cssURLRE.FindAllStringSubmatch(text, -1) {
			if strings.HasPrefix(strings.ToLower(m[1]), "@import") {
				add(m[2], "style sheet", blocking)
			} else {
				add(m[2], "font or image", false)
			}
		}
	}
	// One pass in document order, so the report lists hosts as the page
	// loads them.
	doc.Find("script[src], link[href], iframe[src], img, video[src], audio[src], source, embed[src], style, [style]").Each(func(_ int, s *goquery.Selection) {
		attr := func(name string) string { v, _ := s.Attr(name); return v }
		has := func(name string) bool { _, ok := s.Attr(name); return ok }
		if st, ok := s.Attr("style"); ok {
			css(st, false)
		}
		switch goquery.NodeName(s) {
		case "script":
			module := strings.EqualFold(strings.TrimSpace(attr("type")), "module")
			add(attr("src"), "script", !has("async") && !has("defer") && !module)
		case "link":
			rels := strings.Fields(strings.ToLower(attr("rel")))
			switch {
			case slices.Contains(rels, "stylesheet"):
				printOnly := strings.TrimSpace(strings.ToLower(attr("media"))) == "print"
				add(attr("href"), "style sheet", !has("disabled") && !slices.Contains(rels, "alternate") && !printOnly)
			case slices.Contains(rels, "preload"), slices.Contains(rels, "modulepreload"), slices.Contains(rels, "prefetch"):
				add(attr("href"), "preload", false)
			case slices.Contains(rels, "preconnect"), slices.Contains(rels, "dns-prefetch"):
				add(attr("href"), "preconnect", false)
			}
		case "iframe":
			add(attr("src"), "iframe", false)
		case "embed":
			add(attr("src"), "embed", false)
		case "img", "source", "video", "audio":
			what := "image"
			if n := goquery.NodeName(s); n == "video" || n == "audio" {
				what = "media"
			}
			if has("src") {
				add(attr("src"), what, false)
			}
			for _, cand := range strings.Split(attr("srcset"), ",") {
				if f := strings.Fields(cand); len(f) > 0 {
					add(f[0], what, false)
				}
			}
		case "style":
			css(s.Text(), true)
		}
	})
	slices.SortStableFunc(out, func(a, b blockedLoad) int {
		switch {
		case a.blocking == b.blocking:
			return 0
		case a.blocking:
			return -1
		}
		return 1
	})
	return out
}

// blockedResult reports, per page, the blocked third-party hosts it still
// loads. It fails when one holds up rendering: in mainland China such a
// page stays blank until the request times out.
func blockedResult(pages []pageFindings) Result {
	r := Result{Check: CheckBlocked}
	var blocking, other []string
	presets := map[string]bool{}
	for _, p := range pages {
		var hold, rest []string
		for _, l := range p.blocked {
			desc := l.host + " (" + l.what + ")"
			if l.blocking {
				hold = append(hold, desc)
				if l.preset != "" {
					presets[l.preset] = true
				}
			} else if !slices.Contains(rest, l.host) {
				rest = append(rest, l.host)
			}
		}
		if len(hold) > 0 {
			blocking = append(blocking, p.page+": "+strings.Join(hold, ", "))
			r.Pages = append(r.Pages, p.page)
		}
		if len(rest) > 0 {
			other = append(other, p.page+": "+strings.Join(rest, ", "))
		}
	}
	if len(blocking) > 0 {
		r.Status = Fail
		r.Detail = "render-blocking: " + summarize(blocking, len(pages))
		if len(other) > 0 {
			r.Detail += "; also loads " + summarize(other, len(pages))
		}
		r.Fix = "visitors in mainland China wait for these until they time out: localize them"
		if len(presets) > 0 {
			names := make([]string, 0, len(presets))
			for _, p := range rewrite.Presets() {
				if presets[p.Name] {
					names = append(names, p.Name)
				}
			}
			r.Fix += fmt.Sprintf(" (localize.presets: %s), or with localize.rules (replace with a mirror, defer, or strip)", strings.Join(names, ", "))
		} else {
			r.Fix += " with localize.rules (replace with a mirror, defer, or strip)"
		}
		r.Fix += ", or remove them from the origin"
		return r
	}
	r.Status = OK
	if len(other) == 0 {
		r.Detail = "no blocked third-party hosts on " + countPages(len(pages))
		return r
	}
	r.Detail = "none render-blocking; loads " + summarize(other, len(pages))
	return r
}
