package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// BlockRule is one rule of the content policy. A response is blocked when
// every condition the rule gives holds; a rule gives at least one.
type BlockRule struct {
	// Name identifies the rule in logs, e.g. "default:torrent-type" or
	// "policy.block[0]".
	Name string
	// Path is a glob on the request path, matched without regard to case.
	// Without "/" it matches the last path segment anywhere ("*.torrent");
	// beginning with "/" it matches the whole path ("/films/*.mp4");
	// ending in "/" it matches every path under it ("/downloads/"). "*"
	// and "?" do not cross "/" (path.Match). Empty means any path.
	Path string
	// Type is a media type ("application/x-bittorrent") or a top-level
	// type with "/*" ("video/*"), lower-case. Empty means any type.
	Type string
	// MaxSize blocks responses whose full representation is larger, in
	// bytes: Content-Length, or the complete length of a Content-Range,
	// or the bytes seen so far when neither is sent. Zero means any size.
	MaxSize int64
}

// pathOnly reports whether r can be decided from the request path alone,
// before the origin is asked.
func (r BlockRule) pathOnly() bool { return r.Path != "" && r.Type == "" && r.MaxSize == 0 }

// String describes the rule's conditions for logs and pages.
func (r BlockRule) String() string {
	var parts []string
	if r.Path != "" {
		parts = append(parts, "path "+r.Path)
	}
	if r.Type != "" {
		parts = append(parts, "type "+r.Type)
	}
	if r.MaxSize > 0 {
		parts = append(parts, "over "+strconv.FormatInt(r.MaxSize, 10)+" bytes")
	}
	return strings.Join(parts, ", ")
}

// defaultVideoLimit is the size over which the default rules block video:
// more than any product film, lecture or background clip a company site
// serves (an hour of 1080p at 2 Mbit/s is about 900 MB), less than a
// feature film, which is what gets shared filings revoked.
const defaultVideoLimit = 1 << 30

// defaultVideoExtensions are the file name extensions of video files
// served under a generic type (application/octet-stream): the formats
// films are shared in. rmvb and rm were the mainstream of pirated film in
// China.
var defaultVideoExtensions = []string{"mp4", "mkv", "avi", "rmvb", "rm", "wmv", "flv", "mov", "m4v", "ts", "mpg", "mpeg", "vob", "iso"}

// DefaultBlockRules returns the built-in content policy, a fresh slice on
// each call. It is conservative: it blocks what gets filings revoked
// (torrents, film-sized video files) and nothing a company site
// legitimately serves (images, documents, installers, short video).
func DefaultBlockRules() []BlockRule {
	rules := []BlockRule{
		{Name: "default:torrent-type", Type: "application/x-bittorrent"},
		{Name: "default:torrent-file", Path: "*.torrent"},
		{Name: "default:video-over-1GiB", Type: "video/*", MaxSize: defaultVideoLimit},
	}
	for _, ext := range defaultVideoExtensions {
		rules = append(rules, BlockRule{Name: "default:" + ext + "-over-1GiB", Path: "*." + ext, MaxSize: defaultVideoLimit})
	}
	return rules
}

// matchPath reports whether a request path (in canonical form, see
// canonicalPath) matches a rule's glob. The path is matched as it is and
// as lax origins read it (lenientPath), so "/a.torrent;x" and
// "/a.torrent." don't escape "*.torrent". A glob without "/" matches any
// segment, so a file served under a trailing slash or with extra path
// info ("/a.torrent/", "/a.torrent/x") is matched too.
func matchPath(glob, p string) bool {
	glob, p = strings.ToLower(glob), strings.ToLower(p)
	if matchGlob(glob, p) {
		return true
	}
	lp := lenientPath(p)
	return lp != p && matchGlob(glob, lp)
}

func matchGlob(glob, p string) bool {
	switch {
	case strings.HasSuffix(glob, "/"):
		return strings.HasPrefix(p, glob)
	case strings.HasPrefix(glob, "/"):
		ok, _ := path.Match(glob, p)
		return ok
	}
	// "*.ext", the usual glob, is a suffix: no path.Match per segment on
	// every request.
	suffix, isSuffix := strings.CutPrefix(glob, "*")
	isSuffix = isSuffix && !strings.ContainsAny(suffix, `*?[\`)
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
		case isSuffix:
			if strings.HasSuffix(seg, suffix) {
				return true
			}
		default:
			if ok, _ := path.Match(glob, seg); ok {
				return true
			}
		}
	}
	return false
}

// lenientPath is p as origins that are lax about segments read it: each
// segment without its ";parameters" (Java servlet containers drop them)
// and without trailing dots and spaces (Windows servers drop them).
func lenientPath(p string) string {
	lax := strings.IndexByte(p, ';') >= 0
	for i := 0; i < len(p) && !lax; i++ {
		lax = (p[i] == '.' || p[i] == ' ') && (i+1 == len(p) || p[i+1] == '/')
	}
	if !lax {
		return p
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		seg, _, _ = strings.Cut(seg, ";")
		segs[i] = strings.TrimRight(seg, ". ")
	}
	return strings.Join(segs, "/")
}

// matchType reports whether a Content-Type matches a rule's type.
func matchType(pattern, ctype string) bool {
	mt := mediaType(ctype)
	if mt == "" {
		return false
	}
	if top, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(mt, top+"/")
	}
	return mt == pattern
}

// MatchPath returns the first rule that blocks the path whatever the
// response, so the request can be refused before the origin is asked.
func MatchPath(rules []BlockRule, p string) (BlockRule, bool) {
	for _, r := range rules {
		if r.pathOnly() && matchPath(r.Path, p) {
			return r, true
		}
	}
	return BlockRule{}, false
}

// Match returns the first rule that blocks a response for path with the
// given Content-Type and size in bytes (-1 when unknown: size conditions
// then do not hold).
func Match(rules []BlockRule, p, ctype string, size int64) (BlockRule, bool) {
	for _, r := range rules {
		if r.conditionsBut(p, ctype) && (r.MaxSize == 0 || size > r.MaxSize) {
			return r, true
		}
	}
	return BlockRule{}, false
}

// conditionsBut reports whether the path and type conditions hold.
func (r BlockRule) conditionsBut(p, ctype string) bool {
	return (r.Path == "" || matchPath(r.Path, p)) && (r.Type == "" || matchType(r.Type, ctype))
}

// sizeLimit returns the smallest size that would block a response of
// unknown length for path and type, and its rule; 0 when none would.
func sizeLimit(rules []BlockRule, p, ctype string) (int64, BlockRule) {
	var limit int64
	var rule BlockRule
	for _, r := range rules {
		if r.MaxSize > 0 && r.conditionsBut(p, ctype) && (limit == 0 || r.MaxSize < limit) {
			limit, rule = r.MaxSize, r
		}
	}
	return limit, rule
}

// representationSize is the full size of a response's content: the
// complete length of a Content-Range (RFC 9110 §14.4), else
// Content-Length; -1 when unknown.
func representationSize(status int, hdr http.Header) int64 {
	if status == http.StatusPartialContent {
		if cr := hdr.Get("Content-Range"); cr != "" {
			if i := strings.LastIndexByte(cr, '/'); i >= 0 {
				if n, err := strconv.ParseInt(strings.TrimSpace(cr[i+1:]), 10, 64); err == nil && n >= 0 {
					return n
				}
			}
			return -1
		}
	}
	if cl := hdr.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n >= 0 {
			return n
		}
	}
	return -1
}

// blockedError is a response refused by the content policy after its
// headers arrived; it is answered with 451, never stored.
type blockedError struct {
	rule   BlockRule
	reason string
}

func (e *blockedError) Error() string {
	return fmt.Sprintf("blocked by content policy rule %s (%s): %s", e.rule.Name, e.rule, e.reason)
}

// checkResponse applies the content policy to an origin response for
// path. It returns a *blockedError when the response must be refused.
// When the size is unknown and a size rule could still apply, the body is
// wrapped so that reading past the limit fails with a *blockedError, which
// cuts the transfer (the headers are gone by then).
func (h *Handler) checkResponse(p string, resp *http.Response) error {
	if len(h.opts.Block) == 0 || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	ctype := resp.Header.Get("Content-Type")
	size := representationSize(resp.StatusCode, resp.Header)
	if r, ok := Match(h.opts.Block, p, ctype, size); ok {
		reason := "content type " + ctype
		if r.MaxSize > 0 {
			reason = "size " + strconv.FormatInt(size, 10) + " bytes"
		}
		return &blockedError{rule: r, reason: reason}
	}
	if size < 0 && resp.Body != nil {
		if limit, r := sizeLimit(h.opts.Block, p, ctype); limit > 0 {
			resp.Body = &limitedBody{ReadCloser: resp.Body, left: limit, rule: r}
		}
	}
	return nil
}

// checkStored applies the content policy to a stored response: one that
// was stored before a rule was added.
func (h *Handler) checkStored(p string, status int, hdr http.Header, size int64) error {
	if len(h.opts.Block) == 0 || status < 200 || status > 299 {
		return nil
	}
	ctype := hdr.Get("Content-Type")
	if r, ok := Match(h.opts.Block, p, ctype, size); ok {
		return &blockedError{rule: r, reason: "stored response, content type " + ctype + ", " + strconv.FormatInt(size, 10) + " bytes"}
	}
	return nil
}

// limitedBody fails once more than left bytes have been read.
type limitedBody struct {
	io.ReadCloser
	left int64
	rule BlockRule
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		n = int(b.left) // nothing past the limit goes out
		b.left = -1
		return n, &blockedError{rule: b.rule, reason: "the body grew past " + strconv.FormatInt(b.rule.MaxSize, 10) + " bytes"}
	}
	b.left -= int64(n)
	return n, err
}

// refuse answers a request the content policy blocks: 451 (RFC 7725) with
// a short page that still carries the notice, and one log line naming the
// rule.
func (x *exchange) refuse(be *blockedError) {
	r := x.r
	x.h.log.Warn("response blocked by content policy", "id", x.id, "host", r.Host, "path", r.URL.Path,
		"rule", be.rule.Name, "conditions", be.rule.String(), "reason", be.reason)
	x.page(http.StatusUnavailableForLegalReasons,
		"此内容不在本站提供。",
		"This content is not available on this site.")
}

// asBlocked returns err as a *blockedError, or nil.
func asBlocked(err error) *blockedError {
	var be *blockedError
	if errors.As(err, &be) {
		return be
	}
	return nil
}
