package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/edge"
	"github.com/icpedge/icpedge/config"
)

const validateSynopsis = "validate [--config] FILE | --config-dir DIR [--listen-http ADDR] [--listen-https ADDR]"

func validateMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("validate", validateSynopsis, stdout, stderr)
	path := fs.String("config", "", "the instance's YAML config `file` (or give it as the argument)")
	dir := fs.String("config-dir", "", "check every *.yaml file in `DIR`, then the files together as one serve --config-dir process takes them")
	listen := procListenFlags(fs)
	rest, ok, code := fs.ParseInterleaved(args)
	if !ok {
		return code
	}
	if *path == "" && *dir == "" && len(rest) == 1 {
		*path, rest = rest[0], nil
	}
	switch {
	case len(rest) > 0:
		_, code := fs.UsageError("unexpected arguments: %s", strings.Join(rest, " "))
		return code
	case (*path == "") == (*dir == ""):
		_, code := fs.UsageError("give one of FILE, --config FILE or --config-dir DIR")
		return code
	case *path != "" && listen.given():
		_, code := fs.UsageError("--listen-http and --listen-https only apply with --config-dir; with --config the file sets them")
		return code
	}
	if *dir != "" {
		if _, ok := validateDir(*dir, listen.value(), stdout, stderr); !ok {
			return 1
		}
		return 0
	}
	cfg, ok := validateFile(*path, stdout, stderr)
	if !ok {
		return 1
	}
	// What the process will hold in memory, roughly.
	cacheMemory := "cache off"
	if cfg.Cache.Enabled {
		cacheMemory = "cache.memory " + config.FormatSize(cfg.Cache.Memory)
	}
	fmt.Fprintf(stdout, "memory: %s + %s for the runtime = %s (the Go memory limit, to which the cache's index of its entries on disk adds about 180 bytes an entry), and bodies buffered at once up to limits.buffer_memory %s, for the whole process\n",
		cacheMemory, config.FormatSize(memoryHeadroom), config.FormatSize(memoryLimit([]*config.Config{cfg})), config.FormatSize(cfg.Limits.BufferMemory))
	if c := cfg.Cluster; c != nil {
		password := "no password"
		if c.PasswordFile != "" {
			// Read above: it holds a password.
			password = "password from " + c.PasswordFile
		}
		fmt.Fprintf(stdout, "cluster: node %s, redis %s (%s), key prefix %q\n", c.Node, c.Redis.Redacted(), password, c.Prefix)
	} else {
		fmt.Fprintln(stdout, "cluster: none (a single node)")
	}
	return 0
}

// validateFile checks one config as serve --config would take it: its
// problems go to stderr, its warnings too, and "FILE: ok" to stdout.
func validateFile(path string, stdout, stderr io.Writer) (*config.Config, bool) {
	cfgs, _, err := config.Source{File: path}.LoadChecked()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	cfg := cfgs[0]
	if cfg.Cluster != nil {
		// serve reads the password file at start: so does validate.
		if _, err := edge.ClusterOptions(cfg); err != nil {
			fmt.Fprintln(stderr, err)
			return nil, false
		}
	}
	for _, w := range cfg.Warnings(time.Now()) {
		fmt.Fprintf(stderr, "%s:%d: warning: %s: %s\n", w.File, w.Line, w.Key, w.Message)
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return cfg, true
}

// validateDir checks every client's file in dir as serve --config-dir
// loads it, one line each ("FILE: ok" on stdout, or its problems on
// stderr), then the files together as
// one process on listen serves them (config.CheckSet). ok is set only
// when every file is usable and the set agrees: what serve --config-dir
// takes whole.
func validateDir(dir string, listen config.Listen, stdout, stderr io.Writer) (cfgs []*config.Config, ok bool) {
	loaded, broken, err := config.Source{Dir: dir}.LoadChecked()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	type file struct {
		path string
		cfg  *config.Config
		err  error
	}
	var files []file
	for _, c := range loaded {
		files = append(files, file{path: c.File, cfg: c})
	}
	for name, err := range broken {
		files = append(files, file{path: filepath.Join(dir, name+".yaml"), err: err})
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.path, b.path) })
	if len(files) == 0 {
		fmt.Fprintf(stderr, "%s: no client's file (*.yaml) in it\n", dir)
		return nil, false
	}
	ok = true
	for _, f := range files {
		if f.err != nil {
			fmt.Fprintln(stderr, f.err)
			ok = false
			continue
		}
		for _, w := range f.cfg.Warnings(time.Now()) {
			if w.Key == "admin.listen" {
				continue // the process's --admin is used, not the file's
			}
			fmt.Fprintf(stderr, "%s:%d: warning: %s: %s\n", w.File, w.Line, w.Key, w.Message)
		}
		fmt.Fprintf(stdout, "%s: ok\n", f.path)
		cfgs = append(cfgs, f.cfg)
	}
	if err := config.CheckSet(cfgs, listen); err != nil {
		fmt.Fprintln(stderr, err)
		ok = false
	}
	if ok {
		fmt.Fprintf(stdout, "%s: ok together (%d clients; hosts in one file each, listeners agree with --listen-http %q and --listen-https %q)\n", dir, len(cfgs), listen.HTTP, listen.HTTPS)
	}
	return cfgs, ok
}
