package warm

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress shows how the pages go: on a terminal one line redrawn in
// place (a bar, pages done and total, rate, errors, time left), with
// failures printed above it; elsewhere one plain line per page, for logs.
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	now      func() time.Time
	start    time.Time

	mu     sync.Mutex
	done   int
	errors int
}

func newProgress(w io.Writer, terminal bool, total int, now func() time.Time) *progress {
	return &progress{w: w, terminal: terminal, total: total, now: now, start: now()}
}

// run redraws the bar until the returned stop is called, which draws it
// a last time and ends its line.
func (p *progress) run() (stop func()) {
	if !p.terminal {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
			select {
			case <-t.C:
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
		p.mu.Lock()
		p.draw()
		fmt.Fprintln(p.w)
		p.mu.Unlock()
	}
}

// page records one page's outcome.
func (p *progress) page(u string, r pageResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if r.failed != "" {
		p.errors++
	}
	if !p.terminal {
		fmt.Fprintf(p.w, "%d/%d %s %s\n", p.done, p.total, outcome(r), u)
		return
	}
	if r.failed != "" {
		fmt.Fprintf(p.w, "\r\x1b[Kfailed %s: %s\n", u, r.failed)
		p.draw()
	}
}

// outcome is a page's outcome in a word or three.
func outcome(r pageResult) string {
	switch {
	case r.failed != "":
		return "failed (" + r.failed + ")"
	case r.cached:
		return fmt.Sprintf("%d cached", r.status)
	case r.stored:
		return fmt.Sprintf("%d stored", r.status)
	default:
		return fmt.Sprintf("%d not-stored (%s)", r.status, r.cacheStatus)
	}
}

// draw writes the bar over the current line. p.mu is held.
func (p *progress) draw() {
	fmt.Fprint(p.w, "\r\x1b[K"+p.line())
}

// line is the bar's text.
func (p *progress) line() string {
	const width = 24
	filled := width
	if p.total > 0 {
		filled = width * p.done / p.total
	}
	elapsed := p.now().Sub(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed.Seconds()
	}
	eta := "--"
	if rate > 0 {
		left := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		eta = left.Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %d/%d pages  %.1f/s  %d errors  ETA %s",
		strings.Repeat("#", filled), strings.Repeat(" ", width-filled), p.done, p.total, rate, p.errors, eta)
}
