package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/icpedge/icpedge/config"
)

// memoryHeadroom is what the process needs beyond its caches' memory tiers:
// the runtime, connections, in-flight fills and garbage between cycles.
const memoryHeadroom = 28 << 20

// setMemoryLimit sets the Go runtime's soft memory limit to the clients'
// cache.memory plus headroom, so that the heap stays near what the
// operator configured rather than growing to twice the live data as the
// default collector allows. GOMEMLIMIT in the environment wins.
func setMemoryLimit(cfgs []*config.Config, logger *slog.Logger) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return
	}
	limit := int64(memoryHeadroom)
	for _, c := range cfgs {
		if c.Cache.Enabled {
			limit += c.Cache.Memory
		}
	}
	debug.SetMemoryLimit(limit)
	logger.Debug("memory limit set", "bytes", limit)
}
