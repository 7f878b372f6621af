package main

import "testing"

func TestNextLimit(t *testing.T) {
	const base = 44 << 20
	for _, tc := range []struct {
		index, set, want int64
		change           bool
	}{
		{0, base, base, false},
		{limitStep - 1, base, base + limitStep - 1, false},
		{6 << 20, base, base + 6<<20, true}, // a cache's index grew
		{6<<20 + 1000, base + 6<<20, base + 6<<20 + 1000, false},
		{1 << 20, base + 6<<20, base + 1<<20, true}, // entries evicted or purged
	} {
		got, change := nextLimit(base, tc.index, tc.set)
		if got != tc.want || change != tc.change {
			t.Errorf("nextLimit(base, %d, %d) = %d, %v; want %d, %v", tc.index, tc.set, got, change, tc.want, tc.change)
		}
	}
}
