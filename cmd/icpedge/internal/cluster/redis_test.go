package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server the test started, on a loopback port
// of its own, with its data in a temporary directory.
type redisServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

// waitFor bounds every wait on a condition: generous, so that a loaded
// machine passes.
const waitFor = 60 * time.Second

// startRedis starts redis-server for t and stops it (by its PID) when t
// ends. Data persists in an append-only file, fsynced on every write, so
// that a restart after kill keeps it, as a production Redis does; there
// are no RDB snapshots.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is needed (apt-get install redis-server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--loglevel", "warning", "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.addr(), DisableIdentity: true, MaxRetries: -1})
	defer rdb.Close()
	waitUntil(r.t, "redis-server answers PING", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return rdb.Ping(ctx).Err() == nil
	})
}

// kill ends redis-server abruptly, by PID, as a crash would.
func (r *redisServer) kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *redisServer) url() *url.URL {
	return &url.URL{Scheme: "redis", Host: r.addr(), Path: "/0"}
}

// client is a plain client for the test to look into Redis.
func (r *redisServer) client() *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: r.addr(), DisableIdentity: true})
	r.t.Cleanup(func() { rdb.Close() })
	return rdb
}

// waitUntil polls cond until it holds, failing t after waitFor.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting until %s", waitFor, what)
		}
		time.Sleep(wait) // polling a condition, not waiting for a goroutine
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// openNode opens a node named name on r, with state in dir ("" for a new
// temporary one), closed when t ends unless the test closes it first.
func openNode(t *testing.T, r *redisServer, name, dir string, edit func(*Options)) *Node {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts := Options{
		URL: r.url(), Node: name, Dir: dir, Prefix: "test:",
		Heartbeat: 500 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Logger: testLogger(t, name),
	}
	if edit != nil {
		edit(&opts)
	}
	n, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// testLogger logs to t, so failures show what the nodes did.
func testLogger(t *testing.T, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test_node", name)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
