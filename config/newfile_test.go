package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteNew makes the directory, writes the file 0640, keeps an existing
// file unless forced, and leaves no temporary file behind.
func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "acme.yaml")
	if err := WriteNew(path, []byte("one\n"), false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("stat: %v, %v; want mode 0640", fi, err)
	}
	err := WriteNew(path, []byte("two\n"), false)
	if err == nil || !strings.Contains(err.Error(), "exists; not overwriting it without --force") {
		t.Errorf("second write: err %v; want a refusal naming --force", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "one\n" {
		t.Errorf("after a refused write the file holds %q; want %q", got, "one\n")
	}
	if err := WriteNew(path, []byte("two\n"), true); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "two\n" {
		t.Errorf("after a forced write the file holds %q; want %q", got, "two\n")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only acme.yaml (no temporary file left)", len(entries))
	}
}
