package main

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// runBinary runs the built icpedge with args and returns its stdout,
// stderr and exit status.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running icpedge %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// icpedge --version and -v are icpedge version: the version, the Go
// version and the revision the binary was built from, as its build
// information records them.
func TestCLIVersion(t *testing.T) {
	bi, err := buildinfo.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	wantRev := revision(bi.Settings)
	want, _, code := runBinary(t, "version")
	if code != 0 {
		t.Fatalf("icpedge version: exit %d; want 0", code)
	}
	for _, line := range []string{"icpedge ", "go: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n", "revision: " + wantRev + "\n"} {
		if !strings.Contains(want, line) {
			t.Errorf("icpedge version: got %q; want it to contain %q", want, line)
		}
	}
	for _, args := range [][]string{{"--version"}, {"-v"}, {"-version"}} {
		out, errOut, code := runBinary(t, args...)
		if out != want || errOut != "" || code != 0 {
			t.Errorf("icpedge %s: got %q, stderr %q, exit %d; want %q, nothing, 0", args[0], out, errOut, code, want)
		}
	}
}

// Every --help prints the usage once, on stdout, with status 0.
func TestCLIHelp(t *testing.T) {
	cases := [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "serve"}}
	for _, c := range commands() {
		cases = append(cases, []string{c.name, "--help"}, []string{c.name, "-h"})
	}
	for _, args := range cases {
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			out, errOut, code := runBinary(t, args...)
			if code != 0 || errOut != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
			}
			if n := strings.Count(out, "usage: icpedge"); n != 1 {
				t.Errorf("usage printed %d times on stdout; want once:\n%s", n, out)
			}
			// A default is stated once per flag, never as flag's own
			// "(default ...)" after a text that says it already.
			for _, line := range strings.Split(out, "\n") {
				if n := strings.Count(line, "(default "); n > 1 {
					t.Errorf("default stated %d times: %q", n, line)
				}
			}
		})
	}
	out, _, _ := runBinary(t, "check", "--help")
	if !strings.Contains(out, "(default check.pages, or 10)\n") {
		t.Errorf("check --help: want --pages's default as its text says it, once:\n%s", out)
	}
	out, _, _ = runBinary(t, "serve", "--help")
	if !strings.Contains(out, `(default "127.0.0.1:9080")`) {
		t.Errorf("serve --help: want --admin's default shown:\n%s", out)
	}
}

// A usage error prints to stderr, nothing to stdout, with status 2.
func TestCLIUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "usage: icpedge"},
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"--nosuch"}, "unknown flag --nosuch"},
		{[]string{"help", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"serve", "--nosuch"}, "flag provided but not defined: -nosuch"},
		{[]string{"serve"}, "give one of --config FILE or --config-dir DIR"},
		{[]string{"validate", "--config", "a.yaml", "extra"}, "unexpected arguments: extra"},
		{[]string{"version", "extra"}, "unexpected arguments: extra"},
		{[]string{"purge", "--all"}, "give one of --config FILE or --config-dir DIR"},
		{[]string{"purge", "--config", "a.yaml", "--all", "https://x.test/"}, "give exactly one of URL, --prefix PATH or --all"},
		{[]string{"check", "--pages", "x"}, `invalid value "x" for flag -pages`},
		{[]string{"demo", "--listen"}, "flag needs an argument: -listen"},
	} {
		name := strings.Join(tt.args, " ")
		t.Run(name, func(t *testing.T) {
			out, errOut, code := runBinary(t, tt.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("got exit %d, stdout %q, stderr %q; want 2, nothing, and %q on stderr", code, out, errOut, tt.want)
			}
		})
	}
}
