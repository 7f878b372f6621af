package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// binPath is the icpedge binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "icpedge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "icpedge")
	build := exec.Command("go", "build", "-race", "-o", binPath, ".")
	if os.Getenv("ICPEDGE_E2E_NORACE") != "" {
		build = exec.Command("go", "build", "-o", binPath, ".")
	}
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building icpedge:", err)
		os.Exit(1)
	}
	// icpedge check keeps files in the user's cache directory when it runs
	// away from a client's state directory: keep them out of the real one.
	// Only once the binary is built: Go's build cache lives there too
	// unless GOCACHE says otherwise, and an empty one makes the race build
	// compile every package again, minutes of the package's time budget
	// on a busy machine.
	os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// edgeProc is a running icpedge process.
type edgeProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string // its config's directory
	config string // its config file

	mu       sync.Mutex
	log      bytes.Buffer
	addrs    map[string]string // "http", "https", "admin" → bound address
	exited   chan struct{}
	exitErr  error
	addrSeen chan struct{}
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+) tls=(true|false)(?: kind=(\S+))?`)

// writeConfig writes a config file into a new temp dir and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startEdge runs "icpedge serve --config path" and waits until its
// listeners are up. The process is stopped when the test ends.
func startEdge(t *testing.T, path string, extraEnv ...string) *edgeProc {
	t.Helper()
	e := startEdgeArgs(t, filepath.Dir(path), 1, []string{"serve", "--config", path}, extraEnv...)
	e.config = path
	return e
}

// startEdgeArgs runs "icpedge args..." and waits for n listeners.
// The process is stopped when the test ends.
func startEdgeArgs(t *testing.T, dir string, n int, args []string, extraEnv ...string) *edgeProc {
	t.Helper()
	e := &edgeProc{t: t, dir: dir, addrs: map[string]string{}, exited: make(chan struct{}), addrSeen: make(chan struct{}, 16)}
	e.cmd = exec.Command(binPath, args...)
	e.cmd.Env = append(os.Environ(), extraEnv...)
	stderr, err := e.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	e.cmd.Stdout = io.Discard
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go e.readLog(stderr)
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("icpedge log:\n%s", e.Log())
		}
	})
	e.waitListening(n, 60*time.Second)
	return e
}

func (e *edgeProc) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		e.mu.Lock()
		e.log.WriteString(line + "\n")
		if m := listeningRE.FindStringSubmatch(line); m != nil {
			kind := m[3]
			if kind == "" {
				kind = "http"
				if m[2] == "true" {
					kind = "https"
				}
			}
			e.addrs[kind] = m[1]
			select {
			case e.addrSeen <- struct{}{}:
			default:
			}
		}
		e.mu.Unlock()
	}
	e.exitErr = e.cmd.Wait()
	close(e.exited)
}

// waitListening waits until n listeners have been logged.
func (e *edgeProc) waitListening(n int, timeout time.Duration) {
	e.t.Helper()
	deadline := time.After(timeout)
	for {
		e.mu.Lock()
		got := len(e.addrs)
		e.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-e.addrSeen:
		case <-e.exited:
			e.t.Fatalf("icpedge exited before listening: %v\n%s", e.exitErr, e.Log())
		case <-deadline:
			e.t.Fatalf("icpedge did not listen within %v\n%s", timeout, e.Log())
		}
	}
}

// Addr returns the bound address of a listener kind ("http", "https", "admin").
func (e *edgeProc) Addr(kind string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addrs[kind]
}

// Log returns everything the process logged so far.
func (e *edgeProc) Log() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.log.String()
}

// signal sends sig to the process.
func (e *edgeProc) signal(sig os.Signal) {
	if err := e.cmd.Process.Signal(sig); err != nil {
		e.t.Errorf("signalling icpedge: %v", err)
	}
}

// stop ends the process with SIGTERM, then SIGKILL after a grace period.
func (e *edgeProc) stop() {
	select {
	case <-e.exited:
		return
	default:
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
}

// client returns an HTTP client that sends every request to addr, whatever
// the URL's host, the way a DNS record pointing at the edge would.
func clientFor(addr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// hostOf returns the host part of a listener address.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func mustContain(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Fatalf("got %q; want it to contain %q", abbrev(got), want)
	}
}

func abbrev(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// waitLog waits until the process has logged a line containing substr,
// and returns the log; it fails the test that started the process.
func (e *edgeProc) waitLog(substr string, timeout time.Duration) string {
	e.t.Helper()
	return waitLog(e.t, e, substr, timeout)
}

// waitLog waits until e has logged a line containing want, and returns
// the log. It fails t (which may be a subtest of the one that started e)
// at once if the process exits first, and after timeout otherwise.
func waitLog(t *testing.T, e *edgeProc, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := e.Log()
		if strings.Contains(log, want) {
			return log
		}
		select {
		case <-e.exited:
			// It may have logged want just before it exited.
			if log = e.Log(); strings.Contains(log, want) {
				return log
			}
			t.Fatalf("icpedge exited while waiting for %q: %v\n%s", want, e.exitErr, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("icpedge did not log %q within %v:\n%s", want, timeout, log)
		}
		time.Sleep(20 * time.Millisecond) // polling the log, not waiting for a goroutine
	}
}

func netListenUnixgram(path string) (*net.UnixConn, error) {
	return net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
}

func monotonicUsec(t *testing.T) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1e3
}

// syncBuffer is a bytes.Buffer safe for a process's output and a test to
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
