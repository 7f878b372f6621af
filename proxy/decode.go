package proxy

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
)

// decode returns resp's body decoded from the content codings in ce, cut
// off with an *inflateError (and one log line naming the origin URL) if
// it inflates past MaxHTMLSize at more than maxInflateRatio times its
// compressed size. An identity body is returned as it is.
func (q *request) decode(resp *http.Response, ce string) (io.ReadCloser, error) {
	h := q.h
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
	id := q.id // not q itself: the body may outlive the steps that hold q
	lim.tripped = func(e *inflateError) {
		h.log.Warn("origin body cut off: it inflates too far", "id", id, "url", url,
			"compressed_bytes", e.raw, "decoded_bytes", e.decoded, "encoding", ce)
	}
	return io.NopCloser(lim), nil
}

// decodeBody returns body decoded from the content codings in ce, applied
// in the order listed (RFC 9110 §8.4).
func decodeBody(body io.Reader, ce string) (io.ReadCloser, error) {
	codings := contentCodings(ce)
	if len(codings) > 2 {
		return nil, fmt.Errorf("too many content codings: %q", ce)
	}
	r := body
	for i := len(codings) - 1; i >= 0; i-- {
		switch codings[i] {
		case "gzip", "x-gzip":
			gr, err := gzip.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("decoding gzip: %w", err)
			}
			r = gr
		case "br":
			r = brotli.NewReader(r)
		case "deflate":
			r = newDeflateReader(r)
		default:
			return nil, fmt.Errorf("unknown content coding %q", codings[i])
		}
	}
	return io.NopCloser(r), nil
}

// contentCodings lists the codings of a Content-Encoding field, lower-case,
// without identity.
func contentCodings(ce string) []string {
	var codings []string
	for _, c := range strings.Split(ce, ",") {
		if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
			codings = append(codings, c)
		}
	}
	return codings
}

// newDeflateReader reads "deflate", which RFC 9110 §8.4.1.2 defines as
// zlib, though some servers send raw DEFLATE.
func newDeflateReader(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	hdr, err := br.Peek(2)
	if err == nil && hdr[0]&0x0f == 8 && (uint16(hdr[0])<<8|uint16(hdr[1]))%31 == 0 {
		if zr, err := zlib.NewReader(br); err == nil {
			return zr
		}
	}
	return flate.NewReader(br)
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
