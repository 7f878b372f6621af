package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// buildRevision is the VCS revision the binary was built from, with
// "(modified)" when the tree had uncommitted changes, as the go command
// records them (-buildvcs); "unknown" when it did not.
func buildRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return revision(bi.Settings)
}

// revision reads vcs.revision and vcs.modified from a build's settings.
func revision(settings []debug.BuildSetting) string {
	rev, modified := "unknown", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified {
		rev += " (modified)"
	}
	return rev
}

// versionMain is "icpedge version", "icpedge --version" and "icpedge -v".
func versionMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("version", "version", stdout, stderr)
	if ok, code := fs.ParseFlagsOnly(args); !ok {
		return code
	}
	fmt.Fprintf(stdout, "icpedge %s\n", buildVersion())
	fmt.Fprintf(stdout, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(stdout, "revision: %s\n", buildRevision())
	return 0
}
