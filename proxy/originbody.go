package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// originIdleError is a body read that waited on the origin longer than
// Options.OriginIdleTimeout. It is a timeout (a net.Error), so a visitor
// who can still be answered gets 504.
type originIdleError struct{ idle time.Duration }

func (e *originIdleError) Error() string {
	return fmt.Sprintf("origin sent no body data for %v", e.idle)
}
func (e *originIdleError) Timeout() bool   { return true }
func (e *originIdleError) Temporary() bool { return false }

// idleBody bounds each read of an origin body: a read that waits longer
// than idle cancels the request (which closes its connection) and fails
// with an *originIdleError. Time the edge spends elsewhere between reads,
// such as writing to a slow visitor, does not count.
type idleBody struct {
	body     io.ReadCloser
	idle     time.Duration
	timer    *time.Timer
	cancel   context.CancelCauseFunc
	timedOut atomic.Bool
}

// newIdleBody wraps body; cancel ends the context of the request it
// answers, which is what stops a read that waits too long.
func newIdleBody(body io.ReadCloser, idle time.Duration, cancel context.CancelCauseFunc) *idleBody {
	b := &idleBody{body: body, idle: idle, cancel: cancel}
	b.timer = time.AfterFunc(idle, func() {
		b.timedOut.Store(true)
		cancel(&originIdleError{idle: idle})
	})
	b.timer.Stop() // armed only while a read waits
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.body.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && b.timedOut.Load() {
		err = &originIdleError{idle: b.idle}
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil) // release the context; the body is done with
	return err
}

// maxInflateRatio is how many times its compressed size a decoded body may
// grow once it is past Options.MaxHTMLSize. Real pages, scripts and style
// sheets compress 3 to 20 times; a compression bomb compresses hundreds or
// thousands of times.
const maxInflateRatio = 100

// inflateError is a compressed origin body cut off for inflating too far.
type inflateError struct {
	url          string // the origin URL, without user info
	raw, decoded int64  // bytes read before and after decoding
}

func (e *inflateError) Error() string {
	return fmt.Sprintf("compressed body from %s reached %d bytes from %d compressed (over %d times); cut off", e.url, e.decoded, e.raw, maxInflateRatio)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// inflateLimit fails a decoded body once it is both longer than limit and
// more than maxInflateRatio times the compressed bytes read so far.
type inflateLimit struct {
	r       io.Reader // decoded
	raw     *countingReader
	limit   int64
	n       int64
	err     error
	tripped func(*inflateError)
	url     string
}

func (l *inflateLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit && l.n > maxInflateRatio*l.raw.n {
		ie := &inflateError{url: l.url, raw: l.raw.n, decoded: l.n}
		l.err = ie
		l.tripped(ie)
		return 0, ie
	}
	return n, err
}

// decode returns resp's body decoded from the content codings in ce, cut
// off with an *inflateError (and one log line naming the origin URL) if
// it inflates past MaxHTMLSize at more than maxInflateRatio times its
// compressed size. An identity body is returned as it is.
func (h *Handler) decode(resp *http.Response, ce string, info *reqInfo) (io.ReadCloser, error) {
	if len(contentCodings(ce)) == 0 {
		return io.NopCloser(resp.Body), nil
	}
	raw := &countingReader{r: resp.Body}
	body, err := decodeBody(raw, ce)
	if err != nil {
		return nil, err
	}
	url := ""
	if resp.Request != nil && resp.Request.URL != nil {
		url = resp.Request.URL.Redacted()
	}
	lim := &inflateLimit{r: body, raw: raw, limit: h.opts.MaxHTMLSize, url: url}
	id := info.id // not info itself: capturing it would move every request's reqInfo to the heap
	lim.tripped = func(e *inflateError) {
		h.log.Warn("origin body cut off: it inflates too far", "id", id, "url", url,
			"compressed_bytes", e.raw, "decoded_bytes", e.decoded, "encoding", ce)
	}
	return io.NopCloser(lim), nil
}
