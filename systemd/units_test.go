// Package systemd holds the systemd units that run icpedge, and the test
// that keeps them valid and hardened.
package systemd

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest "systemd-analyze security" exposure accepted.
const maxExposure = 2.0

var units = []string{"icpedge@.service", "icpedge.service"}

func analyze(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze not installed; .ci/run installs it")
		}
		t.Skip("systemd-analyze not installed")
	}
	return bin
}

// TestUnitsVerify runs systemd-analyze verify: the only complaint allowed is
// that /usr/bin/icpedge is missing, as it is on a build machine.
func TestUnitsVerify(t *testing.T) {
	bin := analyze(t)
	for _, u := range units {
		out, _ := exec.Command(bin, "verify", "./"+u).CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" || strings.Contains(line, "Command /usr/bin/icpedge is not executable") {
				continue
			}
			t.Errorf("%s: systemd-analyze verify: %s", u, line)
		}
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// TestUnitsSecurity keeps each unit's exposure at maxExposure or lower.
func TestUnitsSecurity(t *testing.T) {
	bin := analyze(t)
	for _, u := range units {
		out, err := exec.Command(bin, "security", "--offline=true", "--no-pager", "./"+u).CombinedOutput()
		m := exposureRE.FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s: systemd-analyze security: %v\n%s", u, err, out)
		}
		got, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: exposure %.1f", u, got)
		if got > maxExposure {
			t.Errorf("%s: exposure %.1f; want %.1f or lower\n%s", u, got, maxExposure, out)
		}
	}
}
