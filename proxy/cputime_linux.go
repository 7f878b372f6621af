package proxy

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling OS thread has used, user and
// system, so that work done on a locked thread can be measured as CPU
// rather than as time waited on a busy machine.
func threadCPU() (time.Duration, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// lowerThreadPriority gives the calling OS thread the lowest scheduling
// priority (nice 19; on Linux the nice value is per thread, setpriority(2)),
// so that the kernel runs it only with CPU the rest of the process and
// the machine leave over.
func lowerThreadPriority() error {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
}
