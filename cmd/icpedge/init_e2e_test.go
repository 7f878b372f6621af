package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitOutElsewhereE2E: a config written outside the units'
// directories gets the commands to try it by hand and to install it
// where a unit reads it, with its absolute path, not the /etc/icpedge
// unit's start command as if it were there.
func TestInitOutElsewhereE2E(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binPath, "init", "--name", "acme", "--host", "icp.acme.example", "--origin", "https://www.acme.com",
		"--icp", testICP, "--out", "acme.yaml")
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("init: %v\n%s", err, errOut.String())
	}
	abs := filepath.Join(dir, "acme.yaml")
	for _, want := range []string{
		"wrote acme.yaml\n",
		"icpedge serve --config " + abs,
		"install -m 0640 " + abs + " /etc/icpedge/acme.yaml && systemctl enable --now icpedge@acme",
		"install -m 0640 " + abs + " /etc/icpedge/sites/acme.yaml && systemctl reload icpedge",
		"icpedge check --config " + abs,
	} {
		mustContain(t, out.String(), want)
	}
	if strings.Contains(out.String(), "Start it:") {
		t.Errorf("steps for a file outside /etc/icpedge say to start the unit as if it were there:\n%s", out.String())
	}
}
