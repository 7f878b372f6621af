package proxy

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// niceOf returns the nice value of thread tid.
func niceOf(t *testing.T, tid int) int {
	t.Helper()
	// The raw system call returns 20 - nice (getpriority(2), NOTES).
	p, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p
}

// The compressor's thread goes to nice 19, and that thread alone: the
// threads serving visitors keep theirs.
func TestLowerThreadPriority(t *testing.T) {
	before := niceOf(t, unix.Getpid())
	got := make(chan [2]int)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with the goroutine
		tid := unix.Gettid()
		if err := lowerThreadPriority(); err != nil {
			t.Error(err)
		}
		got <- [2]int{tid, niceOf(t, tid)}
	}()
	g := <-got
	if g[1] != 19 {
		t.Errorf("thread %d after lowerThreadPriority: nice %d; want 19", g[0], g[1])
	}
	if after := niceOf(t, unix.Getpid()); after != before {
		t.Errorf("main thread: nice %d after; want %d, as before", after, before)
	}
	if mine := niceOf(t, unix.Gettid()); mine == 19 && before != 19 {
		t.Errorf("the test's own thread: nice 19; want it untouched")
	}
}
