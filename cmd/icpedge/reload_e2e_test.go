package main

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const otherICP = "沪ICP备87654321号-2"

// waitLogCount waits until substr has been logged n times.
func (e *edgeProc) waitLogCount(substr string, n int, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(e.Log(), substr) < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("icpedge did not log %q %d times within %v:\n%s", substr, n, timeout, e.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reloadOrigin serves a cacheable HTML page at /page, and 503 everywhere
// once down is set.
func reloadOrigin(t *testing.T) (*httptest.Server, *atomic.Bool) {
	t.Helper()
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "origin down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>p</title></head><body><p>%s</p><footer>end</footer></body></html>", r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv, &down
}

func reloadConfig(originURL, icp, extra string) string {
	return fmt.Sprintf(`hosts: [%s]
origin: %s
origin_host: %s
listen:
  http: 127.0.0.1:0
state_dir: state
timeouts:
  connect: 2s
  response: 5s
  shutdown: 10s
notice:
  icp: %s
admin:
  listen: ""
%s`, testHost, originURL, originName, icp, extra)
}

// rewriteConfig replaces a config file the way an editor saving it would.
func rewriteConfig(t *testing.T, path, yaml string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	origin, _ := reloadOrigin(t)
	path := writeConfig(t, reloadConfig(origin.URL, testICP, ""))
	e := startEdge(t, path)
	url := "http://" + testHost + ":" + portOf(e.Addr("http"))

	var (
		stop            atomic.Bool
		wg              sync.WaitGroup
		total, sawOther atomic.Int64
		failMu          sync.Mutex
		failures        []string
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for i := range 8 {
		wg.Go(func() {
			c := clientFor(e.Addr("http"))
			for n := 0; !stop.Load(); n++ {
				// Half the requests hit the same cached page, half miss.
				p := "/page"
				if n%2 == 1 {
					p = fmt.Sprintf("/page/%d/%d", i, n)
				}
				resp, err := c.Get(url + p)
				if err != nil {
					fail("GET %s: %v", p, err)
					continue
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				b := html.UnescapeString(string(raw))
				total.Add(1)
				switch {
				case err != nil:
					fail("GET %s: reading body: %v", p, err)
				case resp.StatusCode != 200:
					fail("GET %s: status %d", p, resp.StatusCode)
				case strings.Contains(b, testICP) == strings.Contains(b, otherICP):
					fail("GET %s: want exactly one of the two numbers in %q", p, abbrev(b))
				case strings.Contains(b, otherICP):
					sawOther.Add(1)
				}
			}
		})
	}
	// Five reloads, alternating the number, each once the visitors have
	// made another 20 requests: however fast the machine, every config
	// serves some.
	served := func(n int64) {
		t.Helper()
		want := total.Load() + n
		waitFor(t, 60*time.Second, fmt.Sprintf("%d more requests", n), func() bool { return total.Load() >= want })
	}
	for i := range 5 {
		served(20)
		icp := otherICP
		if i%2 == 1 {
			icp = testICP
		}
		rewriteConfig(t, path, reloadConfig(origin.URL, icp, ""))
		e.signal(syscall.SIGHUP)
		e.waitLogCount("msg=\"config reloaded\"", i+1, 20*time.Second)
	}
	served(20)
	stop.Store(true)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d requests during 5 reloads, %d with the second number", total.Load(), sawOther.Load())
	if sawOther.Load() == 0 {
		t.Errorf("got %d requests, %d with %s; want some after the reloads", total.Load(), sawOther.Load(), otherICP)
	}
	// The last reload set the second number.
	_, body := getBody(t, e.Addr("http"), url+"/page")
	mustContain(t, body, otherICP)

	t.Run("invalid config keeps the old one", func(t *testing.T) {
		rewriteConfig(t, path, reloadConfig(origin.URL, "not a number", "cache:\n  max_size: lots\n"))
		e.signal(syscall.SIGHUP)
		// One line per problem: wait for the last one named.
		e.waitLog("config not reloaded; keeping the current one", 30*time.Second)
		log := e.waitLog("cache.max_size", 30*time.Second)
		mustContain(t, log, "notice.icp")
		resp, body := getBody(t, e.Addr("http"), url+"/page")
		if resp.StatusCode != 200 || !strings.Contains(body, otherICP) {
			t.Fatalf("after a rejected reload: got %d %q; want 200 with %s", resp.StatusCode, abbrev(body), otherICP)
		}
		if e.Addr("http") == "" || strings.Count(e.Log(), "msg=listening") != 1 {
			t.Errorf("listeners were reopened:\n%s", e.Log())
		}
	})
}

func getBody(t *testing.T, addr, url string) (*http.Response, string) {
	t.Helper()
	resp, err := clientFor(addr).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, html.UnescapeString(string(b))
}

func TestReloadNewNoticeOnCachedPage(t *testing.T) {
	origin, down := reloadOrigin(t)
	path := writeConfig(t, reloadConfig(origin.URL, testICP, ""))
	e := startEdge(t, path)
	url := "http://" + testHost + ":" + portOf(e.Addr("http")) + "/cached"

	_, body := getBody(t, e.Addr("http"), url)
	mustContain(t, body, testICP)
	resp, body := getBody(t, e.Addr("http"), url)
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Fatalf("second GET: Cache-Status %q; want a hit", cs)
	}
	mustContain(t, body, testICP)

	rewriteConfig(t, path, reloadConfig(origin.URL, otherICP, ""))
	e.signal(syscall.SIGHUP)
	e.waitLog(`msg="config reloaded"`, 30*time.Second)

	resp, body = getBody(t, e.Addr("http"), url)
	if !strings.Contains(body, otherICP) || strings.Contains(body, testICP) {
		t.Fatalf("after reload: got %q; want %s and not %s", abbrev(body), otherICP, testICP)
	}
	if cs := resp.Header.Get("Cache-Status"); strings.Contains(cs, "hit") {
		t.Errorf("after reload: Cache-Status %q; want the old entry not to be a hit", cs)
	}
	resp, _ = getBody(t, e.Addr("http"), url)
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "hit") {
		t.Errorf("the refetched page was not stored: Cache-Status %q", cs)
	}

	// A page stored before the reload is not served as stale-if-error
	// either, even with the origin down.
	getBody(t, e.Addr("http"), url+"-old")
	rewriteConfig(t, path, reloadConfig(origin.URL, testICP, ""))
	e.signal(syscall.SIGHUP)
	e.waitLogCount(`msg="config reloaded"`, 2, 30*time.Second)
	down.Store(true)
	resp, body = getBody(t, e.Addr("http"), url+"-old")
	if strings.Contains(body, otherICP) {
		t.Fatalf("origin down: got %d %q, the page stored under the old notice", resp.StatusCode, abbrev(body))
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("origin down: status %d; want the origin's 503", resp.StatusCode)
	}
}

func TestReloadListenerChangeNeedsRestart(t *testing.T) {
	origin, _ := reloadOrigin(t)
	path := writeConfig(t, reloadConfig(origin.URL, testICP, ""))
	e := startEdge(t, path)
	other := freePort(t)
	rewriteConfig(t, path, strings.Replace(reloadConfig(origin.URL, otherICP, ""), "127.0.0.1:0", other, 1))
	e.signal(syscall.SIGHUP)
	log := e.waitLog(`msg="config reloaded"`, 30*time.Second)
	mustContain(t, log, `msg="listen.http changed; restart to apply"`)
	// The rest of the config applies on the old listener.
	_, body := getBody(t, e.Addr("http"), "http://"+testHost+":"+portOf(e.Addr("http"))+"/x")
	mustContain(t, body, otherICP)
}

// notifyListener is a stand-in for systemd's notification socket.
type notifyListener struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	// Unix socket paths are short (108 bytes); t.TempDir may be longer.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &notifyListener{path: filepath.Join(dir, "notify"), msgs: make(chan string, 1000)}
	conn, err := netListenUnixgram(n.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if errors.Is(err, os.ErrClosed) || (err != nil && strings.Contains(err.Error(), "closed")) {
				return
			}
			if err == nil {
				n.msgs <- string(buf[:k])
			}
		}
	}()
	return n
}

// next returns the next notification that is not a watchdog ping,
// counting the pings it skips.
func (n *notifyListener) next(t *testing.T, pings *int) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case m := <-n.msgs:
			if m == "WATCHDOG=1\n" {
				*pings++
				continue
			}
			return m
		case <-timeout:
			t.Fatal("no notification within 60s")
			return ""
		}
	}
}

func TestNotifySocket(t *testing.T) {
	origin, _ := reloadOrigin(t)
	n := listenNotify(t)
	path := writeConfig(t, reloadConfig(origin.URL, testICP, ""))
	e := startEdge(t, path, "NOTIFY_SOCKET="+n.path, "WATCHDOG_USEC=200000")
	pings := 0

	first := n.next(t, &pings)
	if !strings.HasPrefix(first, "READY=1\n") || !strings.Contains(first, fmt.Sprintf("MAINPID=%d\n", e.cmd.Process.Pid)) {
		t.Fatalf("first notification %q; want READY=1 with MAINPID", first)
	}
	// Listeners are up by READY=1.
	if resp, _ := getBody(t, e.Addr("http"), "http://"+testHost+":"+portOf(e.Addr("http"))+"/"); resp.StatusCode != 200 {
		t.Errorf("after READY=1: status %d", resp.StatusCode)
	}

	before := monotonicUsec(t)
	e.signal(syscall.SIGHUP)
	reloading := n.next(t, &pings)
	after := monotonicUsec(t)
	var usec int64
	if !strings.HasPrefix(reloading, "RELOADING=1\n") {
		t.Fatalf("after SIGHUP: %q; want RELOADING=1 first", reloading)
	}
	for _, line := range strings.Split(reloading, "\n") {
		fmt.Sscanf(line, "MONOTONIC_USEC=%d", &usec)
	}
	if usec < before || usec > after {
		t.Errorf("MONOTONIC_USEC=%d; want between %d and %d (CLOCK_MONOTONIC in the same datagram)", usec, before, after)
	}
	if m := n.next(t, &pings); !strings.HasPrefix(m, "READY=1\n") {
		t.Fatalf("after the reload: %q; want READY=1", m)
	}

	// The watchdog keeps pinging: wait for three more.
	for want := pings + 3; pings < want; {
		select {
		case m := <-n.msgs:
			if m != "WATCHDOG=1\n" {
				t.Fatalf("while idle: %q; want only WATCHDOG=1", m)
			}
			pings++
		case <-time.After(30 * time.Second):
			t.Fatalf("got %d WATCHDOG=1 pings; want 3 more within 30s with WATCHDOG_USEC=200000", pings)
		}
	}
	e.signal(syscall.SIGTERM)
	if m := n.next(t, &pings); !strings.HasPrefix(m, "STOPPING=1\n") {
		t.Fatalf("after SIGTERM: %q; want STOPPING=1", m)
	}
	<-e.exited
	select {
	case m := <-n.msgs:
		if m != "WATCHDOG=1\n" {
			t.Errorf("after STOPPING=1: unexpected %q", m)
		}
	default:
	}
}

// slowOrigin holds each /slow request until release is called (or the
// test ends), and reports on arrived each time one reaches it, so a test
// knows the request is in flight and decides when it ends.
func slowOrigin(t *testing.T) (srv *httptest.Server, arrived <-chan struct{}, release func()) {
	t.Helper()
	ch := make(chan struct{}, 16)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case ch <- struct{}{}:
			default:
			}
			select {
			case <-gate:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, "<html><body><p>slow</p></body></html>")
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(release)
	return srv, ch, release
}

// waitArrived waits for a request to reach the origin.
func waitArrived(t *testing.T, arrived <-chan struct{}) {
	t.Helper()
	select {
	case <-arrived:
	case <-time.After(60 * time.Second):
		t.Fatal("the request never reached the origin")
	}
}

// asyncGet starts a GET and returns a channel with its status and body.
func asyncGet(addr, url string) <-chan [2]string {
	ch := make(chan [2]string, 1)
	go func() {
		resp, err := clientFor(addr).Get(url)
		if err != nil {
			ch <- [2]string{"error", err.Error()}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			ch <- [2]string{"error", err.Error()}
			return
		}
		ch <- [2]string{fmt.Sprint(resp.StatusCode), html.UnescapeString(string(b))}
	}()
	return ch
}

func TestReloadFinishesInFlightRequests(t *testing.T) {
	origin, arrived, release := slowOrigin(t)
	path := writeConfig(t, reloadConfig(origin.URL, testICP, ""))
	e := startEdge(t, path)
	base := "http://" + testHost + ":" + portOf(e.Addr("http"))

	slow := asyncGet(e.Addr("http"), base+"/slow")
	waitArrived(t, arrived)
	rewriteConfig(t, path, reloadConfig(origin.URL, otherICP, ""))
	e.signal(syscall.SIGHUP)
	e.waitLog(`msg="config reloaded"`, 20*time.Second)
	// New requests get the new config while the old one is still busy.
	if _, body := getBody(t, e.Addr("http"), base+"/fast"); !strings.Contains(body, otherICP) {
		t.Errorf("request after the reload: %q; want %s", abbrev(body), otherICP)
	}
	select {
	case got := <-slow:
		t.Fatalf("the request in flight ended before the origin answered: %s %q", got[0], abbrev(got[1]))
	default:
	}
	release()
	got := <-slow
	if got[0] != "200" || !strings.Contains(got[1], testICP) {
		t.Fatalf("request in flight across the reload: %s %q; want 200 under the old config (%s)", got[0], abbrev(got[1]), testICP)
	}
}

func TestShutdownDrains(t *testing.T) {
	origin, arrived, release := slowOrigin(t)
	// A grace period no busy machine runs out of before the test lets
	// the request finish.
	path := writeConfig(t, strings.Replace(reloadConfig(origin.URL, testICP, ""), "shutdown: 10s", "shutdown: 5m", 1))
	e := startEdge(t, path)
	base := "http://" + testHost + ":" + portOf(e.Addr("http"))
	slow := asyncGet(e.Addr("http"), base+"/slow")
	waitArrived(t, arrived)
	e.signal(syscall.SIGTERM)
	// Draining: the listener is closed, the request still runs.
	e.waitLog(`msg="shutting down"`, 20*time.Second)
	waitFor(t, 20*time.Second, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", e.Addr("http"), 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case got := <-slow:
		t.Fatalf("the request in flight ended before the origin answered: %s %q", got[0], abbrev(got[1]))
	case <-e.exited:
		t.Fatal("icpedge exited with a request in flight")
	default:
	}
	release()
	got := <-slow
	if got[0] != "200" || !strings.Contains(got[1], testICP) {
		t.Fatalf("request in flight at SIGTERM: %s %q; want it finished with 200", got[0], abbrev(got[1]))
	}
	select {
	case <-e.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("icpedge did not exit after draining")
	}
	if e.exitErr != nil {
		t.Errorf("exit: %v; want 0", e.exitErr)
	}
	mustContain(t, e.Log(), `msg="stopped; caches closed"`)
}
