package cache

import "math/bits"

// The memory tier admits an entry only when it has room, or when the
// entry has been asked for more often lately than the one it would push
// out (TinyLFU). Without that, every miss and every disk hit replaced a
// hot entry with one that may never be asked for again: a crawler or a
// burst of new URLs emptied the tier of what it was for, and each
// replaced body was garbage to collect.

const (
	// sketchRows is the number of counters each key has in the sketch.
	sketchRows = 4
	// sketchEntrySize is the entry size the sketch is sized for: a
	// memory tier of this many times n bytes holds about n entries.
	sketchEntrySize = 4 << 10
)

// frequency is a count-min sketch of how often keys were asked for
// lately: each key counts in one saturating 4-bit counter of each row,
// and its estimate is the least of them. All counts are halved now and
// then, so that what was popular once fades.
type frequency struct {
	rows    [sketchRows][]uint8 // counters from 0 to 15
	mask    uint64
	adds    int
	resetAt int
}

// newFrequency returns a sketch for about n keys in memory: rows of at
// least four counters per key, halved every time there have been as many
// accesses as counters in a row, so that a key asked for once lately
// mostly counts alone (an estimate of 1), and one asked for often stands
// out.
func newFrequency(n int) *frequency {
	width := 1 << bits.Len(uint(max(n*4, 4096)-1)) // a power of two
	f := &frequency{mask: uint64(width - 1), resetAt: width}
	for i := range f.rows {
		f.rows[i] = make([]uint8, width)
	}
	return f
}

// index is the counter of key's hash h in row i: double hashing, with
// the second hash odd so that rows differ.
func (f *frequency) index(h uint64, i int) uint64 {
	return (h + uint64(i)*(h>>32|1)) & f.mask
}

// add counts one access to the key of hash h.
func (f *frequency) add(h uint64) {
	for i := range f.rows {
		if c := &f.rows[i][f.index(h, i)]; *c < 15 {
			*c++
		}
	}
	if f.adds++; f.adds >= f.resetAt {
		f.halve()
	}
}

// estimate is how often the key of hash h was asked for lately (at
// most 15).
func (f *frequency) estimate(h uint64) uint8 {
	est := uint8(15)
	for i := range f.rows {
		est = min(est, f.rows[i][f.index(h, i)])
	}
	return est
}

func (f *frequency) halve() {
	for i := range f.rows {
		for j := range f.rows[i] {
			f.rows[i][j] >>= 1
		}
	}
	f.adds /= 2
}
