// Command icpedge is the ICP edge server: it serves a client's filed domain
// from a mainland host, proxying and caching the client's overseas origin and
// putting the ICP notice on every page.
//
// Each subcommand is a file here that parses its flags and calls a
// package: the running edge is cmd/icpedge/internal/edge, the checks
// cmd/icpedge/internal/compliance.
package main

import (
	"fmt"
	"io"
	"os"
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
		{"validate", "check a config file, or a directory of them, and report every problem", validateMain},
		{"reload", "check the config, have the running edge reload it, and report the outcome", reloadMain},
		{"init", "write the config for a new client and print the steps left", initMain},
		{"purge", "remove URLs from a running instance's cache", purgeMain},
		{"warm", "fill a running instance's cache with every page of the site's sitemap", warmMain},
		{"check", "check that sites keep their ICP filing: notice, apex, DNS, certificate", checkMain},
		{"demo", "run a sample origin and the edge in front of it, no network needed", demoMain},
		{"version", "print the version, the Go version and the source revision", versionMain},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run follows the conventions of go and kubectl: help asked for goes to
// stdout with status 0; a usage error goes to stderr with status 2.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "-v", "-version", "--version":
		return versionMain(args[1:], stdout, stderr)
	case "help":
		// "icpedge help serve" is "icpedge serve --help".
		if len(args) > 1 {
			if c, ok := lookup(args[1]); ok {
				return c.run([]string{"--help"}, stdout, stderr)
			}
			fmt.Fprintf(stderr, "icpedge help: unknown command %q\n\n", args[1])
			usage(stderr)
			return 2
		}
		usage(stdout)
		return 0
	}
	if c, ok := lookup(args[0]); ok {
		return c.run(args[1:], stdout, stderr)
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "icpedge: unknown flag %s\n\n", args[0])
	} else {
		fmt.Fprintf(stderr, "icpedge: unknown command %q\n\n", args[0])
	}
	usage(stderr)
	return 2
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: icpedge <command> [flags]")
	fmt.Fprintln(w, "       icpedge --version")
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
