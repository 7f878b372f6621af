package proxy

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// originIdleError is a body read that waited on the origin longer than
// Options.OriginIdleTimeout. It is a timeout (a net.Error), so a visitor
// who can still be answered gets 504.
type originIdleError struct{ idle time.Duration }

func (e *originIdleError) Error() string {
	return fmt.Sprintf("origin sent no body data for %v", e.idle)
}
func (e *originIdleError) Timeout() bool   { return true }
func (e *originIdleError) Temporary() bool { return false }

// idleBody bounds each read of an origin body: a read that waits longer
// than idle cancels the request (which closes its connection) and fails
// with an *originIdleError. Time the edge spends elsewhere between reads,
// such as writing to a slow visitor, does not count.
type idleBody struct {
	body     io.ReadCloser
	idle     time.Duration
	timer    *time.Timer
	cancel   context.CancelCauseFunc
	timedOut atomic.Bool
}

// newIdleBody wraps body; cancel ends the context of the request it
// answers, which is what stops a read that waits too long.
func newIdleBody(body io.ReadCloser, idle time.Duration, cancel context.CancelCauseFunc) *idleBody {
	b := &idleBody{body: body, idle: idle, cancel: cancel}
	b.timer = time.AfterFunc(idle, func() {
		b.timedOut.Store(true)
		cancel(&originIdleError{idle: idle})
	})
	b.timer.Stop() // armed only while a read waits
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.body.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && b.timedOut.Load() {
		err = &originIdleError{idle: b.idle}
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil) // release the context; the body is done with
	return err
}
