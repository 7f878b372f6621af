package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteNew writes data, a config file, to path (mode 0640, the directory
// made if needed), refusing to replace an existing file unless force is
// set. The file is written beside and renamed into place, so a running
// instance reloading at that moment reads the old file or the new one.
func WriteNew(path string, data []byte, force bool) error {
	if _, err := os.Lstat(path); err == nil && !force {
		return fmt.Errorf("%s exists; not overwriting it without --force", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the config directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o640)
	}
	if fi, serr := os.Stat(filepath.Dir(path)); err == nil && serr == nil {
		// The group of its directory, as a setgid directory would give:
		// /etc/icpedge is root:icpedge 0750, so the service, which runs
		// as icpedge, reads a file init wrote there as root. Where that
		// is not allowed (not root, not in the group), the file keeps
		// the writer's group.
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			_ = tmp.Chown(-1, int(st.Gid))
		}
	}
	if err := errors.Join(err, tmp.Close()); err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	if !force {
		// Link rather than rename: it fails if the file appeared meanwhile.
		if err := os.Link(tmp.Name(), path); err != nil {
			return fmt.Errorf("writing the config: %w", err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	return nil
}
