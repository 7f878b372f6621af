// Package rewrite transforms HTML documents for the edge: it injects the ICP
// notice, moves the origin's absolute URLs onto the edge host, and repairs
// dead MIIT links. It is a pure library: bytes in, bytes out, no network and
// no HTTP.
package rewrite

import "io"

// Notice is the ICP notice block to inject.
type Notice struct {
	ICP     string // e.g. 京ICP备12345678号-1
	Company string // optional text shown before the number
	Police  string // optional, e.g. 京公网安备11010502012345号
	// PoliceBadgeURL is where the page loads the public-security badge from,
	// a path served by the edge itself, e.g. "/.icpedge/police.png".
	PoliceBadgeURL string
	// Selector is an optional CSS selector for the element that receives
	// the notice.
	Selector string
}

// Options configure a Rewriter.
type Options struct {
	Notice Notice
	// RewriteHosts are the origin's host names (lower-case, no port) whose
	// absolute URLs are moved onto the edge.
	RewriteHosts []string
}

// Edge is where the visitor reached us; URLs on RewriteHosts become URLs on
// Scheme://Host.
type Edge struct {
	Scheme string // "http" or "https"
	Host   string // host[:port] exactly as the visitor used it
}

// Result is a rewritten document.
type Result struct {
	Body []byte
	// ContentType is the Content-Type to send with Body (the charset
	// parameter may have been fixed or added).
	ContentType string
	// Skipped is non-empty when the document was passed through untouched,
	// and says why (e.g. "utf-16 cannot carry the notice").
	Skipped string
}

// Rewriter is compiled once per configuration and is safe for concurrent use.
type Rewriter struct{ opts Options }

// New validates opts (the selector must compile, ICP must be set) and
// returns a Rewriter.
func New(opts Options) (*Rewriter, error) { panic("todo") }

// HTML rewrites a whole HTML document. contentType is the response's
// Content-Type header (may be empty).
func (r *Rewriter) HTML(src []byte, contentType string, edge Edge) (Result, error) {
	panic("todo")
}

// Stream returns a writer for HTML too large to buffer: bytes written to it
// reach dst with URL rewrites and the notice inserted before the last
// </body> (or at the end). Close must be called to flush the tail.
func (r *Rewriter) Stream(dst io.Writer, contentType string, edge Edge) io.WriteCloser {
	panic("todo")
}

// URL rewrites one absolute URL (for Location and Content-Location headers):
// if its host is in RewriteHosts it is moved onto edge. Others are returned
// unchanged.
func (r *Rewriter) URL(raw string, edge Edge) string { panic("todo") }

// NoticeHTML returns the notice block alone, UTF-8, for the edge's own pages
// (error pages, 451 pages, landing page).
func (r *Rewriter) NoticeHTML() string { panic("todo") }
