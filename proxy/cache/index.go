package cache

import (
	"math"
	"unsafe"
)

// index is the store's record of its entries: each key's item, and the
// items in LRU order. It holds no pointer per entry. A map of pointers
// to items and their keys made every garbage collection visit every
// entry, so a cache of a few hundred thousand pages spent more on
// collections than on its misses. Here the items are numbers into one
// slice, the keys are bytes in one arena, and the map goes from a key's
// hash to its first item; none of these has pointers for the collector
// to follow.
//
// Item 0 is the sentinel of the LRU list, never an entry. The methods
// run with the store's lock held.
type index struct {
	first map[uint64]int32 // a key's hash → its first item; more chain on
	items []item
	free  []int32 // items not in use
	// keys holds the keys back to back. A key's bytes are never written
	// again once appended; compact moves the live ones to a new arena
	// when most of it is dead.
	keys     []byte
	deadKeys int
	count    int
}

// item is the index record of one entry; keep it small.
type item struct {
	hash       uint64
	keyOff     int64
	keyLen     int32
	chain      int32 // the next item with the same hash, 0 for none
	prev, next int32 // the LRU list, next toward the oldest; -1 when off it
	size       int64 // disk bytes, rounded to blocks
	atime      int64 // unix seconds of the last persisted access
	// gen is a number unique among every entry this index has held,
	// given each time the file is replaced: an Entry's gen still being
	// its item's means the entry is still the one stored.
	gen      uint64
	live     bool // in use; free items are not
	verified bool // body checksums checked since Open (large files only)
}

func newIndex() *index {
	return &index{first: make(map[uint64]int32), items: make([]item, 1)}
}

// key returns item n's key. It shares the arena's bytes, which are
// never written again.
func (x *index) key(n int32) []byte {
	it := &x.items[n]
	return x.keys[it.keyOff : it.keyOff+int64(it.keyLen) : it.keyOff+int64(it.keyLen)]
}

// lookup returns the item of key, whose hash (Store.hash) is h, or 0.
func (x *index) lookup(key string, h uint64) int32 {
	for n := x.first[h]; n != 0; n = x.items[n].chain {
		if string(x.key(n)) == key {
			return n
		}
	}
	return 0
}

// insert adds key, whose hash is h and which must not be indexed yet,
// and returns its item, which is not on the LRU list. It fails only when the index
// holds as many entries as an item number can count.
func (x *index) insert(key string, h uint64) (int32, bool) {
	var n int32
	if k := len(x.free); k > 0 {
		n = x.free[k-1]
		x.free = x.free[:k-1]
	} else {
		if len(x.items) == math.MaxInt32 {
			return 0, false
		}
		n = int32(len(x.items))
		x.items = append(x.items, item{})
	}
	x.items[n] = item{hash: h, keyOff: int64(len(x.keys)), keyLen: int32(len(key)), chain: x.first[h], prev: -1, next: -1, live: true}
	x.keys = append(x.keys, key...)
	x.first[h] = n
	x.count++
	return n, true
}

// remove drops item n, which must be out of the LRU list.
func (x *index) remove(n int32) {
	it := &x.items[n]
	if p := x.first[it.hash]; p == n {
		if it.chain == 0 {
			delete(x.first, it.hash)
		} else {
			x.first[it.hash] = it.chain
		}
	} else {
		for x.items[p].chain != n {
			p = x.items[p].chain
		}
		x.items[p].chain = it.chain
	}
	x.deadKeys += int(it.keyLen)
	*it = item{prev: -1, next: -1}
	x.free = append(x.free, n)
	x.count--
	if x.deadKeys > 1<<20 && x.deadKeys > len(x.keys)/2 {
		x.compact()
	}
}

// compact moves the live keys to a new arena of their size. Keys handed
// out before stay as they were, in the old arena.
func (x *index) compact() {
	keys := make([]byte, 0, len(x.keys)-x.deadKeys)
	for n := range x.items[1:] {
		if it := &x.items[n+1]; it.live {
			k := x.key(int32(n + 1))
			it.keyOff = int64(len(keys))
			keys = append(keys, k...)
		}
	}
	x.keys, x.deadKeys = keys, 0
}

// all calls f with every indexed item, in no order. f must not insert
// or remove.
func (x *index) all(f func(n int32)) {
	for _, n := range x.first {
		for ; n != 0; n = x.items[n].chain {
			f(n)
		}
	}
}

// bytes estimates the memory x takes: its slices as allocated, and its
// map at about 24 bytes a key (a 12-byte slot and the table's slack).
func (x *index) bytes() int64 {
	return int64(cap(x.items))*int64(unsafe.Sizeof(item{})) + int64(cap(x.keys)) + int64(cap(x.free))*4 + int64(len(x.first))*24
}

// The LRU list: items[0].next is the most recently used.

func (x *index) unlink(n int32) {
	it := &x.items[n]
	if it.prev < 0 {
		return // not on the list
	}
	x.items[it.prev].next, x.items[it.next].prev = it.next, it.prev
	it.prev, it.next = -1, -1
}

func (x *index) pushFront(n int32) {
	head := x.items[0].next
	x.items[n].prev, x.items[n].next = 0, head
	x.items[head].prev = n
	x.items[0].next = n
}

func (x *index) moveToFront(n int32) {
	x.unlink(n)
	x.pushFront(n)
}

// oldest is the least recently used item, or 0 when there is none.
func (x *index) oldest() int32 { return x.items[0].prev }
