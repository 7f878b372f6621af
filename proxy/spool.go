package proxy

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/icpedge/icpedge/proxy/internal/bufpool"
)

const (
	// firstBufSize is where a buffer for a body of unknown length starts;
	// it doubles from there as the body grows.
	firstBufSize = 32 << 10
	// pinMax is the most of a buffered body that is kept in memory, under
	// its lease, while a visitor reads it; more is moved to a spool file
	// first, so that a slow reader holds no budget.
	pinMax = 64 << 10
)

// bufState says how far readBody got.
type bufState int

const (
	// bufComplete: the whole body is in the buffer.
	bufComplete bufState = iota
	// bufOver: the body is longer than the limit; the buffer holds the
	// first limit+1 bytes and the rest follows in the reader.
	bufOver
	// bufNoMemory: the budget was spent before the body ended; the buffer
	// holds what was read, and more may follow in the reader.
	bufNoMemory
)

// readBody reads r into a buffer drawn from l, up to limit+1 bytes, so
// that a longer body shows as bufOver. hint, when positive, is the
// expected length (a Content-Length), allocated at once. The lease holds
// the buffer's capacity; the caller frees it when done with the buffer.
func readBody(r io.Reader, limit, hint int64, l *lease) ([]byte, bufState, error) {
	size := int64(firstBufSize)
	if hint > 0 {
		// One byte more than the body, so that the read that finds its
		// end has somewhere to go.
		size = hint + 1
	}
	size = min(size, limit+1)
	buf, ok := growBody(nil, size, l)
	if !ok {
		return nil, bufNoMemory, nil
	}
	for {
		// Never more than limit+1 bytes, whatever the buffer's class.
		end := min(int64(cap(buf)), limit+1)
		if int64(len(buf)) == end {
			if int64(len(buf)) > limit {
				return buf, bufOver, nil
			}
			grown, ok := growBody(buf, min(2*end, limit+1), l)
			if !ok {
				return buf, bufNoMemory, nil
			}
			buf = grown
			continue
		}
		n, err := r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, bufComplete, nil
		}
		if err != nil {
			return buf, bufComplete, err
		}
	}
}

// growBody returns a buffer of at least n bytes' capacity holding buf's
// bytes, drawn from l; buf itself goes back to the pool. Its capacity is
// what l holds for it. ok is false, and buf is kept, when the budget
// can't give that much.
func growBody(buf []byte, n int64, l *lease) (grown []byte, ok bool) {
	_, size, pooled := bufpool.Class(n)
	if !pooled {
		size = n
	}
	// Both are alive while the bytes are copied: take the new buffer's
	// bytes before giving back the old's.
	if !l.grow(size) {
		return buf, false
	}
	grown = append(bufpool.Get(size), buf...)
	if buf != nil {
		l.shrink(int64(cap(buf)))
		bufpool.Put(buf)
	}
	return grown, true
}

// newSpoolFile returns an anonymous file in the spool directory: it is
// unlinked at once, so nothing is left behind if the process dies, and
// its space is returned when it is closed.
func (h *Handler) newSpoolFile() (*os.File, error) {
	f, err := os.CreateTemp(h.opts.SpoolDir, "tmp-icpedge-spool-*")
	if err != nil {
		return nil, fmt.Errorf("creating spool file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("unlinking spool file: %w", err)
	}
	return f, nil
}

// spill writes b to a new spool file and returns it, positioned at its
// start.
func (h *Handler) spill(b []byte) (*os.File, error) {
	f, err := h.newSpoolFile()
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing spool file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("rewinding spool file: %w", err)
	}
	return f, nil
}

// handOff returns a reader of buf followed by rest, for a visitor who may
// read slowly. A buf of more than pinMax bytes is moved to a spool file
// and l is freed at once; a smaller one (or one that could not be moved)
// stays in memory and l is freed once it has been read. Close releases
// the spool file and l; it does not close rest.
func (h *Handler) handOff(buf []byte, l *lease, rest io.Reader) io.ReadCloser {
	if len(buf) > pinMax {
		f, err := h.spill(buf)
		if err == nil {
			l.free()
			return &spooled{Reader: io.MultiReader(f, rest), f: f}
		}
		h.log.Warn("buffered body kept in memory while it is sent", "err", err)
	}
	return &spooled{Reader: io.MultiReader(&leasedBytes{r: bytes.NewReader(buf), l: l}, rest), l: l}
}

// spooled is a body handed to a visitor: held in a spool file or in
// leased memory.
type spooled struct {
	io.Reader
	f *os.File
	l *lease
}

func (s *spooled) Close() error {
	s.l.free()
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// leasedBytes reads a buffer and frees its lease as soon as the last byte
// is read.
type leasedBytes struct {
	r *bytes.Reader
	l *lease
}

func (b *leasedBytes) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.r.Len() == 0 && b.l != nil {
		b.l.free()
		b.r, b.l = bytes.NewReader(nil), nil // and let the buffer go
	}
	return n, err
}

// closeBoth is a body whose Close also closes another: a handed-off
// buffer and the origin's body it continues with.
type closeBoth struct {
	io.ReadCloser
	also io.Closer
}

func (c *closeBoth) Close() error {
	err := c.ReadCloser.Close()
	if err2 := c.also.Close(); err == nil {
		err = err2
	}
	return err
}
