package cache

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/icpedge/icpedge/proxy/internal/bufpool"
)

// Encoding is a content coding the store keeps a body in.
type Encoding uint8

// The encodings an Entry may hold, one body each.
const (
	Identity Encoding = iota
	Gzip
	Brotli
	numEncodings
)

// String returns the Content-Encoding token: "identity", "gzip" or "br".
func (enc Encoding) String() string {
	switch enc {
	case Identity:
		return "identity"
	case Gzip:
		return "gzip"
	case Brotli:
		return "br"
	}
	return "unknown"
}

// ParseEncoding maps a Content-Encoding token to an Encoding.
func ParseEncoding(s string) (Encoding, bool) {
	for enc := range numEncodings {
		if s == enc.String() {
			return enc, true
		}
	}
	return 0, false
}

// Entry is a stored response: metadata and up to one body per Encoding.
//
// An Entry from Get may read its bodies from an open file, so that a large
// body need not be in memory; the caller must Close it when done. Its
// bodies stay readable and unchanged even if the key is replaced, deleted
// or evicted meanwhile. Header is the caller's own copy.
type Entry struct {
	// Key is the full cache key. The store treats it as opaque bytes.
	Key string
	// Status is the response status code.
	Status int
	// Header is the stored response header.
	Header http.Header
	// RequestTime and ResponseTime are when the request that produced
	// the response was sent and the response received, for Age
	// (RFC 9111 §4.2.3).
	RequestTime, ResponseTime time.Time

	bodies [numEncodings]bodyRef
	file   *os.File // backs bodies with off/size, when not nil
	// item and gen identify the stored entry Get read, for Swap; 0 for
	// an Entry made by the caller.
	item int32
	gen  uint64
	// whole, when not nil, is the file Get read whole for this entry
	// alone (not kept in memory): Close gives it back for reuse.
	whole []byte
	// memo, for an entry GetShared returned from the memory tier, is the
	// tier's entry, which keeps what Policy.Decide read from its header.
	memo *memEntry
}

// bodyRef is one body: data in memory, or size bytes at off in the file.
type bodyRef struct {
	present bool
	inFile  bool
	lent    bool // set by LendBody: Close gives data to the buffer pool
	data    []byte
	off     int64
	size    int64
}

// SetBody sets the body in encoding enc (an empty body is a body). Put
// copies what it keeps, so b may be reused once Put returns.
func (e *Entry) SetBody(enc Encoding, b []byte) {
	if enc >= numEncodings {
		return
	}
	e.bodies[enc] = bodyRef{present: true, data: b, size: int64(len(b))}
}

// LendBody is SetBody for a body from the buffer pool (bufpool.Get) that
// its caller hands over: b must not be changed afterwards, and Close gives
// it back to the pool. A miss's freshly built page is stored this way, so
// that a burst of misses reuses the same few buffers; Put copies what the
// memory tier keeps of it, and only when the tier takes the entry.
func (e *Entry) LendBody(enc Encoding, b []byte) {
	if enc >= numEncodings {
		return
	}
	e.bodies[enc] = bodyRef{present: true, lent: true, data: b, size: int64(len(b))}
}

// RemoveBody removes the body in encoding enc.
func (e *Entry) RemoveBody(enc Encoding) {
	if enc < numEncodings {
		e.bodies[enc] = bodyRef{}
	}
}

// Body returns a reader of the body in encoding enc (its size is
// r.Size()), or false if the entry has no such body. Each call returns an
// independent reader; it suits http.ServeContent and io.Copy.
func (e *Entry) Body(enc Encoding) (r *io.SectionReader, ok bool) {
	if enc >= numEncodings || !e.bodies[enc].present {
		return nil, false
	}
	b := e.bodies[enc]
	if !b.inFile {
		return io.NewSectionReader(bytes.NewReader(b.data), 0, int64(len(b.data))), true
	}
	if e.file == nil {
		return nil, false // closed
	}
	return io.NewSectionReader(e.file, b.off, b.size), true
}

// Bytes returns the body in encoding enc when the entry holds it in
// memory (a memory-tier hit, or a body set with SetBody), without copying.
// The slice must not be modified. It reports false for a body read from a
// file; use Body then.
func (e *Entry) Bytes(enc Encoding) ([]byte, bool) {
	if enc >= numEncodings || !e.bodies[enc].present || e.bodies[enc].inFile {
		return nil, false
	}
	return e.bodies[enc].data, true
}

// Has reports whether the entry has a body in encoding enc.
func (e *Entry) Has(enc Encoding) bool {
	return enc < numEncodings && e.bodies[enc].present
}

// Size returns the length of the body in encoding enc, or -1 when the
// entry has none.
func (e *Entry) Size(enc Encoding) int64 {
	if !e.Has(enc) {
		return -1
	}
	return e.bodies[enc].size
}

// Encodings returns the encodings the entry has a body in.
func (e *Entry) Encodings() []Encoding {
	var out []Encoding
	for enc := range numEncodings {
		if e.bodies[enc].present {
			out = append(out, enc)
		}
	}
	return out
}

// Close releases the file behind the entry's bodies, if any, the memory
// Get read them into for this entry alone and the bodies lent to it
// (LendBody), which are reused: no body's bytes (Bytes, Body) may be read
// after Close. Afterwards Body reports file-backed bodies as absent,
// readers obtained before fail, and Put of the entry fails. Close is
// idempotent.
func (e *Entry) Close() error {
	if e.whole != nil {
		bufpool.Put(e.whole)
		e.whole = nil
	}
	for i := range e.bodies {
		if b := &e.bodies[i]; b.lent {
			bufpool.Put(b.data)
			*b = bodyRef{}
		}
	}
	if e.file == nil {
		return nil
	}
	f := e.file
	e.file = nil
	return f.Close()
}

// BodyBytes is the memory the entry's bodies hold: the capacity of those
// set or lent, nothing for those read from a file.
func (e *Entry) BodyBytes() int64 {
	var n int64
	for _, b := range e.bodies {
		if b.present && !b.inFile {
			n += int64(cap(b.data))
		}
	}
	return n
}

// bodySize is the total body bytes of e.
func (e *Entry) bodySize() int64 {
	var n int64
	for _, b := range e.bodies {
		if b.present {
			n += b.size
		}
	}
	return n
}

// headerSize estimates the memory a header takes.
func headerSize(h http.Header) int64 {
	n := int64(48)
	for k, vs := range h {
		n += int64(len(k)) + 32
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}
