package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/icpedge/icpedge/config"
)

// loadDir loads every *.yaml file in dir (--config-dir), one client per
// file, in name order. A file that does not load is returned in broken,
// by client name, with its problems; the error is for a directory that
// cannot be read at all.
func loadDir(dir string) (cfgs []*config.Config, broken map[string]error, err error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, nil, fmt.Errorf("reading --config-dir %s: %w", dir, err)
	}
	if err := readableDir(dir); err != nil {
		return nil, nil, err
	}
	broken = map[string]error{}
	for _, p := range paths {
		name := clientName(p)
		if strings.HasPrefix(name, ".") {
			continue // editors' and package managers' temporary files
		}
		cfg, err := config.Load(p)
		if err != nil {
			broken[name] = err
			continue
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, broken, nil
}

// readableDir reports a --config-dir that is missing or not a directory.
func readableDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("reading --config-dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--config-dir %s is not a directory", dir)
	}
	return nil
}

// clientName names a client after its config file: client.yaml is
// "client".
func clientName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".yaml")
}
