package edge

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// notifier speaks systemd's notification protocol (sd_notify(3)): one
// datagram per state change on the unix socket named by $NOTIFY_SOCKET.
// Outside systemd (no socket) every method does nothing.
//
// For Type=notify-reload (and Type=notify with RELOADING=1) a reload is
// announced as "RELOADING=1" with "MONOTONIC_USEC=" in one datagram, and
// ends with "READY=1", whether or not the new config was accepted.
type notifier struct {
	addr *net.UnixAddr // nil outside systemd
	// watchdog is the interval systemd expects pings within
	// ($WATCHDOG_USEC), zero when the watchdog is off.
	watchdog time.Duration
}

// newNotifier reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID from
// getenv. A socket name starting with "@" is in the abstract namespace,
// which is also how package net spells it.
func newNotifier(getenv func(string) string) (*notifier, error) {
	n := &notifier{}
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return n, nil
	}
	if path[0] != '/' && path[0] != '@' {
		return nil, fmt.Errorf("NOTIFY_SOCKET %q: expected an absolute path or an abstract name starting with @", path)
	}
	n.addr = &net.UnixAddr{Name: path, Net: "unixgram"}
	if usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		pid := getenv("WATCHDOG_PID")
		if pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(usec) * time.Microsecond
		}
	}
	return n, nil
}

// send sends one notification, lines of KEY=VALUE in one datagram, on a
// socket of its own as sd_notify does, so a restarted manager's new
// socket is found.
func (n *notifier) send(lines ...string) error {
	if n == nil || n.addr == nil {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	return nil
}

// Ready tells systemd that start-up or a reload is complete.
func (n *notifier) Ready(status string) error {
	return n.send("READY=1", "STATUS="+status, "MAINPID="+strconv.Itoa(os.Getpid()))
}

// Reloading tells systemd that a reload has begun, with the time it began
// on CLOCK_MONOTONIC, as Type=notify-reload requires.
func (n *notifier) Reloading() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("reading the monotonic clock: %w", err)
	}
	usec := ts.Nano() / 1e3
	return n.send("RELOADING=1", "STATUS=reloading", "MONOTONIC_USEC="+strconv.FormatInt(usec, 10))
}

// Stopping tells systemd that shutdown has begun.
func (n *notifier) Stopping() error {
	return n.send("STOPPING=1", "STATUS=draining requests")
}

// Watchdog pings the watchdog.
func (n *notifier) Watchdog() error { return n.send("WATCHDOG=1") }

// WatchdogEvery is how often to ping: half the interval systemd expects,
// as sd_watchdog_enabled(3) advises; zero when the watchdog is off.
func (n *notifier) WatchdogEvery() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog / 2
}
