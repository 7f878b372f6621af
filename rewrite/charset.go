package rewrite

import (
	"bytes"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// pageCharset is a document's encoding as a browser would determine it
// (HTML "determining the character encoding").
type pageCharset struct {
	enc      encoding.Encoding
	name     string // WHATWG name, e.g. "gbk"
	bom      int    // length of a byte order mark to leave alone
	declared bool   // by BOM, Content-Type or <meta>; else a guess
	fromType bool   // the Content-Type already says it
}

// sniffTransport applies the steps that come before the document is read:
// the byte order mark, then the Content-Type charset. ok is false when
// neither decides.
func sniffTransport(src []byte, contentType string) (pc pageCharset, ok bool) {
	switch {
	case bytes.HasPrefix(src, []byte{0xEF, 0xBB, 0xBF}):
		return pageCharset{enc: encoding.Nop, name: "utf-8", bom: 3, declared: true}, true
	case bytes.HasPrefix(src, []byte{0xFE, 0xFF}):
		return pageCharset{name: "utf-16be", bom: 2, declared: true}, true
	case bytes.HasPrefix(src, []byte{0xFF, 0xFE}):
		return pageCharset{name: "utf-16le", bom: 2, declared: true}, true
	}
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		if e, name := charset.Lookup(params["charset"]); e != nil {
			return pageCharset{enc: e, name: name, declared: true, fromType: true}, true
		}
	}
	return pageCharset{}, false
}

// prescan runs the browser's <meta> prescan over the first 1024 bytes.
func prescan(src []byte) (encoding.Encoding, string) {
	head := src[:min(len(src), 1024)]
	// A trailing invalid byte (then NUL, so it is not trimmed as a partial
	// rune) stops DetermineEncoding from guessing UTF-8,
	// so anything but its windows-1252 default came from a <meta>.
	probe := append(append(make([]byte, 0, len(head)+2), head...), 0xFF, 0)
	e, name, _ := charset.DetermineEncoding(probe, "")
	if name == "windows-1252" {
		return nil, ""
	}
	return e, name
}

// fromMeta finishes detection once the document has been scanned: the
// prescan's <meta>, else the first <meta> charset in the head (browsers
// switch to it even past byte 1024), else a guess.
func fromMeta(src []byte, meta string) pageCharset {
	if e, name := prescan(src); e != nil {
		return pageCharset{enc: e, name: name, declared: true}
	}
	if meta != "" {
		if e, name := charset.Lookup(meta); e != nil {
			if strings.HasPrefix(name, "utf-16") {
				// HTML: a <meta> naming UTF-16 means UTF-8.
				e, name = encoding.Nop, "utf-8"
			}
			return pageCharset{enc: e, name: name, declared: true}
		}
	}
	if utf8.Valid(src) {
		return pageCharset{enc: encoding.Nop, name: "utf-8"}
	}
	e, name := charset.Lookup("windows-1252")
	return pageCharset{enc: e, name: name}
}

// unsafeCharset says why the notice cannot be spliced into a page in this
// encoding, or "" if it can: the page must be ASCII-compatible and
// stateless so that ASCII markup means itself at any tag boundary.
func unsafeCharset(name string) string {
	switch {
	case strings.HasPrefix(name, "utf-16"):
		return name + " cannot carry the notice"
	case name == "iso-2022-jp", name == "replacement":
		return name + " is not ascii-compatible"
	}
	return ""
}

// withCharset returns contentType carrying charset name.
func withCharset(contentType, name string) string {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt == "" {
		mt, params = "text/html", map[string]string{}
	}
	params["charset"] = name
	if s := mime.FormatMediaType(mt, params); s != "" {
		return s
	}
	return "text/html; charset=" + name
}
