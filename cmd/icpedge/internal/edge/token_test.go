package edge

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTruncatedToken(t *testing.T) {
	for content, want := range map[string]bool{
		"":         true,
		" \n\t":    true,
		"0123abcd": true, // a generated token cut short
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef":   false, // whole, newline lost
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n": false,
		"0123abcd\n":      false, // complete as written: an operator's
		"operator-secret": false,
		"ABCDEF":          false,
	} {
		if got := truncatedToken([]byte(content)); got != want {
			t.Errorf("truncatedToken(%q) = %v; want %v", content, got, want)
		}
	}
}

// TestWriteFileAtomicFailure: a write that can't complete leaves the old
// file as it was and no temporary file behind.
func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory where the file should go: the rename fails
	// after the data was written and synced.
	target := filepath.Join(dir, "admin.token")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(target, []byte("new\n"), 0o600); err == nil {
		t.Fatal("writeFileAtomic over a non-empty directory: got nil; want an error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "admin.token" {
		t.Errorf("directory after the failed write: %v; want only the untouched target", entries)
	}

	ok := filepath.Join(dir, "other.token")
	if err := os.WriteFile(ok, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(ok, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(ok); string(b) != "new\n" {
		t.Errorf("after writeFileAtomic: %q; want %q", b, "new\n")
	}
	if fi, _ := os.Stat(ok); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v; want 0600", fi.Mode().Perm())
	}
}
