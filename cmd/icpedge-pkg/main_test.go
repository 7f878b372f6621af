package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// want is what both packages must install.
var want = []string{
	"/usr/bin/icpedge",
	"/usr/lib/systemd/system/icpedge@.service",
	"/usr/lib/systemd/system/icpedge.service",
	"/usr/lib/sysusers.d/icpedge.conf",
	"/usr/lib/tmpfiles.d/icpedge.conf",
	"/usr/share/doc/icpedge/example.yaml",
	"/etc/icpedge/sites",
}

// lister returns the command that lists a package's files, skipping (or,
// in CI, failing) when its tool is missing.
func lister(t *testing.T, tool string) string {
	t.Helper()
	bin, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed; .ci/run installs it", tool)
		}
		t.Skipf("%s not installed", tool)
	}
	return bin
}

func TestPackages(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	paths, err := build(root, out, "1.2.3", runtime.GOARCH, []string{"deb", "rpm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || !strings.HasSuffix(paths[0], ".deb") || !strings.HasSuffix(paths[1], ".rpm") {
		t.Fatalf("got %v; want a .deb and an .rpm", paths)
	}

	t.Run("deb", func(t *testing.T) {
		bin := lister(t, "dpkg-deb")
		contents, err := exec.Command(bin, "--contents", paths[0]).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb --contents: %v\n%s", err, contents)
		}
		t.Logf("dpkg-deb --contents %s:\n%s", filepath.Base(paths[0]), contents)
		for _, f := range want {
			if !strings.Contains(string(contents), "."+f) {
				t.Errorf("deb lacks %s", f)
			}
		}
		if !strings.Contains(string(contents), "-rwxr-xr-x root/root") {
			t.Error("the binary is not an executable owned by root")
		}
		info, err := exec.Command(bin, "--field", paths[0], "Version", "Architecture").CombinedOutput()
		if err != nil || !strings.Contains(string(info), "Version: 1.2.3") {
			t.Errorf("dpkg-deb --field: %v %s; want version 1.2.3", err, info)
		}
	})
	t.Run("rpm", func(t *testing.T) {
		bin := lister(t, "rpm")
		contents, err := exec.Command(bin, "-qlp", paths[1]).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm -qlp: %v\n%s", err, contents)
		}
		t.Logf("rpm -qlp %s:\n%s", filepath.Base(paths[1]), contents)
		for _, f := range want {
			if !strings.Contains(string(contents), f+"\n") {
				t.Errorf("rpm lacks %s", f)
			}
		}
	})
	t.Run("binary", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("the packaged binary is for linux")
		}
		v, err := exec.Command(filepath.Join(out, "build", runtime.GOARCH, "icpedge"), "version").CombinedOutput()
		if err != nil || strings.TrimSpace(string(v)) != "icpedge v1.2.3" {
			t.Errorf("icpedge version: %v %q; want icpedge v1.2.3", err, v)
		}
	})
}
