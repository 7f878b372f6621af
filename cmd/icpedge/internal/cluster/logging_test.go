package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

// TestLogTo: after LogTo, what go-redis itself logs reaches the slog
// logger as a warning, with its text as an attribute.
func TestLogTo(t *testing.T) {
	var buf syncBuffer
	LogTo(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(logging.Enable) // back to go-redis's own logger for later tests

	// go-redis logs when it truncates a duration below its unit; no
	// server is needed, the log comes before the command is sent.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DisableIdentity: true, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rdb.Set(ctx, "k", "v", 500*time.Microsecond)

	got := buf.String()
	for _, want := range []string{"level=WARN", `msg="redis client"`, `detail="specified duration is 500µs, but minimal supported value is 1ms - truncating to 1ms"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q; want it to contain %s", got, want)
		}
	}
	// Every line the library wrote went through slog (the failed dials to
	// port 1 are logged too).
	for line := range strings.Lines(got) {
		if !strings.Contains(line, `level=WARN msg="redis client" detail=`) {
			t.Errorf("log line %q; want a slog warning from the redis client", line)
		}
	}
}

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
