package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// LoadDir loads every *.yaml file, reports a broken one by name without
// stopping, and leaves out dot files and other extensions.
func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"b.yaml":       file(nil),
		"a.yaml":       file(map[int]string{1: "hosts: [a.client.com]"}),
		"broken.yaml":  file(map[int]string{2: "origin: ftp://x"}),
		".a.yaml.swp":  []byte("junk"),
		".tmp.yaml":    []byte("junk: ["),
		"notes.txt":    []byte("junk"),
		"c.yaml.dpkg~": []byte("junk"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgs, broken, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cfgs {
		names = append(names, c.Name())
	}
	if !slices.Equal(names, []string{"a", "b"}) {
		t.Errorf("loaded: got %q; want [a b]", names)
	}
	if len(broken) != 1 || broken["broken"] == nil || !strings.Contains(broken["broken"].Error(), "broken.yaml:2: origin") {
		t.Errorf("broken: got %v; want broken.yaml's origin problem only", broken)
	}

	for _, bad := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "b.yaml")} {
		if _, _, err := LoadDir(bad); err == nil {
			t.Errorf("LoadDir(%s): got nil; want an error", bad)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{1000, "1000"},
		{1024, "1KiB"},
		{64 << 20, "64MiB"},
		{3 << 30, "3GiB"},
		{1<<20 + 1, "1048577"},
	} {
		got := FormatSize(tt.n)
		if got != tt.want {
			t.Errorf("FormatSize(%d): got %q; want %q", tt.n, got, tt.want)
		}
		if back, ok := ParseSize(got); !ok || back != tt.n {
			t.Errorf("ParseSize(FormatSize(%d)): got %d, %v; want the same size", tt.n, back, ok)
		}
	}
}

// CheckSet finds what the files of one process disagree on: a host in
// two files, a listen address other than the process's.
func TestCheckSet(t *testing.T) {
	parse := func(name string, data []byte) *Config {
		t.Helper()
		c, err := Parse(name, data)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := parse("a.yaml", file(nil))
	b := parse("b.yaml", file(map[int]string{1: "hosts: [b.client.com, ICP.client.com]"}))
	c := parse("c.yaml", file(map[int]string{1: "hosts: [c.client.com]"}))
	listen := Listen{HTTP: a.Listen.HTTP, HTTPS: a.Listen.HTTPS}
	if err := CheckSet([]*Config{a, c}, listen); err != nil {
		t.Errorf("files that agree: %v; want nil", err)
	}
	err := CheckSet([]*Config{a, b, c}, Listen{HTTP: "127.0.0.1:8080", HTTPS: listen.HTTPS})
	if err == nil {
		t.Fatal("files that disagree: nil; want problems")
	}
	got := err.Error()
	for _, want := range []string{
		"b.yaml:1: hosts: icp.client.com is also in a.yaml; expected each host in one file",
		`a.yaml:4: listen.http: "` + a.Listen.HTTP + `" but the process listens on "127.0.0.1:8080" (--listen-http)`,
		`c.yaml:4: listen.http:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got %q; want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "listen.https") {
		t.Errorf("got %q; want no listen.https problem (it agrees)", got)
	}
}

// A client answers to its edge hosts and to its origin's names, and to
// nothing else.
func TestNames(t *testing.T) {
	c := &Config{Hosts: []string{"icp.client.com", "client.com"}, RewriteHosts: []string{"www.client.com"}, OriginHost: "origin.client.com"}
	for host, want := range map[string]bool{
		"icp.client.com": true, "client.com": true, "www.client.com": true, "origin.client.com": true,
		"other.com": false, "": false, "ICP.client.com": false,
	} {
		if got := c.Names(host); got != want {
			t.Errorf("Names(%q) = %v; want %v", host, got, want)
		}
	}
}
