package edge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/icpedge/icpedge/proxy"
)

// purge runs an admin purge on the clients it concerns: with
// --config-dir, the one serving host (or the URL's host) when given, else
// every client. A host may be one the client serves or one of its
// origin's own names (rewrite_hosts, origin_host), as the origin's
// software names itself when it asks for a purge.
func (e *Edge) purge(p proxy.Purge, host string) (int, error) {
	total := 0
	for _, s := range e.sitesFor(p, host) {
		if !s.acquire() {
			continue
		}
		n, err := s.edge.Purge(p)
		s.release()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// names reports whether host is served by one of the clients or is one
// of their origins' names.
func (e *Edge) names(host string) bool {
	for _, s := range e.cur.Load().sites {
		if s.cfg.Names(host) {
			return true
		}
	}
	return false
}

// sitesFor are the sites a purge concerns: with --config-dir, the one
// serving host (or the URL's host) when given, else every site.
func (e *Edge) sitesFor(p proxy.Purge, host string) []*site {
	if host == "" && strings.Contains(p.URL, "://") {
		if i := strings.Index(p.URL, "://"); i >= 0 {
			host, _, _ = strings.Cut(p.URL[i+3:], "/")
		}
	}
	var out []*site
	for _, s := range e.cur.Load().sites {
		if !e.single && host != "" && !s.cfg.Names(requestHost(host)) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// loadOrCreateToken reads the admin token, creating a random one (mode
// 0600) on first start. A file that an interrupted write left empty or
// cut short (a full disk) is replaced with a new token and a warning: it
// holds no token anyone could be using.
func loadOrCreateToken(path string, logger *slog.Logger) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil && !truncatedToken(b):
		return strings.TrimSpace(string(b)), nil
	case err == nil:
		logger.Warn("admin.token_file holds no complete token; writing a new one", "file", path, "bytes", len(b))
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("reading admin.token_file: %w", err)
	}
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating admin.token_file: %w", err)
	}
	if err := writeFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing admin.token_file: %w", err)
	}
	return tok, nil
}

// tokenBytes is the size of a generated token, written as 64 hex digits
// and a newline.
const tokenBytes = 32

// truncatedToken reports whether b is what a cut-short write of a
// generated token leaves: nothing but white space, or fewer hex digits
// than a token has and no newline after them. A token an operator wrote
// is anything else, and is kept.
func truncatedToken(b []byte) bool {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return true
	}
	if len(b) >= 2*tokenBytes || strings.ContainsAny(string(b), "\n\r") {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// writeFileAtomic replaces path with data so that a crash or a full disk
// leaves either the old file or the whole new one: it writes a temporary
// file beside it, syncs it, renames it over path and syncs the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is durable only once the directory is on disk too.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
