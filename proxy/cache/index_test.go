package cache

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestIndexMatchesMap runs random inserts, removals, lookups and moves
// to the front against a map and a slice that do the same plainly. The
// hashes are taken modulo 7, so most keys share their hash with others
// and the chains are exercised; the keys are long enough that removals
// compact the arena several times.
func TestIndexMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := newIndex()
	hash := func(k string) uint64 { return uint64(len(k)+int(k[len(k)-1])) % 7 }
	want := map[string]int32{}
	var order []string // most recent first
	keyOf := func(i int) string {
		return fmt.Sprintf("https://icp.example.test/%d?%s", i, strings.Repeat("q", rng.IntN(40000)))
	}
	var pool []string
	for range 3000 {
		pool = append(pool, keyOf(len(pool)))
	}
	compactions := 0
	for step := range 20000 {
		k := pool[rng.IntN(len(pool))]
		n := x.lookup(k, hash(k))
		if wn, ok := want[k]; ok != (n != 0) || ok && wn != n {
			t.Fatalf("step %d: lookup(%.40q) = %d; want %d (present %v)", step, k, n, wn, ok)
		}
		switch op := rng.IntN(3); {
		case n == 0:
			var ok bool
			if n, ok = x.insert(k, hash(k)); !ok || n == 0 {
				t.Fatalf("step %d: insert refused", step)
			}
			x.pushFront(n)
			want[k] = n
			order = slices.Insert(order, 0, k)
		case op == 0:
			dead := x.deadKeys
			x.unlink(n)
			x.remove(n)
			if x.deadKeys < dead {
				compactions++
			}
			delete(want, k)
			order = slices.DeleteFunc(order, func(o string) bool { return o == k })
		default:
			x.moveToFront(n)
			order = slices.DeleteFunc(order, func(o string) bool { return o == k })
			order = slices.Insert(order, 0, k)
		}
		if x.count != len(want) {
			t.Fatalf("step %d: count %d; want %d", step, x.count, len(want))
		}
	}
	if compactions < 2 {
		t.Errorf("the arena was compacted %d times; want the test to cover compaction", compactions)
	}
	// The LRU list, both ways, and every key where it was.
	var got []string
	for n := x.items[0].next; n != 0; n = x.items[n].next {
		got = append(got, string(x.key(n)))
	}
	if !slices.Equal(got, order) {
		t.Errorf("LRU order differs: %d items listed, %d wanted", len(got), len(order))
	}
	back := 0
	for n := x.oldest(); n != 0; n = x.items[n].prev {
		back++
	}
	if back != len(order) {
		t.Errorf("the list walked from its oldest has %d items; want %d", back, len(order))
	}
	seen := 0
	x.all(func(n int32) {
		seen++
		if want[string(x.key(n))] != n {
			t.Errorf("all: item %d holds %.40q, indexed as %d", n, x.key(n), want[string(x.key(n))])
		}
	})
	if seen != len(want) {
		t.Errorf("all visited %d items; want %d", seen, len(want))
	}
}
