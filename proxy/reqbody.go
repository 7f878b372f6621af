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

// bufferRequestBody reads r's body, if it has one, and returns r with the
// body replaced by the copy and its exact Content-Length, and a function
// that releases the copy once the request is done. When the body can't be
// read, the visitor has been answered and ok is false.
func (h *Handler) bufferRequestBody(w http.ResponseWriter, r *http.Request, info *reqInfo) (out *http.Request, done func(), ok bool) {
	nothing := func() {}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return r, nothing, true
	}
	if r.ContentLength > h.opts.MaxRequestBody {
		h.refuseBody(w, r, info, errBodyTooLarge, r.ContentLength)
		return nil, nothing, false
	}
	rc := http.NewResponseController(w)
	src := &bodyReader{r: r.Body, rc: rc, idle: h.opts.RequestBodyTimeout, left: h.opts.MaxRequestBody}

	l := h.budget.lease()
	hint := max(r.ContentLength, 0)
	if hint > requestBodyMemory {
		hint = 0 // it goes to a file anyway
	}
	buf, state, err := readBody(src, requestBodyMemory, hint, l)
	if err != nil {
		l.free()
		h.refuseBody(w, r, info, src.cause(err), -1)
		return nil, nothing, false
	}
	var body io.ReadSeeker
	var size int64
	done = l.free
	if state == bufComplete {
		body, size = bytes.NewReader(buf), int64(len(buf))
	} else {
		f, ferr := h.newSpoolFile()
		if ferr != nil {
			// The body is sent on as it arrives, with its limits still
			// applied; the origin answers what it gets.
			h.log.Error("request body not buffered; streaming it to the origin", "id", info.id, "err", ferr)
			info.body = src
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
		if werr == nil {
			n, err = io.Copy(f, src)
		}
		switch {
		case err != nil:
			f.Close()
			h.refuseBody(w, r, info, src.cause(err), -1)
			return nil, nothing, false
		case werr != nil:
			f.Close()
			h.log.Error("writing request body to the spool failed", "id", info.id, "err", werr)
			h.errorPage(w, r, http.StatusServiceUnavailable, info.id)
			return nil, nothing, false
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			h.log.Error("rewinding the request body spool failed", "id", info.id, "err", err)
			h.errorPage(w, r, http.StatusServiceUnavailable, info.id)
			return nil, nothing, false
		}
		body, size, done = f, int64(len(buf))+n, func() { f.Close() }
	}
	out = shallowCopy(r)
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
	return out, done, true
}

// refuseBody answers a request whose body could not be read: 413 for one
// too large, 408 for one that stalled, 400 for a broken one (a client that
// went away gets nothing). size is the announced length, or -1.
func (h *Handler) refuseBody(w http.ResponseWriter, r *http.Request, info *reqInfo, cause error, size int64) {
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
		h.log.Info("request body refused: too large", "id", info.id, "limit", h.opts.MaxRequestBody, "content_length", size)
		h.page(w, r, http.StatusRequestEntityTooLarge, info.id, "提交的内容过大。",
			"The request body is larger than "+strconv.FormatInt(h.opts.MaxRequestBody, 10)+" bytes.")
	case timedOut:
		h.log.Info("request body refused: the client stopped sending", "id", info.id, "idle", h.opts.RequestBodyTimeout)
		h.page(w, r, http.StatusRequestTimeout, info.id, "提交超时，请重试。", "The request body stopped arriving. Please try again.")
	default:
		h.log.Info("request body refused: unreadable", "id", info.id, "err", cause)
		h.page(w, r, http.StatusBadRequest, info.id, "请求无效。", "The request body could not be read.")
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
