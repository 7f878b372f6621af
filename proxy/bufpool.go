package proxy

import (
	"unsafe"

	"github.com/icpedge/icpedge/proxy/internal/bufpool"
)

// overlaps reports whether a and b share any of their backing arrays'
// bytes, up to their capacities: whether a result may still be reading
// its input.
func overlaps(a, b []byte) bool {
	if cap(a) == 0 || cap(b) == 0 {
		return false
	}
	a0 := uintptr(unsafe.Pointer(unsafe.SliceData(a)))
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return a0 < b0+uintptr(cap(b)) && b0 < a0+uintptr(cap(a))
}

// releaseInput gives back the buffer a body was read into once its
// rewritten result out exists, unless out still reads it (a page passed
// through as it was): the buffer goes back to the pool and its bytes to
// l.
func releaseInput(in, out []byte, l *lease) {
	if in == nil || overlaps(in, out) {
		return
	}
	l.shrink(int64(cap(in)))
	bufpool.Put(in)
}
