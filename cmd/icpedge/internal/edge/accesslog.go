package edge

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/icpedge/icpedge/config"
)

// reopenFile is an append-only log file that can be reopened after
// logrotate has moved it away (on SIGHUP).
type reopenFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openLogFile(path string) (*reopenFile, error) {
	r := &reopenFile{path: path}
	if err := r.Reopen(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *reopenFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Write(p)
}

// Reopen opens the path anew; the old file is closed once the new one is
// open, so no line is lost if the reopen fails.
func (r *reopenFile) Reopen() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("opening log.access_file: %w", err)
	}
	r.mu.Lock()
	old := r.f
	r.f = f
	r.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

func (r *reopenFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}

// accessLoggerFor returns the logger for access lines written to the main
// log and to f, an open log.access_file.
func accessLoggerFor(c config.Log, logger *slog.Logger, f *reopenFile) *slog.Logger {
	var fh slog.Handler = slog.NewTextHandler(f, nil)
	if c.Format == "json" {
		fh = slog.NewJSONHandler(f, nil)
	}
	return slog.New(slog.NewMultiHandler(logger.Handler(), fh))
}
