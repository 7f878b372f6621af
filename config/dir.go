package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadDir loads every *.yaml file in dir, one client per file, in name
// order (serve --config-dir). A file that does not load is returned in
// broken, by client name, with its problems; the error is for a
// directory that cannot be read at all.
func LoadDir(dir string) (cfgs []*Config, broken map[string]error, err error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, nil, fmt.Errorf("reading config directory %s: %w", dir, err)
	}
	if err := readableDir(dir); err != nil {
		return nil, nil, err
	}
	broken = map[string]error{}
	for _, p := range paths {
		name := nameOf(p)
		if strings.HasPrefix(name, ".") {
			continue // editors' and package managers' temporary files
		}
		cfg, err := Load(p)
		if err != nil {
			broken[name] = err
			continue
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, broken, nil
}

// readableDir reports a config directory that is missing or not a directory.
func readableDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("reading config directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("config directory %s is not a directory", dir)
	}
	return nil
}

// Name names the client of a config after its file: client.yaml is
// "client".
func (c *Config) Name() string { return nameOf(c.File) }

// Names reports whether host (lower-case, no port) is one of the client's
// edge hosts or one of its origin's names (rewrite_hosts, origin_host):
// the names by which a purge, from the edge's side or the origin's,
// reaches this client.
func (c *Config) Names(host string) bool {
	return slices.Contains(c.Hosts, host) || slices.Contains(c.RewriteHosts, host) || c.OriginHost == host
}

func nameOf(path string) string {
	base := filepath.Base(path)
	for _, ext := range []string{".yaml", ".yml"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// CheckSet checks the configs of one --config-dir process together, as
// the process will take them: each host is served by one file, and a
// file's listen addresses are the process's (listen, its --listen-http
// and --listen-https) or empty. It returns every problem, each naming
// the file and line where it is; nil means the set would be served
// whole.
func CheckSet(cfgs []*Config, listen Listen) error {
	var problems []error
	owner := map[string]*Config{}
	for _, c := range cfgs {
		for i, h := range c.Hosts {
			h = strings.ToLower(h)
			if o := owner[h]; o != nil && o != c {
				problems = append(problems, &Problem{File: c.File, Line: c.Line(fmt.Sprintf("hosts[%d]", i)), Key: "hosts",
					Message: fmt.Sprintf("%s is also in %s; expected each host in one file (the process serves it from one client)", h, o.File)})
				continue
			}
			owner[h] = c
		}
		for _, l := range []struct{ key, flag, got, want string }{
			{"listen.http", "--listen-http", c.Listen.HTTP, listen.HTTP},
			{"listen.https", "--listen-https", c.Listen.HTTPS, listen.HTTPS},
		} {
			if l.got != "" && l.got != l.want {
				problems = append(problems, &Problem{File: c.File, Line: c.Line(l.key), Key: l.key,
					Message: fmt.Sprintf("%q but the process listens on %q (%s); expected the same address, or none", l.got, l.want, l.flag)})
			}
		}
	}
	return errors.Join(problems...)
}
