package main

import (
	"bufio"
	"html"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// icpedge demo serves its sample origin's home page with the notice, at
// the address it prints, and stops on SIGTERM.
func TestDemo(t *testing.T) {
	cmd := exec.Command(binPath, "demo", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`open http://localhost:(\d+)/`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- "127.0.0.1:" + m[1]
			}
		}
		io.Copy(io.Discard, stdout)
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	var a string
	select {
	case a = <-addr:
	case <-exited:
		t.Fatalf("demo exited before printing its address: %v\n%s", waitErr, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("demo printed no address within 60s:\n%s", logs.String())
	}
	req, _ := http.NewRequest("GET", "http://"+a+"/", nil)
	req.Host = "localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := html.UnescapeString(string(body))
	if resp.StatusCode != 200 || !strings.Contains(text, "Welcome to Client Co.") || !strings.Contains(text, "京ICP备12345678号-1") {
		t.Fatalf("demo home page: got %d %q; want the sample page with the notice", resp.StatusCode, abbrev(string(body)))
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("demo after SIGTERM: %v; want exit 0\n%s", waitErr, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("demo still running 60s after SIGTERM")
	}
}

// TestDemoShowsCacheHit runs "icpedge demo": its start-up lines say what
// to try, and what they promise holds: the second request for a page is a
// cache hit, and the pages carry the notice.
func TestDemoShowsCacheHit(t *testing.T) {
	e := &edgeProc{t: t, addrs: map[string]string{}, exited: make(chan struct{}), addrSeen: make(chan struct{}, 16)}
	e.cmd = exec.Command(binPath, "demo", "--listen", "127.0.0.1:0")
	stderr, err := e.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout lockedBuffer
	e.cmd.Stdout = &stdout
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go e.readLog(stderr)
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("icpedge demo stdout:\n%s\nlog:\n%s", stdout.String(), e.Log())
		}
	})
	e.waitListening(1, 60*time.Second)

	// The tour is printed once the listener is up; wait for its last line.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "curl -I") {
		if time.Now().After(deadline) {
			t.Fatalf("the demo printed no tour within 30s:\n%s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	port := portOf(e.Addr("http"))
	base := "http://localhost:" + port
	tour := stdout.String()
	for _, want := range []string{
		"open " + base + "/",
		base + "/gbk ",
		base + "/about ",
		"already shows its number",
		"curl -I " + base + "/ ",
		"Cache-Status",
	} {
		mustContain(t, tour, want)
	}

	c := clientFor(e.Addr("http"))
	status := func(method, path string) (string, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s; want 200", method, path, resp.Status)
		}
		return resp.Header.Get("Cache-Status"), string(body)
	}

	// What the tour says of curl -I: a miss that is stored, then a hit.
	if got, _ := status(http.MethodHead, "/"); !strings.HasPrefix(got, "icpedge; fwd=miss; stored") {
		t.Errorf("first HEAD /: Cache-Status %q; want icpedge; fwd=miss; stored", got)
	}
	if got, _ := status(http.MethodHead, "/"); !strings.HasPrefix(got, "icpedge; hit") {
		t.Errorf("second HEAD /: Cache-Status %q; want icpedge; hit", got)
	}
	for _, path := range []string{"/", "/gbk", "/about", "/plain"} {
		first, body := status(http.MethodGet, path)
		if path != "/" && !strings.HasPrefix(first, "icpedge; fwd=miss; stored") {
			t.Errorf("first GET %s: Cache-Status %q; want icpedge; fwd=miss; stored", path, first)
		}
		if !strings.Contains(body, "https://beian.miit.gov.cn/") {
			t.Errorf("GET %s: no link to MIIT in the page:\n%s", path, abbrev(body))
		}
		if got, _ := status(http.MethodGet, path); !strings.HasPrefix(got, "icpedge; hit") {
			t.Errorf("second GET %s: Cache-Status %q; want icpedge; hit", path, got)
		}
	}
}
