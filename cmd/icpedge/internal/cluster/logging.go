package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// LogTo sends what the Redis client library logs to l, at warning level:
// it logs only trouble (a connection pool failing to dial, a command's
// argument truncated). The library's logger is process-wide, so main
// calls LogTo once, before Open; without it the library writes to the
// standard error in its own format.
func LogTo(l *slog.Logger) {
	redis.SetLogger(redisLogger{l})
}

// redisLogger is go-redis's Logging interface on a slog.Logger.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	r.l.Log(ctx, slog.LevelWarn, "redis client", "detail", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
