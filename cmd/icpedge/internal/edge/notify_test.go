package edge

import (
	"net"
	"testing"
)

func TestNotifierAbstractSocket(t *testing.T) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "@icpedge-test-notify", Net: "unixgram"})
	if err != nil {
		t.Skipf("abstract sockets unavailable: %v", err)
	}
	defer conn.Close()
	env := map[string]string{"NOTIFY_SOCKET": "@icpedge-test-notify", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}
	n, err := newNotifier(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if n.WatchdogEvery() != 0 {
		t.Errorf("WATCHDOG_PID of another process: watchdog every %v; want off", n.WatchdogEvery())
	}
	if err := n.Stopping(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	k, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:k]); got != "STOPPING=1\nSTATUS=draining requests\n" {
		t.Errorf("got %q; want STOPPING=1 and a status", got)
	}
}

func TestNotifierOff(t *testing.T) {
	n, err := newNotifier(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Ready("x"); err != nil || n.WatchdogEvery() != 0 {
		t.Errorf("without NOTIFY_SOCKET: err %v, watchdog %v; want nothing done", err, n.WatchdogEvery())
	}
	if _, err := newNotifier(func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return "relative"
		}
		return ""
	}); err == nil {
		t.Error("relative NOTIFY_SOCKET accepted")
	}
}
