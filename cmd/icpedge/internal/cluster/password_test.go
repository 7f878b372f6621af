package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPasswordFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          string
		wantErr       string // part of the error; "" for none
	}{
		{name: "plain", content: "s3cret", want: "s3cret"},
		{name: "newline", content: "s3cret\n", want: "s3cret"},
		{name: "crlf", content: "s3cret\r\n", want: "s3cret"},
		{name: "spaces", content: "  s3cret \t\n", want: "s3cret"},
		{name: "second line ignored", content: "s3cret\n# rotated 2024-05\nold\n", want: "s3cret"},
		{name: "inner space kept", content: "two words\n", want: "two words"},
		{name: "longest line", content: strings.Repeat("p", maxPasswordFile) + "\n", want: strings.Repeat("p", maxPasswordFile)},
		{name: "empty", content: "", wantErr: "first line is empty"},
		{name: "blank first line", content: "\ns3cret\n", wantErr: "first line is empty"},
		{name: "too long", content: strings.Repeat("p", maxPasswordFile+1), wantErr: "longer than 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(file, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadPasswordFile(file)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "cluster.password_file") {
				t.Fatalf("got %q, %v; want an error naming cluster.password_file, %s and saying %q", got, err, file, tc.wantErr)
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		file := filepath.Join(dir, "nope")
		_, err := ReadPasswordFile(file)
		if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("got %v; want an error naming %s and saying it does not exist", err, file)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, err := ReadPasswordFile(dir)
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("got %v; want an error naming %s", err, dir)
		}
	})
}
