package bufpool

import "testing"

func TestClass(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		size int64
	}{
		{1, 32 << 10},
		{32 << 10, 32 << 10},
		{32<<10 + 1, 48 << 10},
		{48 << 10, 48 << 10},
		{48<<10 + 1, 64 << 10},
		{62457, 64 << 10},
		{64<<10 + 1, 96 << 10},
		{3 << 20, 3 << 20},
		{4 << 20, 4 << 20},
	} {
		class, size, ok := Class(tt.n)
		if !ok || size != tt.size {
			t.Errorf("Class(%d) = class %d, %d bytes, %v; want %d bytes", tt.n, class, size, ok, tt.size)
		}
		if again, _, _ := Class(size); again != class {
			t.Errorf("a buffer of %d bytes is in class %d, but was made for class %d", size, again, class)
		}
	}
	if _, _, ok := Class(4<<20 + 1); ok {
		t.Error("a buffer over 4 MiB is pooled")
	}
	// No class is more than half again what was asked for.
	for n := int64(32<<10 + 1); n <= 4<<20; n += 4093 {
		if _, size, _ := Class(n); size < n || 2*size > 3*n {
			t.Fatalf("Class(%d) gives %d bytes", n, size)
		}
	}
}

func TestGetPut(t *testing.T) {
	b := Get(40 << 10)
	if len(b) != 0 || cap(b) != 48<<10 {
		t.Fatalf("Get(40 KiB) gave len %d, cap %d; want 0, 48 KiB", len(b), cap(b))
	}
	if big := Get(5 << 20); cap(big) != 5<<20 {
		t.Fatalf("Get(5 MiB) gave cap %d", cap(big))
	}
	b = append(b, "used"...)
	Put(b)
	Put(make([]byte, 0, 40<<10)) // not a class size: left to the collector
	for range 10 {
		if c := Get(33 << 10); len(c) != 0 || cap(c) != 48<<10 {
			t.Fatalf("Get(33 KiB) gave len %d, cap %d", len(c), cap(c))
		}
	}
}
