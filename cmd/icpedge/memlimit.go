package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

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
// GOMEMLIMIT and GOGC in the environment win. It returns the limit set,
// 0 when the environment set one; keepMemoryLimit then adds the caches'
// indexes to it as they grow.
//
// Bodies buffered at once (limits.buffer_memory) are not part of the
// limit: they are held for milliseconds, and while they push the heap
// past it the collector runs more often instead of letting garbage pile
// up to the sum, so the process stays near its live memory.
func setMemoryLimit(cfgs []*config.Config, logger *slog.Logger) int64 {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return 0
	}
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	limit := memoryLimit(cfgs)
	debug.SetMemoryLimit(limit)
	logger.Debug("memory limit set", "bytes", limit)
	return limit
}

// limitEvery is how often keepMemoryLimit looks at the indexes, and
// limitStep the change in them that moves the limit.
const (
	limitEvery = 2 * time.Second
	limitStep  = 1 << 20
)

// keepMemoryLimit keeps the memory limit at base plus what the caches'
// indexes take (index), until ctx is done. An index grows with the
// entries on disk, not with cache.memory: a limit that left it out would
// fall below the live heap of a large cache, and the collector would run
// without end.
func keepMemoryLimit(ctx context.Context, base int64, index func() int64, logger *slog.Logger) {
	t := time.NewTicker(limitEvery)
	defer t.Stop()
	set := base
	for {
		select {
		case <-t.C:
			if limit, ok := nextLimit(base, index(), set); ok {
				debug.SetMemoryLimit(limit)
				logger.Debug("memory limit set", "bytes", limit)
				set = limit
			}
		case <-ctx.Done():
			return
		}
	}
}

// nextLimit is the limit for base and the indexes' bytes, and whether it
// differs enough from the limit set to change it.
func nextLimit(base, index, set int64) (int64, bool) {
	limit := base + index
	return limit, limit-set >= limitStep || set-limit >= limitStep
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
