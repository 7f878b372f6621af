package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateArgument: the file may be the argument, as with nginx -t -c
// or caddy validate, and flags go before or after it.
func TestValidateArgument(t *testing.T) {
	path := writeConfig(t, reloadConfig("http://127.0.0.1:1", testICP, ""))
	for _, args := range [][]string{{"validate", path}, {"validate", "--config", path}} {
		out, errOut, code := runBinary(t, args...)
		if code != 0 || !strings.HasPrefix(out, path+": ok\n") {
			t.Errorf("%s: exit %d, %q, %q; want 0 and %q first", strings.Join(args, " "), code, out, errOut, path+": ok")
		}
	}
	if _, errOut, code := runBinary(t, "validate", path, path); code != 2 || !strings.Contains(errOut, "unexpected arguments") {
		t.Errorf("two files: exit %d, %q; want a usage error", code, errOut)
	}
}

// TestValidateConfigDir: every file is checked, one line each, and then
// the files together as one process takes them: a host in two files and
// a listener other than the process's are problems.
func TestValidateConfigDir(t *testing.T) {
	dir := t.TempDir()
	client := func(host, listen string) string {
		return fmt.Sprintf("hosts: [%s]\norigin: https://www.client.test\nlisten:\n  http: %q\nnotice:\n  icp: %s\n", host, listen, testICP)
	}
	write := func(name, yaml string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", client("a.example.test", ":80"))
	write("b.yaml", client("b.example.test", ":80"))
	out, errOut, code := runBinary(t, "validate", "--config-dir", dir)
	if code != 0 {
		t.Fatalf("two good files: exit %d\n%s%s; want 0", code, out, errOut)
	}
	want := filepath.Join(dir, "a.yaml") + ": ok\n" + filepath.Join(dir, "b.yaml") + ": ok\n" + dir + ": ok together (2 clients"
	if !strings.HasPrefix(out, want) {
		t.Errorf("stdout %q; want it to start %q", out, want)
	}

	write("c.yaml", client("A.example.test", ":80"))
	write("d.yaml", client("d.example.test", "127.0.0.1:8080"))
	write("e.yaml", strings.Replace(client("e.example.test", ":80"), testICP, "ICP 123", 1))
	out, errOut, code = runBinary(t, "validate", "--config-dir", dir)
	if code != 1 {
		t.Fatalf("files that disagree: exit %d; want 1\n%s%s", code, out, errOut)
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		mustContain(t, out, filepath.Join(dir, name+".yaml")+": ok\n")
	}
	if strings.Contains(out, "e.yaml: ok") || strings.Contains(out, "ok together") {
		t.Errorf("stdout %q; want no ok for e.yaml nor for the set", out)
	}
	for _, want := range []string{
		filepath.Join(dir, "e.yaml") + ":6: notice.icp",
		filepath.Join(dir, "c.yaml") + ":1: hosts: a.example.test is also in " + filepath.Join(dir, "a.yaml"),
		filepath.Join(dir, "d.yaml") + `:4: listen.http: "127.0.0.1:8080" but the process listens on ":80" (--listen-http)`,
	} {
		mustContain(t, errOut, want)
	}
	// The process's own listener, as serve's flag gives it.
	os.Remove(filepath.Join(dir, "c.yaml"))
	os.Remove(filepath.Join(dir, "e.yaml"))
	_, errOut, _ = runBinary(t, "validate", "--config-dir", dir, "--listen-http", "127.0.0.1:8080")
	mustContain(t, errOut, filepath.Join(dir, "a.yaml")+`:4: listen.http: ":80" but the process listens on "127.0.0.1:8080"`)
}
