//go:build unix

package cache

import (
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// The store opens a file for every miss it stores and for every hit it
// reads from disk, so these skip what os.OpenFile adds for descriptors
// that may be polled: on Linux it sets a regular file non-blocking, offers
// it to epoll, which refuses it, and sets it back, four fcntl calls and an
// epoll_ctl that never serve a disk file. Errors have the os package's
// types (*fs.PathError, *os.LinkError), so errors.Is(err, fs.ErrNotExist)
// and the like hold as before.

// openFile opens path with flag (O_CLOEXEC is added) and perm.
func openFile(path string, flag int, perm uint32) (*os.File, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = syscall.Open(path, flag|syscall.O_CLOEXEC, perm)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// createTemp creates a new file named prefix and a random suffix in dir,
// for reading and writing by this user only.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := openFile(name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL, 0o600)
		if err == nil || !os.IsExist(err) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, prefix+"*"), Err: fs.ErrExist}
}

// rename renames from to to, which is never a directory: unlike
// os.Rename, it doesn't stat to first to check.
func rename(from, to string) error {
	if err := ignoringEINTR(func() error { return syscall.Rename(from, to) }); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// fileSize is f's size, from fstat, without the FileInfo that f.Stat
// allocates.
func fileSize(f *os.File) (int64, error) {
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(int(f.Fd()), &st) }); err != nil {
		return 0, &fs.PathError{Op: "stat", Path: f.Name(), Err: err}
	}
	return st.Size, nil
}

// ignoringEINTR calls call again for as long as it fails with EINTR, and
// returns its error otherwise.
func ignoringEINTR(call func() error) error {
	for {
		if err := call(); err != syscall.EINTR {
			return err
		}
	}
}

// writev writes bufs to f in order, in as few writev calls as the kernel
// takes them in. It may change bufs.
func writev(f *os.File, bufs [][]byte) error {
	defer runtime.KeepAlive(f)
	fd := int(f.Fd())
	for {
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		if len(bufs) == 0 {
			return nil
		}
		var n int
		err := ignoringEINTR(func() (err error) {
			n, err = unix.Writev(fd, bufs)
			return err
		})
		if err == nil && n == 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			return &fs.PathError{Op: "write", Path: f.Name(), Err: err}
		}
		bufs = advance(bufs, n)
	}
}
