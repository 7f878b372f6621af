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

// TestInitNextSteps: the steps fit the units' directories.
func TestInitNextSteps(t *testing.T) {
	for _, tt := range []struct {
		out, name string
		admin     bool
		want, not []string
	}{
		{"/etc/icpedge/acme.yaml", "acme", true,
			[]string{"systemctl enable --now icpedge@acme", "icpedge reload --config /etc/icpedge/acme.yaml", "icpedge check --config /etc/icpedge/acme.yaml"},
			[]string{"sites", "named after the file", "install"}},
		{"/etc/icpedge/globex.yaml", "acme", true,
			[]string{"systemctl enable --now icpedge@globex", "named after the file: icpedge@globex, its state in /var/lib/icpedge/globex"},
			[]string{"icpedge@acme"}},
		{"/etc/icpedge/sites/acme.yaml", "acme", true,
			[]string{"icpedge validate --config-dir /etc/icpedge/sites", "systemctl reload icpedge ", "admin keys are not used", "icpedge check --config /etc/icpedge/sites/acme.yaml"},
			[]string{"icpedge@"}},
		{"/etc/icpedge/sites/acme.yaml", "acme", false, nil, []string{"admin keys"}},
		{"-", "acme", true, []string{"systemctl enable --now icpedge@acme", "icpedge check --config /etc/icpedge/acme.yaml"}, nil},
	} {
		var b bytes.Buffer
		nextSteps(&b, tt.out, tt.name, []string{"icp.acme.example"}, tt.admin)
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("--out %s: steps lack %q:\n%s", tt.out, w, b.String())
			}
		}
		for _, w := range tt.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("--out %s: steps contain %q:\n%s", tt.out, w, b.String())
			}
		}
	}
}
