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

// execLine returns the command of a unit's key (ExecStart=...), its
// continuation lines joined.
func execLine(t *testing.T, unit, key string) []string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("%s: no %s=", unit, key)
	return nil
}

// TestUnitsReload: systemctl reload runs icpedge reload, which reports
// the outcome, on the files and admin listener the service serves with,
// and falls back to SIGHUP of $MAINPID when the admin listener is off.
func TestUnitsReload(t *testing.T) {
	for _, u := range units {
		start, reload := execLine(t, u, "ExecStart"), execLine(t, u, "ExecReload")
		if len(reload) < 2 || reload[0] != "/usr/bin/icpedge" || reload[1] != "reload" {
			t.Errorf("%s: ExecReload=%s; want /usr/bin/icpedge reload …", u, strings.Join(reload, " "))
			continue
		}
		flags := func(args []string) map[string]string {
			m := map[string]string{}
			for i := 0; i+1 < len(args); i++ {
				if strings.HasPrefix(args[i], "--") {
					m[args[i]] = args[i+1]
				}
			}
			return m
		}
		s, r := flags(start), flags(reload)
		for _, f := range []string{"--config", "--config-dir", "--listen-http", "--listen-https", "--admin", "--admin-token-file"} {
			if s[f] != r[f] {
				t.Errorf("%s: %s is %q in ExecStart but %q in ExecReload; want the same", u, f, s[f], r[f])
			}
		}
		if r["--pid"] != "$MAINPID" {
			t.Errorf("%s: ExecReload --pid %q; want $MAINPID", u, r["--pid"])
		}
	}
}
