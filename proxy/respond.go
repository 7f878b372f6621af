package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/icpedge/icpedge/rewrite"
)

// respond writes the origin's response to the visitor: HTML is decoded,
// rewritten and re-encoded; everything else streams through.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, resp *http.Response, edge rewrite.Edge, info *reqInfo) {
	if err := h.checkResponse(r.URL.Path, resp); err != nil {
		h.refuse(w, r, info, asBlocked(err))
		return
	}
	hdr := resp.Header.Clone()
	removeHopHeaders(hdr)
	h.rewriteHeaders(hdr, edge)

	if !bodyAllowed(r.Method, resp.StatusCode) {
		if h.rewritten(hdr.Get("Content-Type")) && r.Method == http.MethodHead {
			// The rewritten body's length and encoding will differ.
			hdr.Del("Content-Length")
			hdr.Del("Content-Encoding")
			weakenETag(hdr)
		}
		copyHeader(w.Header(), hdr)
		w.WriteHeader(resp.StatusCode)
		return
	}

	ctype := hdr.Get("Content-Type")
	// The decoded length, when the origin gave it.
	hint := int64(-1)
	if strings.TrimSpace(hdr.Get("Content-Encoding")) == "" {
		hint = resp.ContentLength
	}
	// A 206 carries a piece of the origin's bytes: nothing in it can be
	// rewritten consistently with the rest, so it passes through as it is.
	if (ctype == "" || isHTML(ctype)) && resp.StatusCode != http.StatusPartialContent {
		body, err := h.decode(resp, hdr.Get("Content-Encoding"), info)
		if err == nil {
			defer body.Close()
			br := bufio.NewReaderSize(body, 512)
			if ctype == "" {
				// Browsers sniff an untyped body; a page that sniffs as HTML
				// must get the notice too.
				peek, _ := br.Peek(512)
				ctype = http.DetectContentType(peek)
			}
			if isHTML(ctype) {
				h.respondHTML(w, r, resp.StatusCode, hdr, ctype, br, hint, edge, info)
				return
			}
			// Not HTML after all, and partly read: stream what's decoded.
			hdr.Del("Content-Encoding")
			hdr.Del("Content-Length")
			h.stream(w, r, resp.StatusCode, hdr, br, info)
			return
		}
		h.log.Warn("html passed through: unknown content coding", "id", info.id, "encoding", hdr.Get("Content-Encoding"))
	}
	// A range (206) is a part of the sheet, which rewriting would corrupt.
	if isCSS(ctype) && h.rw.EditsCSS() && resp.StatusCode != http.StatusPartialContent {
		if body, err := h.decode(resp, hdr.Get("Content-Encoding"), info); err == nil {
			defer body.Close()
			h.respondCSS(w, r, resp.StatusCode, hdr, body, hint, edge, info)
			return
		}
	}
	h.streamThrough(w, r, resp, hdr, info)
}

// respondHTML buffers an HTML body up to MaxHTMLSize and rewrites it. A
// larger body, or one that finds the budget spent, is rewritten while
// streaming, or passed through.
func (h *Handler) respondHTML(w http.ResponseWriter, r *http.Request, status int, hdr http.Header, ctype string, body io.Reader, hint int64, edge rewrite.Edge, info *reqInfo) {
	buf, l, state, ok := h.bufferForRewrite(w, r, hdr, body, hint, info)
	if !ok {
		return
	}
	if state == bufComplete && !l.grow(htmlWorkFactor*int64(len(buf))) {
		state = bufNoMemory
	}
	if state != bufComplete {
		rest := h.handOff(buf, l, body)
		defer rest.Close()
		h.respondLargeHTML(w, r, status, hdr, ctype, rest, state == bufNoMemory, edge, info)
		return
	}
	out, _ := h.rewriteHTML(buf, ctype, hdr, edge, r.URL.Path, info)
	h.writeLeased(w, r, status, hdr, out, l)
}

// rewriteHTML runs a buffered page through the rewriter and sets the
// Content-Type it names in hdr. A page the rewriter can't or won't change
// (an error, an encoding that can't carry the notice) is returned as it
// is, with a warning; changed reports whether the notice went in.
func (h *Handler) rewriteHTML(buf []byte, ctype string, hdr http.Header, edge rewrite.Edge, path string, info *reqInfo) (body []byte, changed bool) {
	res, err := h.rw.HTML(buf, ctype, edge)
	switch {
	case err != nil:
		h.log.Warn("rewriting html failed, passing through", "id", info.id, "err", err)
		return buf, false
	case res.Skipped != "":
		h.log.Warn("html passed through without the notice", "id", info.id, "path", path, "reason", res.Skipped)
		return buf, false
	}
	if res.ContentType != "" {
		hdr.Set("Content-Type", res.ContentType)
	}
	return res.Body, true
}

// respondLargeHTML handles HTML over the buffering cap in constant
// memory, or any HTML when noMemory says the budget is spent.
func (h *Handler) respondLargeHTML(w http.ResponseWriter, r *http.Request, status int, hdr http.Header, ctype string, body io.Reader, noMemory bool, edge rewrite.Edge, info *reqInfo) {
	switch {
	case h.opts.PassOversize && !noMemory:
		h.log.Warn("large html passed through without the notice", "id", info.id, "path", r.URL.Path, "limit", h.opts.MaxHTMLSize)
		h.stream(w, r, status, hdr, body, info)
		return
	case noMemory:
		h.log.Warn("buffer memory spent; html rewritten while streaming", "id", info.id, "path", r.URL.Path, "limit", h.budget.Limit())
	default:
		h.log.Info("large html rewritten while streaming", "id", info.id, "path", r.URL.Path, "limit", h.opts.MaxHTMLSize)
	}
	l := h.budget.lease()
	defer l.free()
	enc := streamEncoding(r.Header.Get("Accept-Encoding"), l)
	addVary(hdr, "Accept-Encoding")
	if enc != "" {
		hdr.Set("Content-Encoding", enc)
	}
	copyHeader(w.Header(), hdr)
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	cw := newStreamEncoder(w, enc)
	sw := h.rw.Stream(cw, ctype, edge)
	if _, err := io.Copy(sw, body); err != nil {
		h.abort(info, "streaming large html failed", err)
	}
	if err := sw.Close(); err != nil {
		h.abort(info, "streaming large html failed", err)
	}
	if err := cw.Close(); err != nil {
		h.abort(info, "streaming large html failed", err)
	}
}

// respondCSS buffers a style sheet up to MaxHTMLSize and moves its url()
// and @import URLs onto the edge or localizes them (rewrite.Rewriter.CSS).
// A larger one, or one that finds the budget spent, streams through,
// decoded, as it is.
func (h *Handler) respondCSS(w http.ResponseWriter, r *http.Request, status int, hdr http.Header, body io.Reader, hint int64, edge rewrite.Edge, info *reqInfo) {
	buf, l, state, ok := h.bufferForRewrite(w, r, hdr, body, hint, info)
	if !ok {
		return
	}
	if state == bufComplete && !l.grow(cssWorkFactor*int64(len(buf))) {
		state = bufNoMemory
	}
	if state != bufComplete {
		if state == bufOver {
			h.log.Warn("large style sheet passed through unchanged", "id", info.id, "path", r.URL.Path, "limit", h.opts.MaxHTMLSize)
		} else {
			h.log.Warn("buffer memory spent; style sheet passed through unchanged", "id", info.id, "path", r.URL.Path, "limit", h.budget.Limit())
		}
		rest := h.handOff(buf, l, body)
		defer rest.Close()
		addVary(hdr, "Accept-Encoding")
		h.stream(w, r, status, hdr, rest, info)
		return
	}
	h.writeLeased(w, r, status, hdr, h.rw.CSS(buf, edge), l)
}

// bufferForRewrite prepares hdr for a body the edge will rewrite (its
// length, coding and strong validator no longer hold) and reads the
// decoded body, up to MaxHTMLSize+1 bytes, into memory drawn from the
// budget: state bufOver means the body is longer than MaxHTMLSize and
// bufNoMemory that the budget was spent, with more to follow in body in
// both cases. hint is the decoded length if known, else -1. The lease
// holds the buffer. A failed read is answered with a 502 and ok false.
func (h *Handler) bufferForRewrite(w http.ResponseWriter, r *http.Request, hdr http.Header, body io.Reader, hint int64, info *reqInfo) (buf []byte, l *lease, state bufState, ok bool) {
	hdr.Del("Content-Encoding")
	hdr.Del("Content-Length")
	hdr.Del("Content-MD5")
	weakenETag(hdr)
	l = h.budget.lease()
	if info.unbuffered != bufComplete {
		// A fill read as much as it could already; the rest streams.
		return nil, l, info.unbuffered, true
	}
	buf, state, err := readBody(body, h.opts.MaxHTMLSize, hint, l)
	if err != nil {
		l.free()
		h.log.Warn("reading origin body failed", "id", info.id, "err", err)
		h.errorPage(w, r, http.StatusBadGateway, info.id)
		return nil, nil, state, false
	}
	return buf, l, state, true
}

// rewritten reports whether responses of this type get a body other than
// the origin's: HTML always, style sheets when there is anything to change.
func (h *Handler) rewritten(ctype string) bool {
	return isHTML(ctype) || isCSS(ctype) && h.rw.EditsCSS()
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
// otherwise.
func (h *Handler) streamThrough(w http.ResponseWriter, r *http.Request, resp *http.Response, hdr http.Header, info *reqInfo) {
	coding := strings.ToLower(strings.TrimSpace(hdr.Get("Content-Encoding")))
	if coding == "" || coding == "identity" || acceptsEncoding(r.Header.Get("Accept-Encoding"), coding) {
		if coding != "" {
			addVary(hdr, "Accept-Encoding")
		}
		h.stream(w, r, resp.StatusCode, hdr, resp.Body, info)
		return
	}
	body, err := h.decode(resp, coding, info)
	if err != nil {
		// A coding we can't decode: the visitor gets it as it is.
		h.stream(w, r, resp.StatusCode, hdr, resp.Body, info)
		return
	}
	defer body.Close()
	hdr.Del("Content-Encoding")
	hdr.Del("Content-Length")
	weakenETag(hdr)
	addVary(hdr, "Accept-Encoding")
	h.stream(w, r, resp.StatusCode, hdr, body, info)
}

// stream copies body to the visitor, flushing as the origin sends, so
// slow or event-stream responses reach the visitor as they come.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, status int, hdr http.Header, body io.Reader, info *reqInfo) {
	copyHeader(w.Header(), hdr)
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				h.log.Debug("client write failed", "id", info.id, "err", werr)
				return
			}
			_ = rc.Flush()
		}
		if rerr == io.EOF {
			return
		}
		if rerr != nil {
			h.abort(info, "reading origin body failed", rerr)
		}
	}
}

// abort ends a response whose headers are already sent: the only honest
// failure left is to cut the connection, so the visitor sees an incomplete
// transfer rather than a truncated page that looks whole.
func (h *Handler) abort(info *reqInfo, msg string, err error) {
	h.log.Warn(msg, "id", info.id, "err", err)
	panic(http.ErrAbortHandler)
}

// writeBody sends a complete body, compressed to the visitor's
// Accept-Encoding, with a correct Content-Length.
func (h *Handler) writeBody(w http.ResponseWriter, r *http.Request, status int, hdr http.Header, body []byte) {
	h.writeLeased(w, r, status, hdr, body, nil)
}

// writeLeased is writeBody for a body whose memory l holds (nil when
// none). l is freed once the body is no longer needed: a body of more
// than pinMax bytes, after compression, goes to a spool file first, so
// that a slow visitor holds no budget.
func (h *Handler) writeLeased(w http.ResponseWriter, r *http.Request, status int, hdr http.Header, body []byte, l *lease) {
	defer l.free()
	addVary(hdr, "Accept-Encoding")
	if enc := negotiateEncoding(r.Header.Get("Accept-Encoding")); enc != "" && len(body) >= minCompressSize {
		body = h.enc.compress(enc, body)
		hdr.Set("Content-Encoding", enc)
	}
	// What the rewriter and compressor worked with is garbage now: only
	// the body to send is held.
	l.free()
	l.charge(int64(len(body)))
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	copyHeader(w.Header(), hdr)
	w.WriteHeader(status)
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
			_, _ = io.CopyBuffer(w, f, *buf)
			h.copyBufs.Put(buf)
			return
		}
		h.log.Warn("response kept in memory while it is sent", "err", err)
	}
	_, _ = w.Write(body)
}

func bodyAllowed(method string, status int) bool {
	if method == http.MethodHead {
		return false
	}
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
