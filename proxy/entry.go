package proxy

import (
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
)

// sharedEntry is a stored or freshly built response served to several
// requests at once; the last to release it closes it, and frees the
// budget its bodies hold when they are in memory (see fill).
type sharedEntry struct {
	e    *cache.Entry
	l    *lease // nil for an entry from the store
	refs atomic.Int32
}

func share(e *cache.Entry) *sharedEntry { return shareLeased(e, nil) }

func shareLeased(e *cache.Entry, l *lease) *sharedEntry {
	s := &sharedEntry{e: e, l: l}
	s.refs.Store(1)
	return s
}

func (s *sharedEntry) acquire() *sharedEntry { s.refs.Add(1); return s }

func (s *sharedEntry) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.e.Close()
		s.l.free()
	}
}

// serveEntry answers the request from a stored response: 304 for a
// matching condition, 206 for a range of the identity body, else the body
// in the best encoding the visitor accepts. Nothing is parsed or
// compressed. status is the Cache-Status parameters.
//
// age is the entry's current age when the caller has it, or negative.
func (x *exchange) serveEntry(e *cache.Entry, status string, age time.Duration) {
	h, r := x.h, x.r
	hdr := x.w.Header()
	for k, v := range e.Header {
		// Markers are the edge's own; targeted fields are kept in the
		// store, to judge the entry by, and addressed to the edge alone.
		if k != markerTransformed && k != markerFingerprint && k != markerHints && !h.isTargeted(k) {
			// Shared, never appended to: the fields set below replace
			// their slices.
			hdr[k] = v
		}
	}
	if len(e.Header[markerTransformed]) > 0 {
		weakenETag(hdr)
	}
	if age < 0 {
		age = cache.Age(e.Header, e.RequestTime, e.ResponseTime, h.now())
	}
	x.setField("Age", strconv.FormatInt(int64(age/time.Second), 10))
	x.setField("Cache-Status", "icpedge; "+status)

	if cache.NotModified(r, e) {
		// RFC 9110 §15.4.5: a 304 carries the validators and caching
		// fields, not the content's.
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Language", "Content-Disposition"} {
			hdr.Del(k)
		}
		dropPartDigests(hdr)
		x.w.WriteHeader(http.StatusNotModified)
		return
	}
	body, statusCode, ok := x.entryBody(e)
	if !ok {
		return
	}
	if !bodyAllowed(http.MethodGet, statusCode) {
		x.w.WriteHeader(statusCode)
		return
	}
	x.setField("Content-Length", strconv.FormatInt(body.size, 10))
	x.w.WriteHeader(statusCode)
	if r.Method == http.MethodHead {
		return
	}
	var err error
	if body.file == nil {
		_, err = x.w.Write(body.mem) // a memory-tier hit: one write, no copy
	} else {
		buf := h.copyBufs.Get().(*[]byte)
		_, err = io.CopyBuffer(x.w, body.file, *buf)
		h.copyBufs.Put(buf)
	}
	if err != nil && r.Context().Err() == nil {
		h.log.Debug("client write failed", "id", x.id, "err", err)
	}
}

// entryBody picks the body of e to send, and its status: the range asked
// for of the identity body (RFC 9110 §14.2), else the stored encoding the
// visitor prefers, else the identity body. ok is false when the request
// has been answered already: a range that can't be satisfied (416), or an
// entry without a body.
func (x *exchange) entryBody(e *cache.Entry) (b body, status int, ok bool) {
	r, hdr := x.r, x.w.Header()
	identity, ok := storedBody(e, cache.Identity)
	if !ok {
		x.h.log.Error("stored entry has no body", "id", x.id, "key", e.Key)
		x.errorPage(http.StatusBadGateway)
		return body{}, 0, false
	}
	status = e.Status
	if rng, res := cache.RequestRange(r, hdr, identity.size); res != cache.RangeIgnore && status == http.StatusOK {
		delete(hdr, "Content-Encoding")
		if res == cache.RangeUnsatisfiable {
			hdr.Set("Content-Range", "bytes */"+strconv.FormatInt(identity.size, 10))
			hdr.Set("Content-Length", "0")
			x.w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return body{}, 0, false
		}
		hdr.Set("Content-Range", rng.ContentRange(identity.size))
		dropPartDigests(hdr)
		return identity.part(rng.Start, rng.Length), http.StatusPartialContent, true
	}
	// Until the Compressor has stored a br variant, a br visitor gets
	// the gzip one.
	if name := negotiateEncoding(field(r.Header, "Accept-Encoding"), e.Has(cache.Brotli), e.Has(cache.Gzip)); name != "" {
		if ce, ok := cache.ParseEncoding(name); ok {
			if b, ok := storedBody(e, ce); ok {
				x.setField("Content-Encoding", name)
				// The edge's own encoding: not the bytes any stored
				// digest is of.
				dropDigests(hdr)
				x.identitySize, x.codedSize = identity.size, b.size
				return b, status, true
			}
		}
	}
	return identity, status, true
}

// body is a stored body to send: in memory (a memory-tier hit, no
// reader needed) or in a file.
type body struct {
	mem  []byte
	file *io.SectionReader
	size int64
}

// storedBody returns e's body in encoding enc.
func storedBody(e *cache.Entry, enc cache.Encoding) (body, bool) {
	if b, ok := e.Bytes(enc); ok {
		return body{mem: b, size: int64(len(b))}, true
	}
	r, ok := e.Body(enc)
	if !ok {
		return body{}, false
	}
	return body{file: r, size: r.Size()}, true
}

// part returns n bytes of b from off.
func (b body) part(off, n int64) body {
	if b.file == nil {
		return body{mem: b.mem[off : off+n], size: n}
	}
	return body{file: io.NewSectionReader(b.file, off, n), size: n}
}
