package proxy

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
)

const (
	// maxInterim bounds the interim (1xx) responses of one origin
	// response that are passed on; later ones are dropped. The origin's
	// response timeout bounds how long it may keep sending them.
	maxInterim = 16
	// maxInterimHeader bounds the header of an interim response passed
	// on, in bytes; a larger one is dropped.
	maxInterimHeader = 16 << 10
)

// interim is one 1xx response from the origin, its header as the visitor
// gets it.
type interim struct {
	code int
	hdr  http.Header
}

// interims collects the interim responses of one origin request for
// whoever waits for its answer: the visitor that made it, and the
// visitors waiting on the same fill. Nothing waits for a listener, so a
// slow visitor delays no one else: the origin transport's goroutine only
// appends, and each listener writes from its own goroutine.
type interims struct {
	mu   sync.Mutex
	list []interim
	wake chan struct{} // closed and replaced on each append
}

// add publishes one interim response. It never blocks.
func (s *interims) add(ir interim) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.list) >= maxInterim {
		return
	}
	s.list = append(s.list, ir)
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}

// since returns the responses after the first n, and a channel closed
// when another comes.
func (s *interims) since(n int) ([]interim, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{})
	}
	return s.list[n:], s.wake
}

// withInterims returns ctx with a client trace that publishes the origin's
// interim responses to s (RFC 9110 §15.2), their headers as the visitor
// gets them: hop-by-hop and targeted fields gone, URLs (a 103's Link) on
// the edge. 101 is not interim: it is the final answer to an Upgrade.
// The trace runs on the transport's goroutine, which it never blocks.
func (q *request) withInterims(ctx context.Context, s *interims) context.Context {
	h := q.h
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, mh textproto.MIMEHeader) error {
			if code == http.StatusSwitchingProtocols {
				return nil
			}
			size := 0
			for k, vv := range mh {
				for _, v := range vv {
					size += len(k) + len(v) + 4
				}
			}
			if size > maxInterimHeader {
				h.log.Debug("interim response dropped: header too large", "id", q.id, "status", code, "bytes", size)
				return nil
			}
			hdr := http.Header(mh).Clone()
			removeHopHeaders(hdr)
			h.removeTargeted(hdr)
			h.rewriteHeaders(hdr, q.edge)
			s.add(interim{code: code, hdr: hdr})
			return nil
		},
	})
}

// speaksInterim reports whether the visitor may be sent interim
// responses: not an HTTP/1.0 client (RFC 9110 §15.2).
func (x *exchange) speaksInterim() bool { return x.r.ProtoAtLeast(1, 1) }

// writeInterim sends one interim response to the visitor. Go's servers
// send the ResponseWriter's header with a 1xx and keep it for the final
// response, so the fields set so far are put aside meanwhile: the 1xx
// carries its own fields only, and the final response none of them.
func (x *exchange) writeInterim(ir interim) {
	w := x.w.Header()
	saved := make(http.Header, len(w))
	for k, v := range w {
		saved[k] = v
		delete(w, k)
	}
	for k, v := range ir.hdr {
		w[k] = v
	}
	x.w.WriteHeader(ir.code)
	clear(w)
	for k, v := range saved {
		w[k] = v
	}
}

// relayInterims writes the interim responses published to s to the
// visitor, from a goroutine of its own, until stop is called; stop writes
// any still queued and returns once the goroutine has exited, after which
// the ResponseWriter is the caller's again. For a visitor that can't be
// sent interim responses, it does nothing.
func (x *exchange) relayInterims(s *interims) (stop func()) {
	if !x.speaksInterim() {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		n := 0
		for {
			list, wake := s.since(n)
			for _, ir := range list {
				x.writeInterim(ir)
			}
			n += len(list)
			select {
			case <-wake:
			case <-quit:
				list, _ := s.since(n)
				for _, ir := range list {
					x.writeInterim(ir)
				}
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
	}
}
