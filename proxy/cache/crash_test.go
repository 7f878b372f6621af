package cache

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashDirEnv makes the test binary act as the filling process of
// TestCrashSafety instead of running tests.
const crashDirEnv = "ICPEDGE_CACHE_CRASHFILL_DIR"

func crashOptions(dir string) Options {
	return Options{Dir: dir, MaxSize: 6 << 20, MaxEntrySize: 1 << 20, Memory: 1 << 20}
}

// crashBodies derives an entry's bodies from its key and version, so that
// any entry read back can be checked on its own.
func crashBodies(key, version string, size int, gzip bool) map[Encoding][]byte {
	b := map[Encoding][]byte{Identity: content(key+"|"+version, size)}
	if gzip {
		b[Gzip] = content(key+"|"+version+"|gz", size/4)
	}
	return b
}

// TestCrashFillHelper is the filling process: it writes, replaces and
// deletes entries until it is killed.
func TestCrashFillHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the helper process of TestCrashSafety")
	}
	s, err := Open(crashOptions(dir))
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	// "wrote" tells the parent that an entry is on disk, so that it kills
	// this process once filling is under way, however busy the machine.
	var wrote sync.Once
	written := func() { wrote.Do(func() { fmt.Println("wrote") }) }
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(g)))
			for i := 0; ; i++ {
				key := "https://www.example.cn/k" + strconv.Itoa(rng.IntN(200))
				version := fmt.Sprintf("%d-%d-%d", os.Getpid(), g, i)
				size := rng.IntN(600 << 10)
				gzip := rng.IntN(2) == 0
				e := newEntry(key, crashBodies(key, version, size, gzip))
				e.Header.Set("X-Version", version)
				e.Header.Set("X-Size", strconv.Itoa(size))
				e.Header.Set("X-Gzip", strconv.FormatBool(gzip))
				switch rng.IntN(8) {
				case 0:
					s.Delete(key)
				case 1, 2: // stream it
					e.RemoveBody(Gzip)
					e.Header.Set("X-Gzip", "false")
					w, err := s.Create(key, Identity)
					if err != nil {
						continue
					}
					body, _ := e.Body(Identity)
					io.CopyBuffer(w, body, make([]byte, 32<<10))
					if w.Commit(e) == nil {
						written()
					}
				default:
					if s.Put(e) == nil {
						written()
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestCrashSafety kills a filling process with SIGKILL at random moments
// and checks that every entry readable afterwards is complete and right.
func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("helper process")
	}
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	checked, temps := 0, 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashFillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewReader(out)
		for _, want := range []string{"ready\n", "wrote\n"} {
			if line, _ := lines.ReadString('\n'); line != want {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: helper said %q; want %q", round, line, want)
			}
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		temps += len(tempFiles(dir)) // killed mid-write (spares not counted)
		checked += verifyCrashDir(t, dir, round)
	}
	t.Logf("%d rounds, %d entries checked, %d interrupted writes cleaned up", rounds, checked, temps)
	if checked == 0 {
		t.Errorf("got no entries to check; want some")
	}
}

// tempFiles lists the temporary files in a cache directory and its
// subdirectories, not the spare files an open store keeps.
func tempFiles(dir string) []string { return tempFilesSpares(dir, false) }

// tempFilesSpares is tempFiles, with the spare files when spares is set.
func tempFilesSpares(dir string, spares bool) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasPrefix(d.Name(), tempPrefix) && (spares || !strings.HasPrefix(d.Name(), sparePrefix)) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// verifyCrashDir opens the store left by a killed process and checks it.
func verifyCrashDir(t *testing.T, dir string, round int) int {
	t.Helper()
	var logs bytes.Buffer
	opts := crashOptions(dir)
	opts.Logger = newTestLogger(&logs)
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("round %d: Open: %v", round, err)
	}
	defer s.Close()
	// Nothing has been stored since Open: no spare of its own yet, and
	// the dead process's are gone too.
	for _, name := range tempFilesSpares(dir, true) {
		t.Errorf("round %d: temp file %s left after Open", round, name)
	}
	s.mu.Lock()
	var keys []string
	s.idx.all(func(n int32) {
		keys = append(keys, string(s.idx.key(n)))
	})
	s.mu.Unlock()
	for _, key := range keys {
		e, err := s.Get(key)
		if err != nil {
			t.Errorf("round %d: Get(%q): %v; want every indexed entry readable", round, key, err)
			continue
		}
		size, _ := strconv.Atoi(e.Header.Get("X-Size"))
		want := crashBodies(key, e.Header.Get("X-Version"), size, e.Header.Get("X-Gzip") == "true")
		if e.Header.Get("X-Key") != key {
			t.Errorf("round %d: %q holds the entry of %q", round, key, e.Header.Get("X-Key"))
		}
		for enc := range numEncodings {
			r, ok := e.Body(enc)
			if ok != (want[enc] != nil) {
				t.Errorf("round %d: %q %v body present %v; want %v", round, key, enc, ok, want[enc] != nil)
				continue
			}
			if !ok {
				continue
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, want[enc]) {
				t.Errorf("round %d: %q %v body: got %d bytes (%v); want %d matching", round, key, enc, len(got), err, len(want[enc]))
			}
		}
		e.Close()
	}
	if st := s.Stats(); st.Corrupt != 0 {
		t.Errorf("round %d: got %d damaged files after a kill; want 0 (log: %s)", round, st.Corrupt, logs.String())
	}
	if st := s.Stats(); st.Bytes > opts.MaxSize {
		t.Errorf("round %d: got %d bytes; want at most %d", round, st.Bytes, opts.MaxSize)
	}
	return len(keys)
}
