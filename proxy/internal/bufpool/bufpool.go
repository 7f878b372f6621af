// Package bufpool reuses the large byte buffers of bodies: the origin's
// bytes of a page being rewritten, and cache files read whole for a hit.
// Buffers come in size classes that are powers of two and the halves
// between (32 KiB, 48 KiB, 64 KiB, 96 KiB, … 4 MiB), so that a class is
// never more than half again the size asked for.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 15 // the smallest class, 32 KiB
	maxShift = 22 // the largest, 4 MiB; larger buffers are not kept
	classes  = 2*(maxShift-minShift) + 1
)

var pools [classes]sync.Pool

// Class returns the class of a buffer of at least n bytes and its size;
// ok is false when n is over the largest class.
func Class(n int64) (class int, size int64, ok bool) {
	if n <= 1<<minShift {
		return 0, 1 << minShift, true
	}
	shift := bits.Len64(uint64(n - 1)) // 2^shift is the first power ≥ n
	if shift > maxShift {
		return 0, 0, false
	}
	half := int64(3) << (shift - 2) // the class between 2^(shift-1) and 2^shift
	class = 2 * (shift - minShift)
	if n <= half {
		return class - 1, half, true
	}
	return class, 1 << shift, true
}

// Get returns an empty buffer with a capacity of at least n bytes: its
// class's size, or n itself over the largest class. It is reused when one
// is free.
func Get(n int64) []byte {
	class, size, ok := Class(n)
	if !ok {
		return make([]byte, 0, n)
	}
	if p, _ := pools[class].Get().(*[]byte); p != nil {
		return (*p)[:0]
	}
	return make([]byte, 0, size)
}

// Put gives b back for reuse. Only a buffer from Get whose bytes nothing
// reads any more may be given back; buffers of other sizes are left to
// the collector.
func Put(b []byte) {
	class, size, ok := Class(int64(cap(b)))
	if !ok || size != int64(cap(b)) {
		return
	}
	b = b[:0]
	pools[class].Put(&b)
}
