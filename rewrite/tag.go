package rewrite

import (
	"bytes"
	"slices"
)

// attr is one attribute of a start tag, as offsets into the tag's raw bytes.
// The value span excludes quotes and is still escaped.
type attr struct {
	ns, ne int // name
	vs, ve int // value; vs == ve for an empty or missing value
}

// startTag is a start tag as the per-tag hook sees it. It is the single
// place where a tag's attributes are looked at, so later rules (e.g.
// localizing third-party scripts) add a case here instead of a second pass.
type startTag struct {
	raw   []byte // "<name ...>" exactly as in the document
	base  int    // offset of raw in the document
	name  []byte // lower-case tag name
	attrs []attr
}

// lexAttrs splits raw into attributes following the HTML tokenizer's tag
// states (HTML "before attribute name" through "attribute value (unquoted)"),
// so spans agree with what golang.org/x/net/html reports.
func lexAttrs(raw []byte, dst []attr) []attr {
	n := len(raw)
	if n > 0 && raw[n-1] == '>' {
		n--
	}
	i := 1
	for i < n && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	for {
		for i < n && (isSpace(raw[i]) || raw[i] == '/') {
			i++
		}
		if i >= n {
			return dst
		}
		a := attr{ns: i}
		if raw[i] == '=' {
			i++
		}
		for i < n && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '=' {
			i++
		}
		a.ne = i
		j := i
		for j < n && isSpace(raw[j]) {
			j++
		}
		if j < n && raw[j] == '=' {
			j++
			for j < n && isSpace(raw[j]) {
				j++
			}
			if j < n && (raw[j] == '"' || raw[j] == '\'') {
				q := raw[j]
				k := bytes.IndexByte(raw[j+1:n], q)
				if k < 0 {
					k = n - j - 1
				}
				a.vs, a.ve = j+1, j+1+k
				i = min(j+2+k, n)
			} else {
				a.vs = j
				for j < n && !isSpace(raw[j]) {
					j++
				}
				a.ve = j
				i = j
			}
		} else {
			a.vs, a.ve = a.ne, a.ne
		}
		dst = append(dst, a)
	}
}

func (t *startTag) attrName(a attr) []byte { return t.raw[a.ns:a.ne] }
func (t *startTag) attrVal(a attr) []byte  { return t.raw[a.vs:a.ve] }

// get returns the first attribute called name (lower-case), as browsers use
// the first of duplicated attributes.
func (t *startTag) get(name string) ([]byte, bool) {
	for _, a := range t.attrs {
		if eqFold(t.attrName(a), name) {
			return t.attrVal(a), true
		}
	}
	return nil, false
}

func eqFold(b []byte, s string) bool { return len(b) == len(s) && hasPrefixFold(b, s) }

// editTag is the per-start-tag hook: it records the edits for one tag in
// u (dead MIIT links, origin URLs, localize rules). html says the tag is an
// HTML element, not SVG or MathML; only those are stripped, deferred or
// replaced by a placeholder. through reports that the tag was removed and
// the removal must run through the element's end tag.
func editTag(t *startTag, u *urlRewriter, html bool) (through bool) {
	first := len(*u.out)
	var el elemEdits
	if u.loc != nil && html {
		if el = u.element(t); el.whole {
			return el.through
		}
	}
	for _, a := range t.attrs {
		name := t.attrName(a)
		v := t.attrVal(a)
		base := t.base + a.vs
		switch {
		case eqFold(name, "href"):
			if deadLink(v) {
				*u.out = append(*u.out, edit{base, base + len(v), miitURL})
			} else {
				u.value(v, base)
			}
		case eqFold(name, "src"), eqFold(name, "action"), eqFold(name, "formaction"),
			eqFold(name, "poster"), eqFold(name, "background"), eqFold(name, "xlink:href"),
			eqFold(name, "data") && string(t.name) == "object":
			u.value(v, base)
		case eqFold(name, "srcset"), eqFold(name, "imagesrcset"):
			u.srcset(v, base)
		// Lazy loaders (lazysizes, WP Rocket, a3 Lazy Load, Smush) keep
		// the real URL in data attributes until the element scrolls
		// into view, then copy it into src, srcset or a background.
		case eqFold(name, "data-src"), eqFold(name, "data-lazy-src"):
			u.value(v, base)
		case eqFold(name, "data-srcset"), eqFold(name, "data-lazy-srcset"):
			u.srcset(v, base)
		case eqFold(name, "data-bgset"):
			// lazysizes: srcset lists, each with an optional [media],
			// separated by "|".
			for off, part := 0, v; ; {
				i := bytes.IndexByte(part, '|')
				if i < 0 {
					u.srcset(part, base+off)
					break
				}
				u.srcset(part[:i], base+off)
				off, part = off+i+1, part[i+1:]
			}
		case eqFold(name, "data-bg"):
			// A URL, or a CSS background value with url().
			if i := skipSpace(v, 0); hasPrefixFold(v[i:], "url(") {
				u.css(v, base)
			} else {
				u.value(v, base)
			}
		case eqFold(name, "style"):
			u.css(v, base)
		case eqFold(name, "content") && string(t.name) == "meta":
			if he, ok := t.get("http-equiv"); ok && eqFold(bytes.TrimSpace(he), "refresh") {
				u.refresh(v, base)
			}
		}
	}
	if el.after != "" {
		end := t.base + len(t.raw)
		*u.out = append(*u.out, edit{end, end, el.after})
	}
	if tail := (*u.out)[first:]; len(tail) > 1 {
		// A deferred style sheet's media edit comes after the attributes
		// inserted at the tag name.
		slices.SortStableFunc(tail, func(a, b edit) int { return a.start - b.start })
	}
	return false
}

// metaCharset returns the encoding label a <meta> declares, per HTML's
// prescan rules: a charset attribute, or http-equiv=content-type with a
// charset in content.
func metaCharset(t *startTag) string {
	if cs, ok := t.get("charset"); ok {
		return string(bytes.TrimSpace(cs))
	}
	he, ok := t.get("http-equiv")
	if !ok || !eqFold(bytes.TrimSpace(he), "content-type") {
		return ""
	}
	c, _ := t.get("content")
	return charsetFromContent(c)
}

// charsetFromContent is HTML's "extracting a character encoding from a meta
// element".
func charsetFromContent(c []byte) string {
	for i := 0; i+7 <= len(c); i++ {
		if !hasPrefixFold(c[i:], "charset") {
			continue
		}
		j := i + 7
		for j < len(c) && isSpace(c[j]) {
			j++
		}
		if j >= len(c) || c[j] != '=' {
			i = j - 1
			continue
		}
		j++
		for j < len(c) && isSpace(c[j]) {
			j++
		}
		if j < len(c) && (c[j] == '"' || c[j] == '\'') {
			q := c[j]
			k := bytes.IndexByte(c[j+1:], q)
			if k < 0 {
				return ""
			}
			return string(c[j+1 : j+1+k])
		}
		k := j
		for k < len(c) && !isSpace(c[k]) && c[k] != ';' {
			k++
		}
		return string(c[j:k])
	}
	return ""
}
