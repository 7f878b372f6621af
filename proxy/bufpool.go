package proxy

import (
	"math/bits"
	"sync"
	"unsafe"
)

// Bodies read for rewriting are the largest allocations of a miss: the
// origin's bytes, held only until the rewritten page exists. Their
// buffers are reused, in size classes that are powers of two and the
// halves between (32 KiB, 48 KiB, 64 KiB, 96 KiB, …), so that a class is
// never more than half again the size asked for.
const (
	poolMinShift = 15 // the smallest class, 32 KiB
	poolMaxShift = 22 // the largest, 4 MiB; larger buffers are not kept
	poolClasses  = 2*(poolMaxShift-poolMinShift) + 1
)

var bodyPools [poolClasses]sync.Pool

// poolClass returns the class of a buffer of at least n bytes and its
// size; ok is false when n is over the largest class.
func poolClass(n int64) (class int, size int64, ok bool) {
	if n <= 1<<poolMinShift {
		return 0, 1 << poolMinShift, true
	}
	shift := bits.Len64(uint64(n - 1)) // 2^shift is the first power ≥ n
	if shift > poolMaxShift {
		return 0, 0, false
	}
	half := int64(3) << (shift - 2) // the class between 2^(shift-1) and 2^shift
	class = 2 * (shift - poolMinShift)
	if n <= half {
		return class - 1, half, true
	}
	return class, 1 << shift, true
}

// getBody returns an empty buffer with a capacity of at least n bytes,
// reused when one is free.
func getBody(n int64) []byte {
	class, size, ok := poolClass(n)
	if !ok {
		return make([]byte, 0, n)
	}
	if p, _ := bodyPools[class].Get().(*[]byte); p != nil {
		return (*p)[:0]
	}
	return make([]byte, 0, size)
}

// putBody gives b back for reuse. Only a buffer from getBody whose bytes
// nothing reads any more may be given back; buffers of other sizes are
// left to the collector.
func putBody(b []byte) {
	class, size, ok := poolClass(int64(cap(b)))
	if !ok || size != int64(cap(b)) {
		return
	}
	b = b[:0]
	bodyPools[class].Put(&b)
}

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
	putBody(in)
}
