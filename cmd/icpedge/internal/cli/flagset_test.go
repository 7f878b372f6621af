package cli

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

func newTestSet() (*FlagSet, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	fs := NewFlagSet("try", "try [--n N] [ARG...]", &stdout, &stderr)
	fs.Int("n", -1, "how many (default the config's, or 10)")
	fs.String("name", "x", "a `name`")
	fs.Bool("json", false, "print JSON")
	return fs, &stdout, &stderr
}

func TestParse(t *testing.T) {
	t.Run("help on stdout, once, status 0", func(t *testing.T) {
		fs, stdout, stderr := newTestSet()
		ok, code := fs.ParseArgs([]string{"--help"})
		if ok || code != StatusHelp {
			t.Fatalf("ParseArgs(--help) = %v, %d; want false, %d", ok, code, StatusHelp)
		}
		if stderr.Len() != 0 {
			t.Errorf("stderr %q; want nothing", stderr)
		}
		if n := strings.Count(stdout.String(), "usage: icpedge try"); n != 1 {
			t.Errorf("usage printed %d times; want 1:\n%s", n, stdout)
		}
	})
	t.Run("usage error on stderr, status 2", func(t *testing.T) {
		fs, stdout, stderr := newTestSet()
		ok, code := fs.ParseArgs([]string{"--nope"})
		if ok || code != StatusUsage {
			t.Fatalf("ParseArgs(--nope) = %v, %d; want false, %d", ok, code, StatusUsage)
		}
		if stdout.Len() != 0 {
			t.Errorf("stdout %q; want nothing", stdout)
		}
		for _, want := range []string{"flag provided but not defined: -nope", "usage: icpedge try"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr %q; want %q in it", stderr, want)
			}
		}
	})
	t.Run("arguments refused", func(t *testing.T) {
		fs, _, stderr := newTestSet()
		if ok, code := fs.ParseFlagsOnly([]string{"--json", "extra"}); ok || code != StatusUsage {
			t.Fatalf("ParseFlagsOnly = %v, %d; want false, %d", ok, code, StatusUsage)
		}
		want := "icpedge try: unexpected arguments: extra\nrun \"icpedge try --help\" for usage\n"
		if stderr.String() != want {
			t.Errorf("stderr %q; want %q", stderr, want)
		}
	})
	t.Run("interleaved", func(t *testing.T) {
		fs, _, _ := newTestSet()
		rest, ok, _ := fs.ParseInterleaved([]string{"a", "--json", "b", "--name", "y", "--", "--c"})
		if !ok || !slices.Equal(rest, []string{"a", "b", "--c"}) {
			t.Fatalf("ParseInterleaved = %q, %v; want [a b --c], true", rest, ok)
		}
		if got := fs.Lookup("name").Value.String(); got != "y" {
			t.Errorf("--name %q; want y", got)
		}
		if !fs.Given("json") || fs.Given("n") {
			t.Errorf("Given(json) = %v, Given(n) = %v; want true, false", fs.Given("json"), fs.Given("n"))
		}
	})
}

func TestPrintUsageDefaults(t *testing.T) {
	fs, _, _ := newTestSet()
	var b bytes.Buffer
	fs.PrintUsage(&b)
	want := "usage: icpedge try [--n N] [ARG...]\n\n" +
		"  -json\n    \tprint JSON\n" +
		"  -n int\n    \thow many (default the config's, or 10)\n" +
		"  -name name\n    \ta name (default \"x\")\n"
	if b.String() != want {
		t.Errorf("usage\n%s; want\n%s", b.String(), want)
	}
}

func TestCommaList(t *testing.T) {
	var l CommaList
	for _, v := range []string{"a, b", "", " c ,"} {
		l.Set(v)
	}
	if !slices.Equal(l, CommaList{"a", "b", "c"}) {
		t.Errorf("got %q; want [a b c]", l)
	}
	var r Repeated
	r.Set("h:443:1.2.3.4")
	r.Set("h:80:1.2.3.4")
	if r.String() != "h:443:1.2.3.4 h:80:1.2.3.4" {
		t.Errorf("got %q; want both entries", r.String())
	}
}

func ExampleFlagSet() {
	fs := NewFlagSet("purge", "purge URL", os.Stdout, os.Stderr)
	fs.Bool("all", false, "purge everything")
	fs.ParseArgs([]string{"-h"})
	// Output:
	// usage: icpedge purge URL
	//
	//   -all
	//     	purge everything
}
