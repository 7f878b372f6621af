package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// forward proxies the request to the origin and writes the origin's
// response.
func (x *exchange) forward() {
	h, r := x.h, x.r
	var interims interims
	out := x.outgoing(x.withInterims(r.Context(), &interims))
	stop := x.relayInterims(&interims)
	resp, err := h.roundTrip(out)
	stop()
	if err != nil {
		x.originFailed(err)
		return
	}
	defer resp.Body.Close()
	x.originStatus = resp.StatusCode
	if resp.StatusCode == http.StatusSwitchingProtocols {
		x.switchProtocols(resp)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr := resp.Header.Clone()
		h.rewriteHeaders(hdr, x.edge)
		x.invalidate(resp.StatusCode, hdr)
	}
	x.respond(resp)
}

// originFailed answers a request whose origin fetch failed.
func (x *exchange) originFailed(err error) {
	h, r := x.h, x.r
	if r.Context().Err() != nil {
		h.log.Debug("client went away", "id", x.id, "err", err)
		return
	}
	if be := asBlocked(err); be != nil {
		x.refuse(be)
		return
	}
	if b := x.reqBody; b != nil && (errors.Is(b.err, errBodyTooLarge) || errors.Is(b.err, errBodyTimeout)) {
		x.refuseBody(b.err, -1)
		return
	}
	status := statusForError(err)
	h.log.Warn("origin request failed", "id", x.id, "status", status, "err", err)
	x.errorPage(status)
}

// originAcceptEncoding is what the edge asks the origin for: compressed
// bodies save the thin cross-border link, and the edge decodes them itself.
const originAcceptEncoding = "br, gzip, deflate"

// overrideHeaders are request fields that override a request's URL, host,
// scheme or method in common origin software (IIS, Symfony, Laravel,
// Rails, Express, WordPress plugins).
var overrideHeaders = []string{
	"X-Original-Url",
	"X-Rewrite-Url",
	"X-Original-Host",
	"X-Forwarded-Scheme",
	"X-Forwarded-Port",
	"X-Forwarded-Server",
	"X-Forwarded-Prefix",
	"X-Forwarded-Ssl",
	"X-Url-Scheme",
	"X-Host",
	"X-Http-Host-Override",
	"X-Http-Method-Override",
	"X-Http-Method",
	"X-Method-Override",
	"Front-End-Https",
}

// clientIPHeaders are the request fields that common origin software and
// CDNs read as the client's address (nginx's realip module, Akamai and
// Cloudflare's True-Client-IP, and the older Client-IP and X-Client-IP).
// The edge removes them unless a trusted proxy sent them, and sets
// X-Real-IP itself.
var clientIPHeaders = []string{"X-Real-Ip", "True-Client-Ip", "Client-Ip", "X-Client-Ip"}

// outgoing builds the origin request for the visitor's: the origin's URL,
// OriginHost as Host, hop-by-hop fields removed and X-Forwarded-* set
// truthfully.
func (q *request) outgoing(ctx context.Context) *http.Request {
	h, r, edge := q.h, q.r, q.edge
	out := r.Clone(ctx)
	out.RequestURI = ""
	out.URL = h.originURL(r.URL)
	out.Host = h.opts.OriginHost
	if r.ContentLength == 0 {
		out.Body = nil // a GET with no body can be retried
		out.GetBody = nil
	}
	out.Close = false

	upgrade := upgradeType(r.Header)
	removeHopHeaders(out.Header)
	if upgrade == "websocket" {
		out.Header.Set("Connection", "Upgrade")
		out.Header.Set("Upgrade", r.Header.Get("Upgrade"))
	}
	// The edge negotiates encodings with the visitor on its own.
	out.Header.Set("Accept-Encoding", originAcceptEncoding)
	if r.Header.Get("Range") != "" {
		// A range of an encoded representation is a range of the encoded
		// bytes; ask for the plain ones, which the visitor's range means.
		out.Header.Set("Accept-Encoding", "identity")
	}

	peer := ""
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		peer = host
	}
	forwardedFor, realIP := peer, peer
	if h.trustedPeer(r) {
		prior := r.Header.Values("X-Forwarded-For")
		if len(prior) > 0 {
			forwardedFor = strings.Join(prior, ", ") + ", " + peer
		}
		if ip := r.Header.Get("X-Real-Ip"); ip != "" {
			realIP = ip // the trusted proxy knows the client
		} else {
			realIP = h.clientOf(prior, peer)
		}
	} else {
		// Only a trusted proxy may say who the client is: origins log and
		// rate-limit by these fields, and some authorise by them.
		out.Header.Del("Forwarded")
		for _, name := range clientIPHeaders {
			out.Header.Del(name)
		}
	}
	// Fields some origins and frameworks act on to override the URL, host
	// or method. They are not part of the cache key, so a visitor could use
	// them to poison what others get; the edge sets X-Forwarded-* itself.
	for _, name := range overrideHeaders {
		out.Header.Del(name)
	}
	// The edge has read the body already (bufferRequestBody) and answered
	// the visitor's 100-continue itself; waiting for the origin's would
	// only delay it.
	out.Header.Del("Expect")
	out.Header.Set("X-Forwarded-For", forwardedFor)
	out.Header.Set("X-Real-Ip", realIP)
	out.Header.Set("X-Forwarded-Proto", edge.Scheme)
	out.Header.Set("X-Forwarded-Host", r.Host)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil // don't let Go add its own
	}
	return out
}

// originURL maps a request URL onto the origin, under the origin's path.
func (h *Handler) originURL(in *url.URL) *url.URL {
	o := h.opts.Origin
	u := &url.URL{Scheme: o.Scheme, Host: o.Host, RawQuery: in.RawQuery}
	base := strings.TrimSuffix(o.Path, "/")
	if base == "" {
		u.Path, u.RawPath = in.Path, in.RawPath
		return u
	}
	u.Path = base + in.Path
	if in.RawPath != "" {
		u.RawPath = strings.TrimSuffix(o.EscapedPath(), "/") + in.RawPath
	}
	return u
}

// roundTrip sends out to the origin. An idempotent request without a body
// is retried once when the connection fails before any response. The
// response body fails with an *originIdleError when the origin leaves a
// read waiting longer than OriginIdleTimeout (not for an Upgrade, whose
// tunnel may rightly stay quiet).
func (h *Handler) roundTrip(out *http.Request) (resp *http.Response, err error) {
	start := h.now()
	var cancel context.CancelCauseFunc
	if out.Header.Get("Upgrade") == "" {
		var ctx context.Context
		ctx, cancel = context.WithCancelCause(out.Context())
		out = out.WithContext(ctx)
	}
	defer func() {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		took := h.now().Sub(start)
		h.opts.Metrics.observeOrigin(h.opts.Origin.Host, took, status, err)
		observeFetched(h.opts.Observer, took, status, err)
		switch {
		case cancel == nil:
		case err != nil:
			cancel(nil)
		default:
			resp.Body = newIdleBody(resp.Body, h.opts.OriginIdleTimeout, cancel)
		}
	}()
	resp, err = h.transport.RoundTrip(out)
	if err == nil || !retryable(out, err) {
		return resp, err
	}
	h.log.Debug("retrying origin request", "path", out.URL.Path, "err", err)
	return h.transport.RoundTrip(out)
}

func retryable(out *http.Request, err error) bool {
	if out.Body != nil || out.Context().Err() != nil {
		return false
	}
	switch out.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	if isTimeout(err) {
		return false // a response timeout has already waited long enough
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusForError maps an origin failure to the status the visitor gets:
// 504 when the origin was too slow, 502 for everything else.
func statusForError(err error) int {
	if isTimeout(err) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}
