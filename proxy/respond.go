package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/icpedge/icpedge/rewrite"
)

// reply is an origin response whose body the edge rewrites on its way to
// the visitor (a page, a style sheet).
type reply struct {
	status int
	// hdr is the header as the visitor gets it: hop-by-hop fields gone,
	// URLs on the edge.
	hdr   http.Header
	ctype string    // the media type, sniffed when the origin sent none
	body  io.Reader // decoded
	size  int64     // the decoded length when the origin gave it, else -1
}

// respond writes the origin's response to the visitor: HTML is decoded,
// rewritten and re-encoded; everything else streams through.
func (x *exchange) respond(resp *http.Response) {
	h, r := x.h, x.r
	if err := h.checkResponse(r.URL.Path, resp); err != nil {
		x.refuse(asBlocked(err))
		return
	}
	hdr := resp.Header.Clone()
	removeHopHeaders(hdr)
	h.removeTargeted(hdr)
	h.rewriteHeaders(hdr, x.edge)

	if !bodyAllowed(r.Method, resp.StatusCode) {
		if h.rewritten(hdr.Get("Content-Type")) && r.Method == http.MethodHead {
			// The rewritten body's length and encoding will differ.
			hdr.Del("Content-Length")
			hdr.Del("Content-Encoding")
			weakenETag(hdr)
			dropDigests(hdr)
		}
		copyHeader(x.w.Header(), hdr)
		x.w.WriteHeader(resp.StatusCode)
		return
	}

	p := &reply{status: resp.StatusCode, hdr: hdr, ctype: hdr.Get("Content-Type"), size: -1}
	if strings.TrimSpace(hdr.Get("Content-Encoding")) == "" {
		p.size = resp.ContentLength
	}
	// A 206 carries a piece of the origin's bytes: nothing in it can be
	// rewritten consistently with the rest, so it passes through as it is.
	if (p.ctype == "" || isHTML(p.ctype)) && resp.StatusCode != http.StatusPartialContent {
		body, err := x.decode(resp, hdr.Get("Content-Encoding"))
		if err == nil {
			defer body.Close()
			br := bufio.NewReaderSize(body, 512)
			p.body = br
			if p.ctype == "" {
				// Browsers sniff an untyped body; a page that sniffs as HTML
				// must get the notice too.
				peek, _ := br.Peek(512)
				p.ctype = http.DetectContentType(peek)
			}
			if isHTML(p.ctype) {
				x.respondHTML(p)
				return
			}
			// Not HTML after all, and partly read: stream what's decoded.
			if hdr.Get("Content-Encoding") != "" {
				dropDigests(hdr)
			}
			hdr.Del("Content-Encoding")
			hdr.Del("Content-Length")
			x.stream(p.status, hdr, br)
			return
		}
		h.log.Warn("html passed through: unknown content coding", "id", x.id, "encoding", hdr.Get("Content-Encoding"))
	}
	// A range (206) is a part of the sheet, which rewriting would corrupt.
	if h.rewrittenText(p.ctype) && resp.StatusCode != http.StatusPartialContent {
		if body, err := x.decode(resp, hdr.Get("Content-Encoding")); err == nil {
			defer body.Close()
			p.body = body
			x.respondText(p)
			return
		}
	}
	x.streamThrough(resp, hdr)
}

// respondHTML buffers an HTML body up to MaxHTMLSize and rewrites it. A
// larger body, or one that finds the budget spent, is rewritten while
// streaming, or passed through.
func (x *exchange) respondHTML(p *reply) {
	buf, l, state, ok := x.bufferForRewrite(p)
	if !ok {
		return
	}
	if state == bufComplete && !l.grow(htmlWorkFactor*int64(len(buf))) {
		state = bufNoMemory
	}
	if state != bufComplete {
		rest := x.h.handOff(buf, l, p.body)
		defer rest.Close()
		p.body = rest
		x.respondLargeHTML(p, state == bufNoMemory)
		return
	}
	res, _ := x.rewriteHTML(buf, p.ctype, p.hdr)
	releaseInput(buf, res.Body, l)
	x.writeLeased(p.status, p.hdr, res.Body, l)
}

// rewriteHTML runs a buffered page through the rewriter and sets the
// Content-Type it names in hdr. A page the rewriter can't or won't change
// (an error, an encoding that can't carry the notice) is returned as it
// is, with a warning; changed reports whether the notice went in. The
// result's Body is the page to send either way.
func (q *request) rewriteHTML(buf []byte, ctype string, hdr http.Header) (res rewrite.Result, changed bool) {
	h := q.h
	res, err := h.rw.HTML(buf, ctype, q.edge)
	switch {
	case err != nil:
		h.log.Warn("rewriting html failed, passing through", "id", q.id, "err", err)
		return rewrite.Result{Body: buf}, false
	case res.Skipped != "":
		h.log.Warn("html passed through without the notice", "id", q.id, "path", q.r.URL.Path, "reason", res.Skipped)
		return rewrite.Result{Body: buf}, false
	}
	if res.ContentType != "" {
		hdr.Set("Content-Type", res.ContentType)
	}
	return res, true
}

// respondLargeHTML handles HTML over the buffering cap in constant
// memory, or any HTML when noMemory says the budget is spent.
func (x *exchange) respondLargeHTML(p *reply, noMemory bool) {
	h, r := x.h, x.r
	switch {
	case h.opts.PassOversize && !noMemory:
		h.log.Warn("large html passed through without the notice", "id", x.id, "path", r.URL.Path, "limit", h.opts.MaxHTMLSize)
		x.stream(p.status, p.hdr, p.body)
		return
	case noMemory:
		h.log.Warn("buffer memory spent; html rewritten while streaming", "id", x.id, "path", r.URL.Path, "limit", h.budget.Limit())
	default:
		h.log.Info("large html rewritten while streaming", "id", x.id, "path", r.URL.Path, "limit", h.opts.MaxHTMLSize)
	}
	l := h.budget.lease()
	defer l.free()
	enc := streamEncoding(r.Header.Get("Accept-Encoding"), l)
	addVary(p.hdr, "Accept-Encoding")
	if enc != "" {
		p.hdr.Set("Content-Encoding", enc)
	}
	copyHeader(x.w.Header(), p.hdr)
	x.w.WriteHeader(p.status)
	if r.Method == http.MethodHead {
		return
	}
	cw := newStreamEncoder(x.w, enc)
	in := &countWriter{w: cw}
	sw := h.rw.Stream(in, p.ctype, x.edge)
	if _, err := io.Copy(sw, p.body); err != nil {
		x.abort("streaming large html failed", err)
	}
	if err := sw.Close(); err != nil {
		x.abort("streaming large html failed", err)
	}
	if err := cw.Close(); err != nil {
		x.abort("streaming large html failed", err)
	}
	if enc != "" {
		x.identitySize, x.codedSize = in.n, x.w.bytes
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// respondText buffers a style sheet, JSON or XML document up to MaxHTMLSize
// and rewrites it (rewriteText). A larger one, or one that finds the
// budget spent, streams through, decoded, as it is.
func (x *exchange) respondText(p *reply) {
	h, r := x.h, x.r
	buf, l, state, ok := x.bufferForRewrite(p)
	if !ok {
		return
	}
	if state == bufComplete && !l.grow(cssWorkFactor*int64(len(buf))) {
		state = bufNoMemory
	}
	if state != bufComplete {
		kind := "style sheet"
		switch {
		case isJSON(p.ctype):
			kind = "json"
		case isXML(p.ctype):
			kind = "xml document"
		}
		if state == bufOver {
			h.log.Warn("large "+kind+" passed through unchanged", "id", x.id, "path", r.URL.Path, "limit", h.opts.MaxHTMLSize)
		} else {
			h.log.Warn("buffer memory spent; "+kind+" passed through unchanged", "id", x.id, "path", r.URL.Path, "limit", h.budget.Limit())
		}
		rest := h.handOff(buf, l, p.body)
		defer rest.Close()
		addVary(p.hdr, "Accept-Encoding")
		x.stream(p.status, p.hdr, rest)
		return
	}
	out, _ := h.rewriteText(buf, p.ctype, x.edge)
	x.writeLeased(p.status, p.hdr, out, l)
}

// rewriteText rewrites a style sheet (url() and @import on the edge,
// localized), a JSON document (URLs on the edge in all their forms) or
// an XML one (a feed, a sitemap: URLs on the edge); changed reports
// whether anything moved.
func (h *Handler) rewriteText(body []byte, ctype string, edge rewrite.Edge) (out []byte, changed bool) {
	switch {
	case isJSON(ctype):
		out = h.rw.JSON(body, edge)
	case isXML(ctype):
		out = h.rw.XML(body, edge)
	default:
		out = h.rw.CSS(body, edge)
	}
	return out, !bytes.Equal(out, body)
}

// bufferForRewrite prepares p's header for a body the edge will rewrite
// (its length, coding and strong validator no longer hold) and reads the
// decoded body, up to MaxHTMLSize+1 bytes, into memory drawn from the
// budget: state bufOver means the body is longer than MaxHTMLSize and
// bufNoMemory that the budget was spent, with more to follow in p.body in
// both cases. The lease holds the buffer. A failed read is answered with
// a 502 and ok false.
func (x *exchange) bufferForRewrite(p *reply) (buf []byte, l *lease, state bufState, ok bool) {
	h, hdr := x.h, p.hdr
	hdr.Del("Content-Encoding")
	hdr.Del("Content-Length")
	dropDigests(hdr)
	weakenETag(hdr)
	l = h.budget.lease()
	if x.unbuffered != bufComplete {
		// A fill read as much as it could already; the rest streams.
		return nil, l, x.unbuffered, true
	}
	buf, state, err := readBody(p.body, h.opts.MaxHTMLSize, p.size, l)
	if err != nil {
		l.free()
		h.log.Warn("reading origin body failed", "id", x.id, "err", err)
		x.errorPage(http.StatusBadGateway)
		return nil, nil, state, false
	}
	return buf, l, state, true
}

// rewritten reports whether responses of this type get a body other than
// the origin's: HTML always, style sheets, JSON and XML when there is
// anything to change.
func (h *Handler) rewritten(ctype string) bool {
	return isHTML(ctype) || h.rewrittenText(ctype)
}

// rewrittenText reports whether a style sheet, JSON or XML document of
// this type is rewritten (rewriteText).
func (h *Handler) rewrittenText(ctype string) bool {
	return isCSS(ctype) && h.rw.EditsCSS() || (isJSON(ctype) || isXML(ctype)) && h.rw.EditsJSON()
}

// What rewriting takes beyond the body itself, as multiples of the body's
// length, drawn from the budget before it starts: the document tree, the
// output and the garbage made on the way (measured: an HTML rewrite
// allocates about 7 times the page, a style sheet about 5 times, much of
// it short-lived).
const (
	htmlWorkFactor = 4
	cssWorkFactor  = 3
)

// streamThrough passes a non-HTML body through byte-identical. An encoded
// body goes as it is when the visitor accepts its coding, and is decoded
// otherwise. hdr is resp's header as the visitor gets it.
func (x *exchange) streamThrough(resp *http.Response, hdr http.Header) {
	coding := strings.ToLower(strings.TrimSpace(hdr.Get("Content-Encoding")))
	if coding == "" || coding == "identity" || acceptsEncoding(x.r.Header.Get("Accept-Encoding"), coding) {
		if coding != "" {
			addVary(hdr, "Accept-Encoding")
		}
		x.stream(resp.StatusCode, hdr, resp.Body)
		return
	}
	body, err := x.decode(resp, coding)
	if err != nil {
		// A coding we can't decode: the visitor gets it as it is.
		x.stream(resp.StatusCode, hdr, resp.Body)
		return
	}
	defer body.Close()
	hdr.Del("Content-Encoding")
	hdr.Del("Content-Length")
	weakenETag(hdr)
	dropDigests(hdr)
	addVary(hdr, "Accept-Encoding")
	x.stream(resp.StatusCode, hdr, body)
}

// stream copies body to the visitor, flushing as the origin sends, so
// slow or event-stream responses reach the visitor as they come.
func (x *exchange) stream(status int, hdr http.Header, body io.Reader) {
	copyHeader(x.w.Header(), hdr)
	x.w.WriteHeader(status)
	if x.r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(x.w)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := x.w.Write(buf[:n]); werr != nil {
				x.h.log.Debug("client write failed", "id", x.id, "err", werr)
				return
			}
			_ = rc.Flush()
		}
		if rerr == io.EOF {
			return
		}
		if rerr != nil {
			x.abort("reading origin body failed", rerr)
		}
	}
}

// abort ends a response whose headers are already sent: the only honest
// failure left is to cut the connection, so the visitor sees an incomplete
// transfer rather than a truncated page that looks whole.
func (x *exchange) abort(msg string, err error) {
	x.h.log.Warn(msg, "id", x.id, "err", err)
	panic(http.ErrAbortHandler)
}

// writeBody sends a complete body, compressed to the visitor's
// Accept-Encoding, with a correct Content-Length.
func (x *exchange) writeBody(status int, hdr http.Header, body []byte) {
	x.writeLeased(status, hdr, body, nil)
}

// writeLeased is writeBody for a body whose memory l holds (nil when
// none). l is freed once the body is no longer needed: a body of more
// than pinMax bytes, after compression, goes to a spool file first, so
// that a slow visitor holds no budget.
func (x *exchange) writeLeased(status int, hdr http.Header, body []byte, l *lease) {
	h, r := x.h, x.r
	defer l.free()
	addVary(hdr, "Accept-Encoding")
	if enc := fastCoding(r.Header.Get("Accept-Encoding")); enc != "" && len(body) >= minCompressSize {
		n := len(body)
		body = h.enc.compress(enc, body)
		hdr.Set("Content-Encoding", enc)
		x.identitySize, x.codedSize = int64(n), int64(len(body))
	}
	// What the rewriter and compressor worked with is garbage now: only
	// the body to send is held.
	l.free()
	l.charge(int64(len(body)))
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	copyHeader(x.w.Header(), hdr)
	x.w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if l != nil && len(body) > pinMax {
		f, err := h.spill(body)
		if err == nil {
			defer f.Close()
			l.free()
			body = nil
			buf := h.copyBufs.Get().(*[]byte)
			_, _ = io.CopyBuffer(x.w, f, *buf)
			h.copyBufs.Put(buf)
			return
		}
		h.log.Warn("response kept in memory while it is sent", "err", err)
	}
	_, _ = x.w.Write(body)
}

func bodyAllowed(method string, status int) bool {
	if method == http.MethodHead {
		return false
	}
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
