package warm

import (
	"context"
	"sync"
	"time"
)

// Limiter paces requests to the origin. Wait returns when the next request
// may start, or with the context's error.
type Limiter interface {
	Wait(ctx context.Context) error
}

// bucket is a token bucket holding one token, refilled every interval
// (the generic cell rate algorithm): requests start no closer together
// than interval on average, and never in a burst. hold pushes every
// later start past a moment, which is how a 429 or 503 slows down every
// worker and not only the one that got it.
type bucket struct {
	interval time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu   sync.Mutex
	next time.Time // when the next request may start
}

func newBucket(perSecond float64, now func() time.Time, sleep func(context.Context, time.Duration) error) *bucket {
	return &bucket{interval: time.Duration(float64(time.Second) / perSecond), now: now, sleep: sleep}
}

func (b *bucket) Wait(ctx context.Context) error {
	b.mu.Lock()
	now := b.now()
	start := b.next
	if start.Before(now) {
		start = now
	}
	b.next = start.Add(b.interval)
	b.mu.Unlock()
	return b.sleep(ctx, start.Sub(now))
}

// hold makes no request start before t.
func (b *bucket) hold(t time.Time) {
	b.mu.Lock()
	if t.After(b.next) {
		b.next = t
	}
	b.mu.Unlock()
}

// sleepCtx waits for d, or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
