// Command icpedge is the ICP edge server: it serves a client's filed domain
// from a mainland host, proxying and caching the client's overseas origin and
// putting the ICP notice on every page.
//
// Each subcommand is a file here that parses its flags and calls a
// package: the running edge is cmd/icpedge/internal/edge, the checks
// cmd/icpedge/internal/compliance.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
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

// flagSet is a subcommand's flags, and what its usage says.
type flagSet struct {
	*flag.FlagSet
	synopsis       string
	stdout, stderr io.Writer
}

// newFlagSet returns the flag set of a subcommand. Its parse methods
// print the usage once: on stdout for --help, on stderr after a usage
// error.
func newFlagSet(name, synopsis string, stdout, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Parse writes an error here, and calls Usage for --help and after
	// an error; parse prints the usage itself, to where it belongs.
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, stdout: stdout, stderr: stderr}
}

// parse parses the flags of args, leaving the arguments after them in
// Args, and reports whether the command should go on. When it should
// not, code is the exit status: 0 after --help, 2 after a usage error.
func (fs *flagSet) parse(args []string) (ok bool, code int) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.printUsage(fs.stdout)
		return false, 0
	case err != nil:
		fmt.Fprintln(fs.stderr)
		fs.printUsage(fs.stderr)
		return false, 2
	}
	return true, 0
}

// parseAll is parse for a command that takes no arguments besides flags.
func (fs *flagSet) parseAll(args []string) (ok bool, code int) {
	if ok, code := fs.parse(args); !ok {
		return false, code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return true, 0
}

// parseInterleaved parses flags that may come before, between or after
// the arguments, and returns the arguments.
func (fs *flagSet) parseInterleaved(args []string) (rest []string, ok bool, code int) {
	for {
		if ok, code := fs.parse(args); !ok {
			return nil, false, code
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, true, 0
		}
		if args[0] == "--" {
			return append(rest, args[1:]...), true, 0
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// usageError reports a usage error on stderr, and returns parse's
// results for it.
func (fs *flagSet) usageError(format string, args ...any) (ok bool, code int) {
	fmt.Fprintf(fs.stderr, "icpedge %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(fs.stderr, "run \"icpedge %s --help\" for usage\n", fs.Name())
	return false, 2
}

// printUsage prints the synopsis and the flags, as flag.PrintDefaults
// does, except that a default the flag's own text already states (as
// "(default ...)") is not stated twice.
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: icpedge %s\n\n", fs.synopsis)
	fs.VisitAll(func(f *flag.Flag) {
		name, text := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		if len(line) <= 4 {
			line += "\t" // a one-letter flag without a value: text on the same line
		} else {
			line += "\n    \t"
		}
		line += strings.ReplaceAll(text, "\n", "\n    \t")
		if !strings.Contains(text, "(default ") && !zeroDefault(f) {
			if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" {
				line += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				line += fmt.Sprintf(" (default %v)", f.DefValue)
			}
		}
		fmt.Fprintln(w, line)
	})
}

// zeroDefault reports whether f's default is its type's zero value,
// which usage leaves unsaid, as flag.PrintDefaults does.
func zeroDefault(f *flag.Flag) (zero bool) {
	t := reflect.TypeOf(f.Value)
	var z reflect.Value
	if t.Kind() == reflect.Pointer {
		z = reflect.New(t.Elem())
	} else {
		z = reflect.Zero(t)
	}
	v, ok := z.Interface().(flag.Value)
	if !ok {
		return f.DefValue == ""
	}
	defer func() {
		if recover() != nil {
			zero = f.DefValue == ""
		}
	}()
	return f.DefValue == v.String()
}
