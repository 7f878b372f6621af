package rewrite

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxHints bounds the hints collected from one page.
const maxHints = 32

// Hint is a sub-resource a page needs before it can render, as a browser
// would want it preloaded: what an Early Hints response (RFC 8297) can
// name while the page itself is still on its way.
type Hint struct {
	// URL is the resource's URL as the rewritten page gives it, with
	// character references decoded and not yet resolved against the
	// page's URL or its <base>.
	URL string
	// As is the preload destination: "style", "script", "font" or
	// "image".
	As string
	// CrossOrigin is the request's CORS mode when it is made with CORS:
	// "anonymous" or "use-credentials"; "" for a no-CORS request.
	CrossOrigin string
}

// hint notes the sub-resource a start tag loads, if it is one a page
// needs before it renders: a style sheet, a preload of a style sheet,
// script, font or image, or a classic script in <head> that is neither
// async nor deferred. The tag is read as the page will have it, with the
// edits the scan made to it (a URL moved onto the edge, localize's
// replace, strip and defer), so that hints name what the visitor's page
// loads. edits[first:] are the tag's edits.
func (sc *scanner) hint(t *token, raw []byte, edits []edit) {
	s := sc.s
	if t.name == atom.Base {
		if !s.baseSet {
			if href, ok := tagAttr(raw, "href"); ok {
				s.base, s.baseSet = html.UnescapeString(string(href)), true
			}
		}
		return
	}
	if t.name != atom.Link && t.name != atom.Script || len(s.hints) >= maxHints {
		return
	}
	final := raw
	if len(edits) > 0 {
		final = applyTagEdits(raw, t.start, edits)
		if len(final) == 0 {
			return // stripped
		}
	}
	st := startTag{raw: final, attrs: lexAttrs(final, nil)}
	h := Hint{}
	var url []byte
	switch t.name {
	case atom.Link:
		href, ok := st.get("href")
		if !ok {
			return
		}
		url = href
		rel, _ := st.get("rel")
		rels := strings.Fields(strings.ToLower(string(rel)))
		if _, disabled := st.get("disabled"); disabled || !screenMedia(&st) {
			return
		}
		switch {
		case hasWord(rels, "stylesheet") && !hasWord(rels, "alternate"):
			h.As = "style"
		case hasWord(rels, "preload"):
			as, _ := st.get("as")
			switch a := strings.ToLower(strings.TrimSpace(string(as))); a {
			case "style", "script", "font", "image":
				h.As = a
			default:
				return
			}
			if _, responsive := st.get("imagesrcset"); responsive {
				return // a Link field can't carry the choice of image
			}
		default:
			return
		}
	case atom.Script:
		src, ok := st.get("src")
		if !ok || !sc.inHead {
			return
		}
		url = src
		for _, a := range []string{"async", "defer", "nomodule"} {
			if _, ok := st.get(a); ok {
				return
			}
		}
		if typ, ok := st.get("type"); ok && !classicScript(typ) {
			return // a module (deferred anyway), JSON, a template...
		}
		h.As = "script"
	}
	if co, ok := st.get("crossorigin"); ok {
		h.CrossOrigin = "anonymous"
		if eqFold(bytes.TrimSpace(co), "use-credentials") {
			h.CrossOrigin = "use-credentials"
		}
	} else if h.As == "font" {
		h.CrossOrigin = "anonymous" // fonts are always fetched with CORS
	}
	h.URL = html.UnescapeString(string(url))
	if strings.TrimSpace(h.URL) == "" {
		return
	}
	s.hints = append(s.hints, h)
}

// applyTagEdits applies the edits that fall inside a start tag (at offset
// base in the document) to its raw bytes; an edit inserting after it is
// not the tag's.
func applyTagEdits(raw []byte, base int, edits []edit) []byte {
	end := base + len(raw)
	out := make([]byte, 0, len(raw)+32)
	at := base
	for _, e := range edits {
		if e.start < base || e.end > end || e.start == end {
			continue
		}
		out = append(out, raw[at-base:e.start-base]...)
		out = append(out, e.repl...)
		at = e.end
	}
	return append(out, raw[at-base:]...)
}

// tagAttr returns the first attribute called name of a raw start tag.
func tagAttr(raw []byte, name string) ([]byte, bool) {
	st := startTag{raw: raw, attrs: lexAttrs(raw, nil)}
	return st.get(name)
}

func hasWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// screenMedia reports whether a link applies on screen whatever the
// viewport: no media attribute, or "all" or "screen". A style sheet for
// print, or for some widths only (or one localize's defer made
// media="print" until it loads), doesn't hold up rendering.
func screenMedia(st *startTag) bool {
	m, ok := st.get("media")
	if !ok {
		return true
	}
	m = bytes.TrimSpace(m)
	return len(m) == 0 || eqFold(m, "all") || eqFold(m, "screen")
}

// classicScript reports whether a script type attribute names a classic
// script: empty, or a JavaScript MIME type (HTML "prepare the script
// element").
func classicScript(typ []byte) bool {
	t := strings.ToLower(strings.TrimSpace(string(typ)))
	if t == "" {
		return true
	}
	mt, _, _ := strings.Cut(t, ";")
	switch strings.TrimSpace(mt) {
	case "text/javascript", "application/javascript", "application/ecmascript", "application/x-javascript",
		"application/x-ecmascript", "text/ecmascript", "text/jscript", "text/livescript", "text/x-javascript",
		"text/x-ecmascript", "text/javascript1.0", "text/javascript1.1", "text/javascript1.2",
		"text/javascript1.3", "text/javascript1.4", "text/javascript1.5":
		return true
	}
	return false
}
