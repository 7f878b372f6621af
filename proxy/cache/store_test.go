package cache

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/icpedge/icpedge/proxy/internal/bufpool"
)

// fakeClock is an injectable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// content derives n checkable bytes from a seed.
func content(seed string, n int) []byte {
	out := make([]byte, 0, n+32)
	sum := sha256.Sum256([]byte(seed))
	for len(out) < n {
		out = append(out, sum[:]...)
		sum = sha256.Sum256(sum[:])
	}
	return out[:n]
}

func newEntry(key string, bodies map[Encoding][]byte) *Entry {
	e := &Entry{
		Key:          key,
		Status:       200,
		Header:       http.Header{"Content-Type": {"text/html"}, "X-Key": {key}},
		RequestTime:  t0,
		ResponseTime: t0.Add(time.Second),
	}
	for enc, b := range bodies {
		e.SetBody(enc, b)
	}
	return e
}

func readBody(t testing.TB, e *Entry, enc Encoding) []byte {
	t.Helper()
	r, ok := e.Body(enc)
	if !ok {
		t.Fatalf("Body(%v) of %q: got no body; want one", enc, e.Key)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %v body of %q: %v", enc, e.Key, err)
	}
	return b
}

func mustGet(t testing.TB, s *Store, key string) *Entry {
	t.Helper()
	e, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): got error %v; want an entry", key, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func mustMiss(t testing.TB, s *Store, key string) {
	t.Helper()
	e, err := s.Get(key)
	if err == nil {
		e.Close()
		t.Fatalf("Get(%q): got an entry; want a miss", key)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%q): got error %v; want ErrNotFound", key, err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		memory int64
		size   int
	}{
		{"memory", 0, 60 << 10},
		{"small file", -1, 60 << 10},
		{"large file", -1, 700 << 10},
		{"empty body", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, Options{Memory: tc.memory})
			id, gz := content("id", tc.size), content("gz", tc.size/3)
			in := newEntry("https://a.example/x?y=1", map[Encoding][]byte{Identity: id, Gzip: gz})
			if err := s.Put(in); err != nil {
				t.Fatalf("Put: %v", err)
			}
			want := bytes.Clone(id)
			if len(id) > 0 {
				id[0] ^= 1 // Put must have copied what it keeps
			}
			id = want
			e := mustGet(t, s, in.Key)
			if e.Key != in.Key || e.Status != 200 || e.Header.Get("X-Key") != in.Key ||
				!e.RequestTime.Equal(in.RequestTime) || !e.ResponseTime.Equal(in.ResponseTime) {
				t.Errorf("got %q %d %v %v %v; want the stored metadata", e.Key, e.Status, e.Header, e.RequestTime, e.ResponseTime)
			}
			if got := readBody(t, e, Identity); !bytes.Equal(got, id) {
				t.Errorf("identity body: got %d bytes; want %d matching", len(got), len(id))
			}
			if got := readBody(t, e, Gzip); !bytes.Equal(got, gz) {
				t.Errorf("gzip body: got %d bytes; want %d matching", len(got), len(gz))
			}
			if _, ok := e.Body(Brotli); ok {
				t.Errorf("Body(Brotli): got a body; want none")
			}
			if got := fmt.Sprint(e.Encodings()); got != "[identity gzip]" {
				t.Errorf("Encodings: got %s; want [identity gzip]", got)
			}
			e.Header.Set("X-Key", "mutated") // the caller's copy
			if got := mustGet(t, s, in.Key).Header.Get("X-Key"); got != in.Key {
				t.Errorf("header after caller mutation: got %q; want %q", got, in.Key)
			}
			mustMiss(t, s, "other")
		})
	}
}

func TestStoreReplaceAndReaderIsolation(t *testing.T) {
	s := openStore(t, Options{Memory: -1})
	old := content("old", 600<<10)
	if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: old})); err != nil {
		t.Fatal(err)
	}
	held := mustGet(t, s, "k") // file-backed
	r, _ := held.Body(Identity)
	neu := content("new", 700<<10)
	if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: neu})); err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, mustGet(t, s, "k"), Identity); !bytes.Equal(got, neu) {
		t.Errorf("after replace: got %d bytes; want the new %d", len(got), len(neu))
	}
	if err := s.Delete("k"); err != nil {
		t.Fatal(err)
	}
	mustMiss(t, s, "k")
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, old) {
		t.Errorf("held reader after replace and delete: got %d bytes, %v; want the old %d", len(got), err, len(old))
	}
}

func TestStorePutFromGet(t *testing.T) {
	// A revalidated entry is stored again with a new header, its body
	// copied from the old file.
	s := openStore(t, Options{Memory: -1})
	body := content("b", 500<<10)
	if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: body})); err != nil {
		t.Fatal(err)
	}
	e := mustGet(t, s, "k")
	e.Header.Set("Cache-Control", "max-age=9")
	if err := s.Put(e); err != nil {
		t.Fatalf("Put of a fetched entry: %v", err)
	}
	e2 := mustGet(t, s, "k")
	if e2.Header.Get("Cache-Control") != "max-age=9" || !bytes.Equal(readBody(t, e2, Identity), body) {
		t.Errorf("got header %v and a different body; want the new header and the old body", e2.Header)
	}
}

// Swap replaces the entry it was given, in memory and on disk, while
// readers of the old one keep reading it; once the key changed (stored
// again, deleted, evicted), it stores nothing.
func TestStoreSwap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		memory int64
		size   int
	}{
		{"memory tier", 0, 60 << 10},
		{"file", -1, 600 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, Options{Memory: tc.memory})
			ident := content("ident", tc.size)
			if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: ident})); err != nil {
				t.Fatal(err)
			}
			old := mustGet(t, s, "k")
			r, _ := old.Body(Identity)
			gz, br := content("gz", tc.size/4), content("br", tc.size/5)
			neu := newEntry("k", map[Encoding][]byte{Identity: readBody(t, old, Identity), Gzip: gz, Brotli: br})
			if err := s.Swap(old, neu); err != nil {
				t.Fatalf("Swap of an unchanged entry: %v", err)
			}
			got := mustGet(t, s, "k")
			if !bytes.Equal(readBody(t, got, Identity), ident) || !bytes.Equal(readBody(t, got, Gzip), gz) || !bytes.Equal(readBody(t, got, Brotli), br) {
				t.Errorf("after Swap: got other bodies; want identity unchanged and the new gzip and br")
			}
			if old.Has(Gzip) || !got.Has(Brotli) || got.Size(Brotli) != int64(len(br)) {
				t.Errorf("Has/Size: old has gzip %v; new has br %v of %d bytes; want false, true, %d", old.Has(Gzip), got.Has(Brotli), got.Size(Brotli), len(br))
			}
			if b, err := io.ReadAll(r); err != nil || !bytes.Equal(b, ident) {
				t.Errorf("reader of the old entry: got %d bytes, %v; want the old body", len(b), err)
			}
			// The new entry survives a restart: it is on disk.
			s.Close()
			s2 := openStore(t, Options{Dir: s.opts.Dir, Memory: tc.memory})
			if b := readBody(t, mustGet(t, s2, "k"), Brotli); !bytes.Equal(b, br) {
				t.Errorf("after reopening: br body differs; want the swapped one")
			}
		})
	}

	t.Run("changed", func(t *testing.T) {
		s := openStore(t, Options{MaxSize: 1 << 20, MaxEntrySize: 1 << 20})
		put := func(key, seed string) {
			t.Helper()
			if err := s.Put(newEntry(key, map[Encoding][]byte{Identity: content(seed, 300<<10)})); err != nil {
				t.Fatal(err)
			}
		}
		swap := func(old *Entry) error {
			return s.Swap(old, newEntry(old.Key, map[Encoding][]byte{Identity: content("swapped", 10)}))
		}
		put("stored-again", "v1")
		old := mustGet(t, s, "stored-again")
		put("stored-again", "v2")
		if err := swap(old); !errors.Is(err, ErrChanged) {
			t.Errorf("Swap after Put: got %v; want ErrChanged", err)
		}
		if b := readBody(t, mustGet(t, s, "stored-again"), Identity); !bytes.Equal(b, content("v2", 300<<10)) {
			t.Errorf("after a refused Swap: got other bytes; want the second Put's")
		}

		put("deleted", "d")
		old = mustGet(t, s, "deleted")
		if err := s.Delete("deleted"); err != nil {
			t.Fatal(err)
		}
		if err := swap(old); !errors.Is(err, ErrChanged) {
			t.Errorf("Swap after Delete: got %v; want ErrChanged", err)
		}
		mustMiss(t, s, "deleted")

		put("evicted", "e")
		old = mustGet(t, s, "evicted")
		for i := range 4 { // 4 x 300 KiB: over MaxSize, the oldest goes
			put("other"+strconv.Itoa(i), "o")
		}
		mustMiss(t, s, "evicted")
		if err := swap(old); !errors.Is(err, ErrChanged) {
			t.Errorf("Swap after eviction: got %v; want ErrChanged", err)
		}
		mustMiss(t, s, "evicted")

		if err := s.Swap(newEntry("other0", nil), newEntry("other0", nil)); err == nil || errors.Is(err, ErrChanged) {
			t.Errorf("Swap of an entry not read from the store: got %v; want an error other than ErrChanged", err)
		}
		if tmp := tempFiles(s.opts.Dir); len(tmp) > 0 {
			t.Errorf("temp files left behind by refused Swaps: %q", tmp)
		}
	})
}

func TestStoreRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	s := openStore(t, Options{Dir: dir, Now: clock.Now})
	keys := []string{"a", "b", "c", "d"}
	for i, k := range keys {
		size := 10 << 10
		if i == 3 {
			size = 400 << 10
		}
		if err := s.Put(newEntry(k, map[Encoding][]byte{Identity: content(k, size), Brotli: content(k+"br", 100)})); err != nil {
			t.Fatal(err)
		}
		clock.Add(2 * time.Hour)
	}
	// Touch "a": a hit more than touchEvery after the last one persists
	// its recency in the file's mtime.
	mustGet(t, s, "a")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: got %v; want ErrClosed", err)
	}

	s2 := openStore(t, Options{Dir: dir, Now: clock.Now})
	if st := s2.Stats(); st.Entries != 4 {
		t.Fatalf("after restart: got %d entries; want 4", st.Entries)
	}
	// Read them in the order b, c, d, a, an hour apart, so that each
	// access is persisted and the order survives the next restart.
	for _, k := range []string{"b", "c", "d", "a"} {
		clock.Add(time.Hour)
		e := mustGet(t, s2, k)
		size := 10 << 10
		if k == "d" {
			size = 400 << 10
		}
		if !bytes.Equal(readBody(t, e, Identity), content(k, size)) || !bytes.Equal(readBody(t, e, Brotli), content(k+"br", 100)) {
			t.Errorf("after restart, %q: got a different body", k)
		}
	}
	s2.Close()

	// Restart with room for two small entries: the least recently used
	// ("b", "c", then the large "d") go; "a" was touched last.
	s3 := openStore(t, Options{Dir: dir, Now: clock.Now, MaxSize: 40 << 10})
	for _, k := range []string{"b", "c", "d"} {
		mustMiss(t, s3, k)
	}
	mustGet(t, s3, "a")
	if st := s3.Stats(); st.Evictions != 3 {
		t.Errorf("got %d evictions; want 3", st.Evictions)
	}
}

func TestStoreEvictionOrder(t *testing.T) {
	// Each entry takes 3 blocks (12 KiB); 40 KiB holds three.
	s := openStore(t, Options{MaxSize: 40 << 10, MaxEntrySize: 40 << 10, Memory: -1})
	put := func(k string) {
		t.Helper()
		if err := s.Put(newEntry(k, map[Encoding][]byte{Identity: content(k, 10<<10)})); err != nil {
			t.Fatal(err)
		}
	}
	put("1")
	put("2")
	put("3")
	mustGet(t, s, "1") // 2 is now least recently used
	put("4")
	mustMiss(t, s, "2")
	for _, k := range []string{"1", "3", "4"} {
		mustGet(t, s, k)
	}
	put("5") // evicts 1, the oldest access now
	mustMiss(t, s, "1")
	st := s.Stats()
	if st.Entries != 3 || st.Bytes != 36<<10 || st.Evictions != 2 {
		t.Errorf("got %d entries, %d bytes, %d evictions; want 3, %d, 2", st.Entries, st.Bytes, st.Evictions, 36<<10)
	}
	if n := countFiles(t, s.opts.Dir); n != 3 {
		t.Errorf("got %d files on disk; want 3", n)
	}
	// An entry larger than MaxEntrySize is refused, not evicting others.
	if err := s.Put(newEntry("big", map[Encoding][]byte{Identity: make([]byte, 41<<10)})); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Put of a too large entry: got %v; want ErrTooLarge", err)
	}
	if st := s.Stats(); st.Entries != 3 {
		t.Errorf("after refused Put: got %d entries; want 3", st.Entries)
	}
}

// countFiles counts the regular files under dir, not the store's spare
// files.
func countFiles(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), sparePrefix) {
			n++
		}
		return nil
	})
	return n
}

func TestStoreMemoryTier(t *testing.T) {
	const memory = 64 << 10 // 4 KiB per entry at most
	s := openStore(t, Options{Memory: memory})
	for i := range 40 {
		k := "k" + strconv.Itoa(i)
		if err := s.Put(newEntry(k, map[Encoding][]byte{Identity: content(k, 2<<10)})); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.MemoryBytes > memory {
			t.Fatalf("after %d puts: got %d memory bytes; want at most %d", i+1, st.MemoryBytes, memory)
		}
	}
	if err := s.Put(newEntry("big", map[Encoding][]byte{Identity: content("big", 8<<10)})); err != nil {
		t.Fatal(err)
	}
	// Entries nobody has asked for fill the tier while it has room, and
	// then stay on disk only: none is pushed out for another as cold.
	st := s.Stats()
	if st.MemoryEntries == 0 || st.MemoryEntries >= 40 || st.MemoryDeclined == 0 || st.MemoryEvictions != 0 {
		t.Fatalf("got %d memory entries, %d declined, %d evicted; want some of 40, the rest declined, none evicted",
			st.MemoryEntries, st.MemoryDeclined, st.MemoryEvictions)
	}
	// One asked for comes from disk into memory, in place of a cold one;
	// the big one never fits.
	e, err := s.Get("k39")
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	// The buffer that file was read into goes back to the pool: whoever
	// takes it next must not be writing into the memory tier.
	for range 8 {
		b := bufpool.Get(4 << 10)
		bufpool.Put(append(b, bytes.Repeat([]byte{'!'}, cap(b))...))
	}
	if got := readBody(t, mustGet(t, s, "k39"), Identity); !bytes.Equal(got, content("k39", 2<<10)) {
		t.Error("k39's body in memory changed when the pool's buffers were reused")
	}
	mustGet(t, s, "big")
	mustGet(t, s, "big")
	st2 := s.Stats()
	if st2.MemoryHits != st.MemoryHits+1 || st2.Hits != st.Hits+4 || st2.MemoryEvictions == 0 {
		t.Errorf("got %d memory hits, %d hits, %d evicted; want %d, %d, some", st2.MemoryHits, st2.Hits, st2.MemoryEvictions, st.MemoryHits+1, st.Hits+4)
	}
	if st2.MemoryBytes > memory {
		t.Errorf("got %d memory bytes; want at most %d", st2.MemoryBytes, memory)
	}
}

// TestStoreMemoryAdmission checks that a burst of entries asked for
// once (a crawler, new URLs) doesn't push out of memory the entries
// asked for often.
func TestStoreMemoryAdmission(t *testing.T) {
	const memory = 64 << 10
	s := openStore(t, Options{Memory: memory})
	hot := make([]string, 8)
	for i := range hot {
		hot[i] = "hot" + strconv.Itoa(i)
		if err := s.Put(newEntry(hot[i], map[Encoding][]byte{Identity: content(hot[i], 2<<10)})); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			mustGet(t, s, hot[i])
		}
	}
	for i := range 200 {
		k := "once" + strconv.Itoa(i)
		if _, err := s.Get(k); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%s) before its Put: %v", k, err)
		}
		if err := s.Put(newEntry(k, map[Encoding][]byte{Identity: content(k, 2<<10)})); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, k)
	}
	before := s.Stats()
	for _, k := range hot {
		mustGet(t, s, k)
	}
	after := s.Stats()
	if got := after.MemoryHits - before.MemoryHits; got != int64(len(hot)) {
		t.Errorf("%d of the %d hot entries still in memory after 200 asked for once", got, len(hot))
	}
	if after.MemoryDeclined == 0 || after.MemoryEntries < len(hot) {
		t.Errorf("got %d declined, %d in memory", after.MemoryDeclined, after.MemoryEntries)
	}
}

// damage describes a way to spoil a cache file by hand.
type damage struct {
	name string
	do   func(t *testing.T, s *Store, path, other string)
}

var damages = []damage{
	{"flip body byte", func(t *testing.T, s *Store, path, _ string) { flip(t, path, prefixLen+100) }},
	{"flip last body byte", func(t *testing.T, s *Store, path, _ string) { flip(t, path, -1) }},
	{"flip meta byte", func(t *testing.T, s *Store, path, _ string) { flip(t, path, -footerLen-5) }},
	{"flip footer", func(t *testing.T, s *Store, path, _ string) { flip(t, path, -2) }},
	{"bad version", func(t *testing.T, s *Store, path, _ string) { flip(t, path, 4) }},
	{"truncate footer", func(t *testing.T, s *Store, path, _ string) { truncate(t, path, -3) }},
	{"truncate body", func(t *testing.T, s *Store, path, _ string) { truncate(t, path, prefixLen+50) }},
	{"empty", func(t *testing.T, s *Store, path, _ string) { truncate(t, path, 0) }},
	{"extend", func(t *testing.T, s *Store, path, _ string) { truncate(t, path, 1<<20+77) }},
	{"swap files", func(t *testing.T, s *Store, path, other string) {
		tmp := path + ".swap"
		for _, mv := range [][2]string{{path, tmp}, {other, path}, {tmp, other}} {
			if err := os.Rename(mv[0], mv[1]); err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"copy other over", func(t *testing.T, s *Store, path, other string) {
		b, err := os.ReadFile(other)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}},
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if off < 0 {
		fi, _ := f.Stat()
		off += fi.Size()
	}
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if n < 0 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

func TestStoreDamagedFiles(t *testing.T) {
	for _, size := range []int{1000, 600 << 10} { // whole-read and streamed paths
		for _, restart := range []bool{false, true} {
			for _, dmg := range damages {
				name := fmt.Sprintf("%s/size %d/restart %v", dmg.name, size, restart)
				t.Run(name, func(t *testing.T) {
					dir := t.TempDir()
					var logs bytes.Buffer
					opts := Options{Dir: dir, Memory: -1, Logger: newTestLogger(&logs)}
					s := openStore(t, opts)
					for _, k := range []string{"victim", "other"} {
						if err := s.Put(newEntry(k, map[Encoding][]byte{Identity: content(k, size), Gzip: content(k+"gz", 300)})); err != nil {
							t.Fatal(err)
						}
					}
					if restart {
						s.Close()
					}
					dmg.do(t, s, s.path("victim"), s.path("other"))
					if restart {
						s = openStore(t, opts)
					}
					mustMiss(t, s, "victim")
					if strings.HasPrefix(dmg.name, "swap") {
						mustMiss(t, s, "other")
					} else if e, err := s.Get("other"); err == nil {
						if !bytes.Equal(readBody(t, e, Identity), content("other", size)) {
							t.Errorf("other: got wrong data")
						}
						e.Close()
					}
					if st := s.Stats(); st.Corrupt == 0 {
						t.Errorf("got 0 corrupt files counted; want at least 1")
					}
					if _, err := os.Stat(s.path("victim")); err == nil && !strings.HasPrefix(dmg.name, "swap") {
						t.Errorf("damaged file still on disk; want it removed")
					}
					if !strings.Contains(logs.String(), "damaged") {
						t.Errorf("log: got %q; want a damaged-file warning", logs.String())
					}
				})
			}
		}
	}
}

func TestStoreOpenCleansTempFiles(t *testing.T) {
	dir := t.TempDir()
	// Temp files are written beside their final name; older versions
	// wrote them at the top.
	if err := os.Mkdir(filepath.Join(dir, "ab"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tmp-123", "tmp-456", "ab/tmp-789"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keep := filepath.Join(dir, "README")
	os.WriteFile(keep, []byte("not ours"), 0o600)
	openStore(t, Options{Dir: dir})
	if n := countFiles(t, dir); n != 1 {
		t.Errorf("got %d files after Open; want only README", n)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("README: got %v; want it kept", err)
	}
}

// A store keeps empty files ready for its next Puts, in its top
// directory; Close removes them, and Open those of a process that died.
func TestStoreSpareFiles(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir})
	for i := range 3 * spareFiles {
		if err := s.Put(newEntry("k"+strconv.Itoa(i), map[Encoding][]byte{Identity: content("b", 100)})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "spares made again", func() bool { return len(s.spares) == spareFiles && !s.refilling.Load() })
	spares := tempFilesSpares(dir, true)
	if len(spares) != spareFiles {
		t.Fatalf("got %d spare files; want %d", len(spares), spareFiles)
	}
	for i := range 3 * spareFiles {
		if got := readBody(t, mustGet(t, s, "k"+strconv.Itoa(i)), Identity); !bytes.Equal(got, content("b", 100)) {
			t.Fatalf("k%d: got %q; want the body stored", i, got)
		}
	}
	// A process that dies leaves its spares; Open removes them.
	for _, p := range spares {
		if err := os.Link(p, p+"-dead"); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if left := tempFilesSpares(dir, true); len(left) != spareFiles {
		t.Fatalf("after Close: %d temp files; want only the %d copies made here", len(left), spareFiles)
	}
	s2 := openStore(t, Options{Dir: dir})
	if left := tempFilesSpares(dir, true); len(left) != 0 {
		t.Errorf("after Open: temp files %q; want none", left)
	}
	if got := readBody(t, mustGet(t, s2, "k0"), Identity); !bytes.Equal(got, content("b", 100)) {
		t.Errorf("after reopening: got %q; want the body stored", got)
	}
}

// waitFor polls cond until it holds, failing the test after 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStoreDeleteFunc(t *testing.T) {
	s := openStore(t, Options{})
	for _, k := range []string{"https://a/x", "https://a/y", "https://b/x"} {
		if err := s.Put(newEntry(k, map[Encoding][]byte{Identity: []byte(k)})); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteFunc(func(k string) bool { return strings.HasPrefix(k, "https://a/") })
	if n != 2 || err != nil {
		t.Fatalf("got %d, %v; want 2, nil", n, err)
	}
	mustMiss(t, s, "https://a/x")
	mustMiss(t, s, "https://a/y")
	mustGet(t, s, "https://b/x")
	if got := countFiles(t, s.opts.Dir); got != 1 {
		t.Errorf("got %d files; want 1", got)
	}
	if err := s.Delete("missing"); err != nil {
		t.Errorf("Delete of a missing key: got %v; want nil", err)
	}
}

func TestStoreStreaming(t *testing.T) {
	s := openStore(t, Options{MaxSize: 16 << 20, MaxEntrySize: 4 << 20})
	body := content("dl", 3<<20)
	w, err := s.Create("dl", Identity)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyBuffer(w, bytes.NewReader(body), make([]byte, 32<<10)); err != nil {
		t.Fatal(err)
	}
	mustMiss(t, s, "dl") // not visible before Commit
	if err := w.Commit(newEntry("ignored", nil)); err != nil {
		t.Fatal(err)
	}
	e := mustGet(t, s, "dl")
	if !bytes.Equal(readBody(t, e, Identity), body) || e.Header.Get("X-Key") != "ignored" {
		t.Errorf("streamed entry: got a different body or header")
	}
	if err := w.Commit(newEntry("x", nil)); err == nil {
		t.Errorf("second Commit: got nil; want an error")
	}

	w2, _ := s.Create("aborted", Gzip)
	w2.Write([]byte("partial"))
	w2.Abort()
	mustMiss(t, s, "aborted")

	w3, _ := s.Create("huge", Identity)
	_, err = io.Copy(w3, bytes.NewReader(make([]byte, 5<<20)))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("streaming past MaxEntrySize: got %v; want ErrTooLarge", err)
	}
	if err := w3.Commit(newEntry("huge", nil)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Commit after ErrTooLarge: got %v; want ErrTooLarge", err)
	}
	mustMiss(t, s, "huge")
	if n := countFiles(t, s.opts.Dir); n != 1 {
		t.Errorf("got %d files; want 1 (no temp files left)", n)
	}
}

// fullAfter is a writev hook that fails like a full disk once limit bytes
// are written.
func fullAfter(limit int) func(*os.File, [][]byte) error {
	return func(f *os.File, bufs [][]byte) error {
		for _, b := range bufs {
			if len(b) > limit {
				f.Write(b[:limit])
				limit = 0
				return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
			}
			limit -= len(b)
			if _, err := f.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestStoreDiskFull(t *testing.T) {
	s := openStore(t, Options{})
	if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: []byte("old")})); err != nil {
		t.Fatal(err)
	}
	s.hooks.writev = fullAfter(1000)
	err := s.Put(newEntry("k", map[Encoding][]byte{Identity: content("new", 5000)}))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk: got %v; want ENOSPC", err)
	}
	if got := readBody(t, mustGet(t, s, "k"), Identity); string(got) != "old" {
		t.Errorf("after failed Put: got %q; want the old body", got)
	}
	if n := countFiles(t, s.opts.Dir); n != 1 {
		t.Errorf("got %d files; want 1 (temp file removed)", n)
	}
}

func TestStoreReadOnlyDisk(t *testing.T) {
	setup := func(t *testing.T) *Store {
		s := openStore(t, Options{Memory: -1})
		for _, k := range []string{"a", "b"} {
			if err := s.Put(newEntry(k, map[Encoding][]byte{Identity: []byte(k)})); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	check := func(t *testing.T, s *Store) {
		t.Helper()
		if err := s.Put(newEntry("c", map[Encoding][]byte{Identity: []byte("c")})); err == nil {
			t.Errorf("Put on a read-only disk: got nil; want an error")
		}
		for _, k := range []string{"a", "b"} {
			if got := readBody(t, mustGet(t, s, k), Identity); string(got) != k {
				t.Errorf("Get(%q): got %q; want %q", k, got, k)
			}
		}
		mustMiss(t, s, "c")
	}

	// A chmod'ed directory would be the natural case, but root (as CI
	// runs) ignores directory permissions; these two fail the same writes
	// for every user.
	t.Run("erofs hook", func(t *testing.T) {
		s := setup(t)
		// Spare files made before would fail at their first write on a
		// real read-only disk; the hook only fails creations, so they
		// go first.
		waitFor(t, "spares made", func() bool { return !s.refilling.Load() })
		s.dropSpares()
		s.hooks.createTemp = func(string, string) (*os.File, error) {
			return nil, &os.PathError{Op: "open", Path: s.opts.Dir, Err: syscall.EROFS}
		}
		check(t, s)
	})
	t.Run("directory replaced by a file", func(t *testing.T) {
		// Works as root too: the fan-out directory "c" would be renamed
		// into is a regular file, so the rename fails with ENOTDIR.
		s := setup(t)
		sub := filepath.Dir(s.path("c"))
		if err := os.RemoveAll(sub); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sub, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(s.path("a")) == sub || filepath.Dir(s.path("b")) == sub {
			t.Fatal("the test's keys share a fan-out directory; pick other keys")
		}
		check(t, s)
		if n := countFiles(t, s.opts.Dir); n != 3 { // a, b and the blocking file
			t.Errorf("got %d files; want 3 (temp file removed)", n)
		}
	})
}

func TestStoreConcurrent(t *testing.T) {
	s := openStore(t, Options{MaxSize: 2 << 20, MaxEntrySize: 1 << 20, Memory: 256 << 10})
	const keys = 20
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 150 {
				k := "k" + strconv.Itoa(rng.IntN(keys))
				switch op := rng.IntN(10); {
				case op < 4:
					v := strconv.Itoa(g*1000 + i)
					size := rng.IntN(300 << 10)
					e := newEntry(k, map[Encoding][]byte{Identity: content(k+v, size)})
					e.Header.Set("X-Version", v)
					e.Header.Set("X-Size", strconv.Itoa(size))
					if err := s.Put(e); err != nil {
						t.Errorf("Put: %v", err)
					}
				case op < 5:
					if err := s.Delete(k); err != nil {
						t.Errorf("Delete: %v", err)
					}
				default:
					e, err := s.Get(k)
					if errors.Is(err, ErrNotFound) {
						continue
					}
					if err != nil {
						t.Errorf("Get: %v", err)
						continue
					}
					size, _ := strconv.Atoi(e.Header.Get("X-Size"))
					want := content(k+e.Header.Get("X-Version"), size)
					r, _ := e.Body(Identity)
					if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, want) {
						t.Errorf("Get(%q): body does not match its header (%v)", k, err)
					}
					e.Close()
				}
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Bytes > 2<<20 || st.MemoryBytes > 256<<10 || st.Corrupt != 0 {
		t.Errorf("got %+v; want within bounds and nothing corrupt", st)
	}
}

func TestIndexMemory(t *testing.T) {
	// 10,000 entries with 80-byte keys must index in a few MB, and in a
	// handful of allocations: an object per entry is one more for every
	// garbage collection to visit. Stats.IndexBytes, which the memory
	// limit counts, must tell what they cost within a factor of two.
	s := openStore(t, Options{})
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("https://www.example.cn/wp-content/uploads/2024/05/image-%06d.jpg?ver=6.5.3", i)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s.mu.Lock()
	for i, k := range keys {
		n, ok := s.idx.insert(k, s.hash(k))
		if !ok {
			t.Fatal("insert refused")
		}
		s.idx.items[n].size = blocks(int64(i))
		s.idx.pushFront(n)
	}
	s.mu.Unlock()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / 10000
	allocs := after.Mallocs - before.Mallocs
	t.Logf("index: %d bytes per entry with an 80-byte key, %d allocations for 10,000", per, allocs)
	if per > 300 {
		t.Errorf("got %d bytes per entry; want at most 300", per)
	}
	if allocs > 200 {
		t.Errorf("got %d allocations for 10,000 entries; want at most 200, none per entry", allocs)
	}
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if est := s.Stats().IndexBytes; est < heap/2 || est > heap*2 {
		t.Errorf("Stats.IndexBytes %d; the heap grew by %d", est, heap)
	}
	runtime.KeepAlive(s)
	runtime.KeepAlive(keys)
}

func TestStorePutOfClosedEntry(t *testing.T) {
	s := openStore(t, Options{Memory: -1})
	if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: content("k", 300<<10)})); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get("k")
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if _, ok := e.Body(Identity); ok {
		t.Errorf("Body after Close: got a body; want none")
	}
	if err := s.Put(e); err == nil {
		t.Errorf("Put of a closed entry: got nil; want an error")
	}
	if got := readBody(t, mustGet(t, s, "k"), Identity); len(got) != 300<<10 {
		t.Errorf("after refused Put: got %d bytes; want the old %d", len(got), 300<<10)
	}
}

func FuzzReadMeta(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	e := newEntry("k", map[Encoding][]byte{Identity: []byte("hello"), Brotli: {}})
	if err := s.Put(e); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(s.path("k"))
	if err != nil {
		f.Fatal(err)
	}
	s.Close()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte("ICPc\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readMeta(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		var total int64
		for _, l := range m.lens {
			total += max(0, l)
		}
		if prefixLen+total > m.metaAt || m.metaAt > int64(len(b)) {
			t.Fatalf("got bodies of %d bytes before meta at %d in %d bytes", total, m.metaAt, len(b))
		}
	})
}

func TestGetSharedSharesHeader(t *testing.T) {
	s := openStore(t, Options{})
	if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: []byte("body")})); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "k") // the first Get from disk puts it in memory
	a, err := s.GetShared("k")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.GetShared("k")
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(a.Header).UnsafePointer() != reflect.ValueOf(b.Header).UnsafePointer() {
		t.Errorf("GetShared from memory: got two header maps; want one shared")
	}
	c := mustGet(t, s, "k")
	c.Header.Set("X-Key", "mutated")
	if got := a.Header.Get("X-Key"); got != "k" {
		t.Errorf("shared header's X-Key: got %q; want %q: a Get copy's change reached it", got, "k")
	}
}

// A hit read from its file that the memory tier then keeps: the caller's
// header is its own, and the tier keeps a copy.
func TestDiskHitHeaderOwned(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir})
	if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: []byte("body")})); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, Options{Dir: dir}) // nothing in memory
	e := mustGet(t, s, "k")
	if got := s.Stats().MemoryEntries; got != 1 {
		t.Fatalf("memory entries after a hit from disk: got %d; want 1", got)
	}
	e.Header.Set("X-Key", "mutated")
	if got := mustGet(t, s, "k").Header.Get("X-Key"); got != "k" {
		t.Errorf("X-Key from memory: got %q; want %q: the caller's change reached the tier", got, "k")
	}
}

// Reread serves what the caller just stored without counting a lookup:
// a miss that fills the cache is one miss, not a miss and a hit.
func TestStoreRereadNotCounted(t *testing.T) {
	for _, memory := range []int64{0, -1} {
		s := openStore(t, Options{Memory: memory})
		body := content("reread", 300<<10) // read from its file without a memory tier
		if err := s.Put(newEntry("k", map[Encoding][]byte{Identity: body})); err != nil {
			t.Fatal(err)
		}
		e, err := s.Reread("k")
		if err != nil {
			t.Fatalf("memory %d: Reread: %v", memory, err)
		}
		r, _ := e.Body(Identity)
		got, _ := io.ReadAll(r)
		e.Close()
		if !bytes.Equal(got, body) {
			t.Errorf("memory %d: Reread body differs", memory)
		}
		if _, err := s.Reread("absent"); !errors.Is(err, ErrNotFound) {
			t.Errorf("memory %d: Reread of an absent key: %v; want ErrNotFound", memory, err)
		}
		if st := s.Stats(); st.Hits != 0 || st.Misses != 0 || st.MemoryHits != 0 {
			t.Errorf("memory %d: stats %+v; want no lookups counted", memory, st)
		}
	}
}

// The memory tier keeps a copy of its own of every body, set or lent,
// so that the caller may reuse the buffer: a set body's once Put returns,
// a lent body's once the entry is closed, which gives it back.
func TestStoreLendBody(t *testing.T) {
	s := openStore(t, Options{Memory: 16 << 20})
	for _, lend := range []bool{false, true} {
		name := fmt.Sprintf("lent=%v", lend)
		b := append(bufpool.Get(5000), content("g", 4096)...)
		e := &Entry{Key: name, Status: 200, Header: http.Header{}}
		if lend {
			e.LendBody(Identity, b)
		} else {
			e.SetBody(Identity, b)
		}
		if err := s.Put(e); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		m := s.inMem[s.idx.lookup(name, s.hash(name))]
		s.mu.Unlock()
		if m == nil {
			t.Fatalf("%s: not in the memory tier", name)
		}
		if kept := m.bodies[Identity]; &kept[0] == &b[0] || cap(kept) != len(kept) {
			t.Errorf("%s: the memory tier keeps the caller's buffer, or %d bytes of capacity for %d", name, cap(kept), len(kept))
		}
		e.Close()
		if _, ok := e.Bytes(Identity); ok == lend {
			t.Errorf("%s: body present after Close: %v", name, ok)
		}
		b[0] ^= 0xff // the caller, or the pool's next user, reuses the buffer
		if got := readBody(t, mustGet(t, s, name), Identity); !bytes.Equal(got, content("g", 4096)) {
			t.Errorf("%s: stored body changed", name)
		}
	}
}

// TestStoreWholeReadsReused checks the memory of files read whole for a
// hit and not kept in memory: it is reused once the entry is closed, and
// never while an entry reading it is open, whatever other Gets run.
func TestStoreWholeReadsReused(t *testing.T) {
	const size = 100 << 10
	// A tier too small for these entries: every hit reads its file.
	s := openStore(t, Options{Memory: 64 << 10})
	const keys = 16
	for i := range keys {
		k := "k" + strconv.Itoa(i)
		if err := s.Put(newEntry(k, map[Encoding][]byte{Identity: content(k, size), Gzip: content(k+"gz", 1000)})); err != nil {
			t.Fatal(err)
		}
	}
	check := func(e *Entry) error {
		b, ok := e.Bytes(Identity)
		if !ok || !bytes.Equal(b, content(e.Key, size)) {
			return fmt.Errorf("%s: identity body is not what was stored", e.Key)
		}
		if g, _ := e.Bytes(Gzip); !bytes.Equal(g, content(e.Key+"gz", 1000)) {
			return fmt.Errorf("%s: gzip body is not what was stored", e.Key)
		}
		return nil
	}

	// Entries held open keep their bytes while others come and go.
	held := []*Entry{mustGet(t, s, "k0"), mustGet(t, s, "k1")}
	var wg sync.WaitGroup
	errs := make(chan error, 4*200)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				e, err := s.Get("k" + strconv.Itoa(2+(w*200+i)%(keys-2)))
				if err != nil {
					errs <- err
					return
				}
				if err := check(e); err != nil {
					errs <- err
				}
				e.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, e := range held {
		if err := check(e); err != nil {
			t.Errorf("held open while others were read: %v", err)
		}
	}

	// Closed, their memory is reused: a hundred hits allocate far less
	// than a hundred files.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 100 {
		e, err := s.Get("k" + strconv.Itoa(2+i%(keys-2)))
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 60*size {
		t.Errorf("100 hits allocated %d bytes; want the files' memory reused (each is %d)", n, size)
	}
}

// A hit from memory reuses what Decide read from the shared header, but
// only under the same policy fields and for the tier's own header map: a
// different Targeted or HeuristicMax, or a Header the caller replaced,
// is judged afresh, as an entry without a memo is.
func TestDecideMemo(t *testing.T) {
	s := openStore(t, Options{})
	e := newEntry("k", map[Encoding][]byte{Identity: []byte("body")})
	date := t0.Add(-30 * time.Second)
	e.Header = hdr("Edge-CC", "max-age=600", "Date", httpDate(date), "Last-Modified", httpDate(date.Add(-100*time.Hour)))
	e.RequestTime, e.ResponseTime = t0, t0
	if err := s.Put(e); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "k") // the first Get from disk puts it in memory
	now := t0.Add(50 * time.Second)
	targeted, shortHeuristic := Policy{Targeted: "Edge-CC"}, Policy{HeuristicMax: time.Hour}
	for i, tc := range []struct {
		p        Policy
		lifetime time.Duration
	}{
		{Policy{}, 10 * time.Hour}, {targeted, 10 * time.Minute}, {Policy{}, 10 * time.Hour},
		{shortHeuristic, time.Hour}, {targeted, 10 * time.Minute}, {shortHeuristic, time.Hour},
	} {
		// Twice each: the second is judged by the memo the first kept.
		for range 2 {
			shared, err := s.GetShared("k")
			if err != nil {
				t.Fatal(err)
			}
			alone := mustGet(t, s, "k") // a copy of the header: no memo
			if shared.memo == nil || alone.memo != nil {
				t.Fatalf("GetShared from memory has memo %v, Get has %v; want one, none", shared.memo != nil, alone.memo != nil)
			}
			got, want := tc.p.Decide(req("GET", "/"), shared, now), tc.p.Decide(req("GET", "/"), alone, now)
			if got != want || got.Lifetime != tc.lifetime || got.Age != 80*time.Second {
				t.Errorf("policy %d %+v: shared entry got %+v, a copy %+v; want lifetime %v, age 1m20s", i, tc.p, got, want, tc.lifetime)
			}
			// A header the caller replaced is judged as it now reads.
			shared.Header = hdr("Cache-Control", "max-age=5", "Date", httpDate(t0))
			if d := tc.p.Decide(req("GET", "/"), shared, now); d.Lifetime != 5*time.Second || d.Age != 50*time.Second {
				t.Errorf("policy %d %+v after replacing the header: got lifetime %v, age %v; want 5s, 50s", i, tc.p, d.Lifetime, d.Age)
			}
			alone.Close()
			shared.Close()
		}
	}
}

// An evicted entry's file is unlinked after the store's lock is
// released, so lookups don't wait for the file system; a Put of the
// evicted key meanwhile waits for that unlink, so that it is never the
// new file that goes.
func TestStoreUnlinksOutsideTheLock(t *testing.T) {
	s := openStore(t, Options{MaxSize: 3 * blockSize, MaxEntrySize: blockSize, Memory: -1})
	put := func(key string) error {
		return s.Put(newEntry(key, map[Encoding][]byte{Identity: content(key, 100)}))
	}
	for _, k := range []string{"old", "b", "c"} {
		if err := put(k); err != nil {
			t.Fatal(err)
		}
	}
	oldPath := s.path("old")
	unlinking, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	s.hooks.remove = func(path string) error {
		if path == oldPath {
			first.Do(func() { close(unlinking) })
			<-release
		}
		return os.Remove(path)
	}
	evicted := make(chan error, 1)
	go func() { evicted <- put("d") }() // evicts "old", the least recently used
	<-unlinking

	// The lock is free while the unlink waits.
	if _, err := s.Get("b"); err != nil {
		t.Fatalf("Get during an eviction's unlink: %v", err)
	}
	if _, err := s.Get("old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of the evicted key: %v; want ErrNotFound", err)
	}
	// A Put of the evicted key waits for its unlink: Stats, which takes
	// the lock, counts it once the Put has released the lock to wait.
	again := make(chan error, 1)
	go func() { again <- put("old") }()
	waitFor(t, "a Put waiting for the unlink", func() bool {
		select {
		case err := <-again:
			t.Fatalf("Put of a key whose file is being unlinked returned (%v) before the unlink", err)
		default:
		}
		return s.Stats().UnlinkWaits > 0
	})
	close(release)
	if err := <-evicted; err != nil {
		t.Fatal(err)
	}
	if err := <-again; err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, mustGet(t, s, "old"), Identity); !bytes.Equal(got, content("old", 100)) {
		t.Errorf("the key stored again reads %q", got)
	}
	if _, err := os.Stat(oldPath); err != nil {
		t.Errorf("the new file of the key stored again: %v", err)
	}
}

func TestAdvance(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "ab|cde|f"}, {1, "b|cde|f"}, {2, "cde|f"}, {4, "e|f"}, {5, "f"}, {6, ""},
	} {
		bufs := [][]byte{[]byte("ab"), []byte("cde"), []byte("f")}
		var parts []string
		for _, b := range advance(bufs, tc.n) {
			parts = append(parts, string(b))
		}
		if got := strings.Join(parts, "|"); got != tc.want {
			t.Errorf("advance by %d: got %q; want %q", tc.n, got, tc.want)
		}
	}
}

// Spare files are made in the fan-out directories in turn, so that the
// file system spreads the cache's files as it spreads its directories.
func TestSparesSpreadOverDirectories(t *testing.T) {
	s := openStore(t, Options{})
	if f := s.takeSpare(); f != nil {
		t.Fatalf("a spare before any was asked for: %s", f.Name())
	}
	waitFor(t, "spares made", func() bool { return len(s.spares) == cap(s.spares) && !s.refilling.Load() })
	dirs := map[string]int{}
	err := filepath.WalkDir(s.opts.Dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasPrefix(d.Name(), sparePrefix) {
			dirs[filepath.Dir(path)]++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if dirs[s.opts.Dir] > 0 || len(dirs) != spareFiles {
		t.Errorf("spare files by directory: %v; want one in each of %d fan-out directories", dirs, spareFiles)
	}
}
