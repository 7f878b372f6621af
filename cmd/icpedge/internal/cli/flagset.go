package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Exit statuses a parse ends a command with.
const (
	StatusHelp  = 0 // --help: the usage was printed on stdout
	StatusUsage = 2 // a usage error: reported on stderr
)

// FlagSet is a subcommand's flags, and what its usage says.
type FlagSet struct {
	*flag.FlagSet
	synopsis       string
	stdout, stderr io.Writer
}

// NewFlagSet returns the flag set of the subcommand name, whose usage
// begins "usage: icpedge synopsis". Its parse methods print the usage
// once: on stdout for --help, on stderr after a usage error.
func NewFlagSet(name, synopsis string, stdout, stderr io.Writer) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Parse writes an error here, and calls Usage for --help and after
	// an error; ParseArgs prints the usage itself, to where it belongs.
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	return &FlagSet{FlagSet: fs, synopsis: synopsis, stdout: stdout, stderr: stderr}
}

// ParseArgs parses the flags of args, leaving the arguments after them
// in Args, and reports whether the command should go on. When it should
// not, code is the exit status: StatusHelp after --help, StatusUsage
// after a usage error.
func (fs *FlagSet) ParseArgs(args []string) (ok bool, code int) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.PrintUsage(fs.stdout)
		return false, StatusHelp
	case err != nil:
		fmt.Fprintln(fs.stderr)
		fs.PrintUsage(fs.stderr)
		return false, StatusUsage
	}
	return true, 0
}

// ParseFlagsOnly is ParseArgs for a command that takes no arguments
// besides flags.
func (fs *FlagSet) ParseFlagsOnly(args []string) (ok bool, code int) {
	if ok, code := fs.ParseArgs(args); !ok {
		return false, code
	}
	if fs.NArg() > 0 {
		return fs.UsageError("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return true, 0
}

// ParseInterleaved parses flags that may come before, between or after
// the arguments, and returns the arguments. A "--" ends the flags.
func (fs *FlagSet) ParseInterleaved(args []string) (rest []string, ok bool, code int) {
	for {
		if ok, code := fs.ParseArgs(args); !ok {
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

// UsageError reports a usage error on stderr, and returns the parse
// methods' results for it.
func (fs *FlagSet) UsageError(format string, args ...any) (ok bool, code int) {
	fmt.Fprintf(fs.stderr, "icpedge %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(fs.stderr, "run \"icpedge %s --help\" for usage\n", fs.Name())
	return false, StatusUsage
}

// Given reports whether any of the flags names was on the command line.
func (fs *FlagSet) Given(names ...string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		for _, n := range names {
			set = set || f.Name == n
		}
	})
	return set
}

// PrintUsage prints the synopsis and the flags, as flag.PrintDefaults
// does, except that a default the flag's own text already states (as
// "(default ...)") is not stated twice.
func (fs *FlagSet) PrintUsage(w io.Writer) {
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
