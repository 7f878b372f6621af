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

// gcPercent lets the heap grow to five times the live data between
// collections while that stays under the memory limit: a cache hit
// allocates little but often, and with a small live heap the default of
// 100 collects many times a second for nothing. The limit, not this, is
// what bounds the heap.
const gcPercent = 400

// setMemoryLimit sets the Go runtime's soft memory limit to the clients'
// cache.memory plus headroom, so that the heap stays near what the
// operator configured rather than growing to twice the live data as the
// default collector allows, and then relaxes GOGC under that limit.
// GOMEMLIMIT and GOGC in the environment win.
//
// Bodies buffered at once (limits.buffer_memory) are not part of the
// limit: they are held for milliseconds, and while they push the heap
// past it the collector runs more often instead of letting garbage pile
// up to the sum, so the process stays near its live memory.
func setMemoryLimit(cfgs []*config.Config, logger *slog.Logger) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return
	}
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	limit := memoryLimit(cfgs)
	debug.SetMemoryLimit(limit)
	logger.Debug("memory limit set", "bytes", limit)
}

// memoryLimit is the memory limit setMemoryLimit sets.
func memoryLimit(cfgs []*config.Config) int64 {
	limit := int64(memoryHeadroom)
	for _, c := range cfgs {
		if c.Cache.Enabled {
			limit += c.Cache.Memory
		}
	}
	return limit
}
