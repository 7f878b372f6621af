package proxy

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/icpedge/icpedge/proxy/internal/bufpool"
)

func TestReleaseInput(t *testing.T) {
	b := NewBudget(1 << 20)
	l := b.lease()
	in, ok := growBody(nil, 40<<10, l)
	if !ok || cap(in) != 48<<10 || b.InUse() != 48<<10 {
		t.Fatalf("growBody gave %d bytes with %d in use; want 48 KiB of each", cap(in), b.InUse())
	}
	in = append(in, "<p>page</p>"...)

	// A result that is the input itself, or part of it, keeps it.
	releaseInput(in, in[3:7], l)
	if b.InUse() != 48<<10 {
		t.Fatalf("in use %d after releasing an input its result reads", b.InUse())
	}
	if next := bufpool.Get(40 << 10); overlaps(next, in) {
		t.Fatal("an input its result still reads was given out again")
	}

	// A new result lets it go: its bytes go back to the budget.
	releaseInput(in, []byte("<p>page</p><footer>notice</footer>"), l)
	if b.InUse() != 0 {
		t.Fatalf("in use %d after releasing the input; want 0", b.InUse())
	}
}

// TestPooledBodiesNeverMix fills many pages at once, of many sizes, so
// that the origin's buffers and the pages built from them are given back
// and reused while other fills run and other visitors read: every visitor
// must get exactly their page, rewritten.
func TestPooledBodiesNeverMix(t *testing.T) {
	page := func(n int) string {
		var b strings.Builder
		b.WriteString("<!DOCTYPE html><html><head><title>p</title></head><body>\n")
		for i := 0; b.Len() < 20<<10+n*1531; i++ {
			fmt.Fprintf(&b, "<p>page %d line %d</p>\n", n, i)
		}
		b.WriteString("<footer>end</footer></body></html>\n")
		return b.String()
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/p/"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=600")
		if n%2 == 1 {
			// No length: the buffer grows as the body comes.
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, page(n))
	}))
	t.Cleanup(origin.Close)
	_, edge := newMemEdge(t, origin.URL, NewBudget(64<<20), Options{})

	const pages, visitors = 120, 3
	var wg sync.WaitGroup
	errs := make(chan error, 2*pages*visitors)
	get := func(n int, accept string) {
		defer wg.Done()
		req, _ := http.NewRequest("GET", edge.URL+"/p/"+strconv.Itoa(n), nil)
		req.Host = "icp.example.test"
		req.Header.Set("Accept-Encoding", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errs <- err
			return
		}
		defer resp.Body.Close()
		var r io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			if r, err = gzip.NewReader(resp.Body); err != nil {
				errs <- fmt.Errorf("/p/%d: %v", n, err)
				return
			}
		}
		body, err := io.ReadAll(r)
		want := page(n)
		got := string(body)
		switch {
		case err != nil:
			errs <- fmt.Errorf("/p/%d: %v", n, err)
		case !strings.Contains(got, "https://beian.miit.gov.cn/") || !strings.Contains(got, "12345678"):
			errs <- fmt.Errorf("/p/%d: no notice in %d bytes, status %d, ends %q", n, len(body), resp.StatusCode, body[max(0, len(body)-300):])
		case strings.Count(got, fmt.Sprintf("<p>page %d line ", n)) != strings.Count(want, "<p>page"):
			errs <- fmt.Errorf("/p/%d: %d of its %d lines, in %d bytes", n,
				strings.Count(got, fmt.Sprintf("<p>page %d line ", n)), strings.Count(want, "<p>page"), len(body))
		case !bytes.HasPrefix(body, []byte(want[:1000])):
			errs <- fmt.Errorf("/p/%d: begins %q", n, body[:80])
		}
	}
	// Each page by several visitors at once, some of them waiting on
	// another's fill, gzip and identity; then each again, from the store.
	for round := range 2 {
		for n := range pages {
			for v := range visitors {
				wg.Add(1)
				go get(n, []string{"", "gzip"}[(n+v+round)%2])
			}
		}
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
