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
