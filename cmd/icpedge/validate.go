package main

import (
	"fmt"
	"io"
	"time"

	"github.com/icpedge/icpedge/config"
)

func validateMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "validate --config FILE", stdout, stderr)
	path := fs.String("config", "", "the instance's YAML config `file` (required)")
	if ok, code := fs.parseAll(args); !ok {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "icpedge validate: --config FILE is required")
		return 2
	}
	cfg, err := loadChecked(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings(time.Now()) {
		fmt.Fprintf(stderr, "%s:%d: warning: %s: %s\n", w.File, w.Line, w.Key, w.Message)
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	// What the process will hold in memory, roughly.
	cacheMemory := "cache off"
	if cfg.Cache.Enabled {
		cacheMemory = "cache.memory " + config.FormatSize(cfg.Cache.Memory)
	}
	fmt.Fprintf(stdout, "memory: %s + %s for the runtime = %s (the Go memory limit), and bodies buffered at once up to limits.buffer_memory %s, for the whole process\n",
		cacheMemory, config.FormatSize(memoryHeadroom), config.FormatSize(memoryLimit([]*config.Config{cfg})), config.FormatSize(cfg.Limits.BufferMemory))
	return 0
}

// loadChecked loads a config and opens the files it names (see
// config.CheckFiles), so that validate and serve report a missing or
// broken file the same way, at its key's line, before anything starts.
func loadChecked(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, err
	}
	return cfg, nil
}
