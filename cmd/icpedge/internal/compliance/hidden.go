package compliance

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// Thresholds below which inline styles make text unreadable.
const (
	minFontPx  = 6    // CSS px; browsers' minimum font settings start higher
	minOpacity = 0.05 // compounded down the tree
	offscreen  = -999 // px; left, top or text-indent at or past this
	rootFontPx = 16   // the initial font size, for em, rem and %
)

// hiddenReason says why an element or text node would not be seen, by
// its own and its ancestors' markup and inline styles, or "" when nothing
// there hides it. Style sheets are not evaluated: the edge's notice sets
// its own inline styles with !important for that reason, and a check
// through the edge sees them.
func hiddenReason(n *html.Node) string {
	visibilityDecided := false
	fontDecided := false
	fontFactor := 1.0
	opacity := 1.0
	for x := n; x != nil; x = x.Parent {
		if x.Type != html.ElementNode {
			continue
		}
		tag := describe(x)
		switch x.Data {
		case "noscript":
			return "inside <noscript>"
		case "template":
			return "inside <template>"
		}
		st := parseStyle(attr(x, "style"))
		display, hasDisplay := st["display"]
		if display == "none" {
			return "display:none on " + tag
		}
		if hasAttr(x, "hidden") && !hasDisplay {
			return "the hidden attribute on " + tag
		}
		// visibility is inherited: the nearest declaration wins.
		if v, ok := st["visibility"]; ok && !visibilityDecided {
			visibilityDecided = true
			if v == "hidden" || v == "collapse" {
				return "visibility:" + v + " on " + tag
			}
		}
		if v, ok := st["opacity"]; ok {
			if o, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64); err == nil {
				if strings.HasSuffix(v, "%") {
					o /= 100
				}
				opacity *= o
				if opacity < minOpacity {
					return "opacity:" + v + " on " + tag
				}
			}
		}
		if !fontDecided {
			if size, ok := fontSize(st); ok {
				px, abs, factor := parseLength(size)
				switch {
				case abs:
					fontDecided = true
					if px*fontFactor < minFontPx {
						return "font-size:" + size + " on " + tag
					}
				case factor >= 0:
					fontFactor *= factor
					if fontFactor*rootFontPx < minFontPx {
						return "font-size:" + size + " on " + tag
					}
				}
			}
		}
		if st["overflow"] == "hidden" && (zeroLength(st["height"]) || zeroLength(st["max-height"])) {
			return "height:0 with overflow:hidden on " + tag
		}
		if p := st["position"]; p == "absolute" || p == "fixed" {
			for _, k := range []string{"left", "top"} {
				if px, abs, _ := parseLength(st[k]); abs && px <= offscreen {
					return k + ":" + st[k] + " (off-screen) on " + tag
				}
			}
		}
		if px, abs, _ := parseLength(st["text-indent"]); abs && px <= offscreen {
			return "text-indent:" + st["text-indent"] + " (off-screen) on " + tag
		}
	}
	return ""
}

// describe names an element for messages: <div id="foot">.
func describe(n *html.Node) string {
	if id := attr(n, "id"); id != "" {
		return fmt.Sprintf("<%s id=%q>", n.Data, id)
	}
	if c := attr(n, "class"); c != "" {
		return fmt.Sprintf("<%s class=%q>", n.Data, abbreviate(c, 40))
	}
	return "<" + n.Data + ">"
}

// parseStyle reads an inline style into lower-case property: value pairs,
// without !important. Later declarations win, as in CSS.
func parseStyle(s string) map[string]string {
	out := map[string]string{}
	for _, decl := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(decl, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.ToLower(strings.TrimSpace(v))
		v = strings.TrimSpace(strings.TrimSuffix(v, "!important"))
		if k != "" {
			out[k] = v
		}
	}
	return out
}

// fontSize returns the font size an inline style sets, from font-size or
// the font shorthand ("0/0 a", "12px/1.6 sans-serif").
func fontSize(st map[string]string) (string, bool) {
	if v, ok := st["font-size"]; ok {
		return v, true
	}
	if v, ok := st["font"]; ok {
		for _, tok := range strings.Fields(v) {
			size, _, _ := strings.Cut(tok, "/")
			if size != "" && (size[0] >= '0' && size[0] <= '9' || size[0] == '.') {
				return size, true
			}
		}
	}
	return "", false
}

// parseLength parses a CSS length. abs is set for absolute lengths (px,
// pt, rem, unitless 0), given in px; otherwise factor is the multiple of
// the parent's font size (em, %), or -1 when the value is not understood.
func parseLength(v string) (px float64, abs bool, factor float64) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false, -1
	}
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.' || v[i] == '-' || v[i] == '+') {
		i++
	}
	num, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return 0, false, -1
	}
	switch unit := v[i:]; unit {
	case "px":
		return num, true, 0
	case "pt":
		return num * 4 / 3, true, 0
	case "rem":
		return num * rootFontPx, true, 0
	case "em":
		return 0, false, num
	case "%":
		return 0, false, num / 100
	case "":
		if num == 0 {
			return 0, true, 0
		}
	}
	return 0, false, -1
}

func zeroLength(v string) bool {
	px, abs, factor := parseLength(v)
	return abs && px == 0 || !abs && factor == 0
}
