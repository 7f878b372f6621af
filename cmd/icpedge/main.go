// Command icpedge is the ICP edge server: it serves a client's filed domain
// from a mainland host, proxying and caching the client's overseas origin and
// putting the ICP notice on every page.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// command is one subcommand of icpedge.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "serve a client instance from its config file", serveMain},
		{"validate", "check a config file and report every problem", validateMain},
		{"init", "write the config for a new client and print the steps left", initMain},
		{"purge", "remove URLs from a running instance's cache", purgeMain},
		{"warm", "fill a running instance's cache with every page of the site's sitemap", warmMain},
		{"check", "check that sites keep their ICP filing: notice, apex, DNS, certificate", checkMain},
		{"demo", "run a sample origin and the edge in front of it, no network needed", demoMain},
		{"version", "print the version", versionMain},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "icpedge: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: icpedge <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `run "icpedge <command> --help" for a command's flags`)
}

// newFlagSet returns a flag set whose --help prints usage to stdout and whose
// errors go to stderr.
func newFlagSet(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage: icpedge %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and reports whether the command should go on. When
// it should not, code is the exit status.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (ok bool, code int) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return false, 0
	}
	if err != nil {
		return false, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "icpedge %s: unexpected arguments: %s\n", fs.Name(), strings.Join(fs.Args(), " "))
		return false, 2
	}
	return true, 0
}

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

func versionMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "version", stdout, stderr)
	if ok, code := parseFlags(fs, args, stdout); !ok {
		return code
	}
	fmt.Fprintf(stdout, "icpedge %s\n", buildVersion())
	return 0
}
