package proxy

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

const (
	defaultRequestBodyTimeout = 30 * time.Second
	defaultMaxRequestBody     = 64 << 20
	// requestBodyMemory is the most of a request body held in memory (from
	// the budget); a longer body goes to a spool file.
	requestBodyMemory = 64 << 10
	// refusedBodyLinger bounds how long the rest of a body refused as too
	// large is drained after the 413 (at most 256 KiB, net/http's limit).
	refusedBodyLinger = 2 * time.Second
)

// A visitor's request body is read whole before the origin is asked, as
// nginx does by default (proxy_request_buffering): a visitor who sends a
// body slowly holds one of the edge's goroutines, never an origin
// connection, and the origin gets a body with a Content-Length. The read
// has an idle limit (RequestBodyTimeout, answered 408) and a size limit
// (MaxRequestBody, answered 413).

var (
	errBodyTooLarge = errors.New("request body too large")
	errBodyTimeout  = errors.New("request body idle too long")
)

// bufferRequestBody reads the request's body, if it has one, and returns
// the request with the body replaced by the copy and its exact
// Content-Length, and a function that releases the copy once the request
// is done. A body of more than requestBodyMemory bytes goes to a spool
// file (spoolRequestBody). When the body can't be read, the visitor has
// been answered and ok is false.
func (x *exchange) bufferRequestBody() (out *http.Request, done func(), ok bool) {
	h, r := x.h, x.r
	nothing := func() {}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return r, nothing, true
	}
	if r.ContentLength > h.opts.MaxRequestBody {
		x.refuseBody(errBodyTooLarge, r.ContentLength)
		return nil, nothing, false
	}
	rc := http.NewResponseController(x.w)
	src := &bodyReader{r: r.Body, rc: rc, idle: h.opts.RequestBodyTimeout, left: h.opts.MaxRequestBody}

	l := h.budget.lease()
	hint := max(r.ContentLength, 0)
	if hint > requestBodyMemory {
		hint = 0 // it goes to a file anyway
	}
	buf, state, err := readBody(src, requestBodyMemory, hint, l)
	if err != nil {
		l.free()
		x.refuseBody(src.cause(err), -1)
		return nil, nothing, false
	}
	if state != bufComplete {
		return x.spoolRequestBody(src, buf, l)
	}
	return withBody(r, bytes.NewReader(buf), int64(len(buf))), l.free, true
}

// spoolRequestBody writes a body too long to hold in memory to a spool
// file: buf, what was read of it (held by l), then the rest of src. When
// no spool file can be made, the body is sent on as it arrives instead.
func (x *exchange) spoolRequestBody(src *bodyReader, buf []byte, l *lease) (out *http.Request, done func(), ok bool) {
	h, r := x.h, x.r
	nothing := func() {}
	f, ferr := h.newSpoolFile()
	if ferr != nil {
		// The body is sent on as it arrives, with its limits still
		// applied; the origin answers what it gets.
		h.log.Error("request body not buffered; streaming it to the origin", "id", x.id, "err", ferr)
		x.reqBody = src
		out := shallowCopy(r)
		out.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), src), r.Body}
		return out, l.free, true
	}
	_, werr := f.Write(buf)
	l.free()
	var n int64
	var err error
	if werr == nil {
		n, err = io.Copy(f, src)
	}
	switch {
	case err != nil:
		f.Close()
		x.refuseBody(src.cause(err), -1)
		return nil, nothing, false
	case werr != nil:
		f.Close()
		h.log.Error("writing request body to the spool failed", "id", x.id, "err", werr)
		x.errorPage(http.StatusServiceUnavailable)
		return nil, nothing, false
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		h.log.Error("rewinding the request body spool failed", "id", x.id, "err", err)
		x.errorPage(http.StatusServiceUnavailable)
		return nil, nothing, false
	}
	return withBody(r, f, int64(len(buf))+n), func() { f.Close() }, true
}

// withBody returns a copy of r that sends body, of size bytes, with a
// Content-Length.
func withBody(r *http.Request, body io.ReadSeeker, size int64) *http.Request {
	out := shallowCopy(r)
	out.ContentLength = size
	out.TransferEncoding = nil
	out.Body = io.NopCloser(body)
	if size == 0 {
		out.Body = http.NoBody
	}
	// A retry of an idempotent request sends the body again.
	out.GetBody = func() (io.ReadCloser, error) {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(body), nil
	}
	return out
}

// refuseBody answers a request whose body could not be read: 413 for one
// too large, 408 for one that stalled, 400 for a broken one (a client that
// went away gets nothing). size is the announced length, or -1.
func (x *exchange) refuseBody(cause error, size int64) {
	h, r, w := x.h, x.r, x.w
	tooLarge, timedOut := errors.Is(cause, errBodyTooLarge), errors.Is(cause, errBodyTimeout)
	// A failed read of the body cancels the request's context, a timeout
	// included: only the visitor who went away is not answered.
	if !tooLarge && !timedOut && r.Context().Err() != nil {
		return
	}
	// The rest of the body is not read: an HTTP/1 connection can't be
	// reused (over HTTP/2 only the stream ends; Connection: close there
	// would shut the whole connection down). After the answer the server
	// drains what it can of the body before closing; a read deadline
	// bounds that: at once for a body that stalled, and after
	// refusedBodyLinger for one too large, whose sender is likely still
	// sending, so that it reads the 413 rather than a connection reset
	// (closing with unread data sends a reset).
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	switch {
	case timedOut:
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	case tooLarge:
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(refusedBodyLinger))
	}
	switch {
	case tooLarge:
		h.log.Info("request body refused: too large", "id", x.id, "limit", h.opts.MaxRequestBody, "content_length", size)
		x.page(http.StatusRequestEntityTooLarge, "提交的内容过大。",
			"The request body is larger than "+strconv.FormatInt(h.opts.MaxRequestBody, 10)+" bytes.")
	case timedOut:
		h.log.Info("request body refused: the client stopped sending", "id", x.id, "idle", h.opts.RequestBodyTimeout)
		x.page(http.StatusRequestTimeout, "提交超时，请重试。", "The request body stopped arriving. Please try again.")
	default:
		h.log.Info("request body refused: unreadable", "id", x.id, "err", cause)
		x.page(http.StatusBadRequest, "请求无效。", "The request body could not be read.")
	}
}

// bodyReader reads a visitor's body with an idle limit between reads and a
// cap on its length, and says which of the two ended it.
type bodyReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
	left int64 // bytes still allowed
	// err is what ended the body: errBodyTooLarge, errBodyTimeout, the
	// visitor's own error, or io.EOF.
	err error
	// noDeadline is set once the connection turned out not to support
	// read deadlines (then only the length is limited).
	noDeadline bool
	armed      bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if !b.noDeadline {
		// Real time, not the Handler's clock: this is a socket deadline.
		if err := b.rc.SetReadDeadline(time.Now().Add(b.idle)); err != nil {
			b.noDeadline = true
		} else {
			b.armed = true
		}
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	switch {
	case int64(n) > b.left:
		n, err = 0, errBodyTooLarge
	case err != nil && err != io.EOF && isTimeout(err):
		err = errBodyTimeout
	}
	b.left -= int64(n)
	if err != nil {
		b.err = err
		// A deadline left behind would cut the connection later, while
		// the origin is asked or the answer is sent.
		b.stop()
	}
	return n, err
}

// stop clears the read deadline.
func (b *bodyReader) stop() {
	if b.armed {
		_ = b.rc.SetReadDeadline(time.Time{})
		b.armed = false
	}
}

// cause maps a read error to errBodyTooLarge, errBodyTimeout or itself.
func (b *bodyReader) cause(err error) error {
	switch {
	case errors.Is(err, errBodyTooLarge), errors.Is(err, errBodyTimeout):
		return err
	case errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return errBodyTimeout
	}
	return err
}

// shallowCopy returns a copy of r that shares its fields' values, for
// replacing one of them.
func shallowCopy(r *http.Request) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	return r2
}
