package cluster

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testredis"
	"github.com/redis/go-redis/v9"
)

// redisServer is a real redis-server the test started (testredis), with
// the URL and client the node tests use.
type redisServer struct {
	*testredis.Server
	t *testing.T
}

// waitFor bounds every wait on a condition: generous, so that a loaded
// machine passes.
const waitFor = 60 * time.Second

// startRedis starts redis-server for t and stops it (by its PID) when t
// ends.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	return &redisServer{Server: testredis.Start(t), t: t}
}

func (r *redisServer) url() *url.URL {
	return &url.URL{Scheme: "redis", Host: r.Addr(), Path: "/0"}
}

// client is a plain client for the test to look into Redis.
func (r *redisServer) client() *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
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
