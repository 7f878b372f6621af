package cache

import (
	"io"
	"runtime"
	"strconv"
	"testing"
)

func benchmarkGet(b *testing.B, memory int64) {
	s := openStore(b, Options{Memory: memory})
	body := content("bench", 60<<10)
	if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: body})); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		e, err := s.Get("k")
		if err != nil {
			b.Fatal(err)
		}
		r, _ := e.Body(Identity)
		if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
	if st := s.Stats(); (st.MemoryHits > 0) != (memory >= 0) {
		b.Fatalf("got %d memory hits; want memory tier used = %v", st.MemoryHits, memory >= 0)
	}
}

// BenchmarkGetMemory is a 60 KB hit served from the memory tier.
func BenchmarkGetMemory(b *testing.B) { benchmarkGet(b, 0) }

// BenchmarkGetDisk is a 60 KB hit read from its file (page cache) with
// every checksum verified.
func BenchmarkGetDisk(b *testing.B) { benchmarkGet(b, -1) }

// BenchmarkPut is a 60 KB entry written and renamed into place.
func BenchmarkPut(b *testing.B) {
	s := openStore(b, Options{})
	e := newEntry("k", map[Encoding][]byte{Identity: content("bench", 60<<10)})
	b.SetBytes(60 << 10)
	for b.Loop() {
		if err := s.Put(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutNew is a miss's Put: a 60 KB page and its 20 KB gzip
// variant stored under a key never stored before.
func BenchmarkPutNew(b *testing.B) {
	s := openStore(b, Options{MaxSize: 64 << 30, Memory: 16 << 20})
	ident, gz := content("bench", 60<<10), content("gz", 20<<10)
	b.SetBytes(80 << 10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		e := newEntry("https://icp.example.cn/p/"+strconv.Itoa(i), map[Encoding][]byte{Identity: ident, Gzip: gz})
		if err := s.Put(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGCIndexed is a full garbage collection of a process whose
// store indexes 300,000 entries: what the index adds to every cycle.
func BenchmarkGCIndexed(b *testing.B) {
	s := openStore(b, Options{Memory: -1})
	s.mu.Lock()
	for i := range 300000 {
		k := "https://icp.example.test/wp-content/uploads/2024/05/image-" + strconv.Itoa(i) + ".jpg|gzip"
		n, ok := s.idx.insert(k, s.hash(k))
		if !ok {
			b.Fatal("insert refused")
		}
		s.idx.pushFront(n)
	}
	s.mu.Unlock()
	for b.Loop() {
		runtime.GC()
	}
	runtime.KeepAlive(s)
}
