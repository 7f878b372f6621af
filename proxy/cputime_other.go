//go:build !linux

package proxy

import "time"

// threadCPU is not available here: callers measure elapsed time instead.
func threadCPU() (time.Duration, bool) { return 0, false }

// lowerThreadPriority is not available here.
func lowerThreadPriority() error { return nil }
