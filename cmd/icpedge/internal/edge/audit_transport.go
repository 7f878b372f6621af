package edge

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// maxAuditBody bounds what the self-audit reads of one response.
const maxAuditBody = 8<<20 + 1

// handlerTransport answers requests by calling the edge's handlers in
// process, as a visitor on the listener of the URL's scheme would reach
// them.
type handlerTransport struct {
	http, https http.Handler
}

func (t handlerTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	in := req.Clone(req.Context())
	in.RemoteAddr = "127.0.0.1:0"
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	h := t.http
	if req.URL.Scheme == "https" {
		h = t.https
		in.TLS = &tls.ConnectionState{ServerName: req.URL.Hostname(), HandshakeComplete: true, Version: tls.VersionTLS13}
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := &auditRecorder{header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			resp, err = nil, errors.New("the edge cut the response")
		}
	}()
	h.ServeHTTP(rec, in)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if req.Method != http.MethodHead {
		rec.header.Del("Content-Length") // the body may be cut short
	}
	return &http.Response{
		Status:        strconv.Itoa(rec.status) + " " + http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: -1,
		Request:       req,
	}, nil
}

// auditRecorder keeps a response's first maxAuditBody bytes.
type auditRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *auditRecorder) Header() http.Header { return r.header }

func (r *auditRecorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
}

func (r *auditRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if room := maxAuditBody - r.body.Len(); room > 0 {
		r.body.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
