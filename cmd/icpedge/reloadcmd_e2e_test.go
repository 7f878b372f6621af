package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReloadCommand: icpedge reload checks the file, has the running edge
// reload it through the admin API and says how it went: status 0 once
// the new config serves, 1 with the reasons when it does not, and a
// broken file is never sent.
func TestReloadCommand(t *testing.T) {
	origin, _ := reloadOrigin(t)
	adminAddr := freePort(t)
	path := writeConfig(t, withAdmin(reloadConfig(origin.URL, testICP, ""), adminAddr))
	e := startEdge(t, path)
	e.waitListening(2, 30*time.Second)
	page := func() string {
		t.Helper()
		_, body := getBody(t, e.Addr("http"), "http://"+testHost+"/x?"+strconv.FormatInt(time.Now().UnixNano(), 10))
		return body
	}
	mustContain(t, page(), testICP)

	t.Run("a new config serves once reload returns", func(t *testing.T) {
		rewriteConfig(t, path, withAdmin(reloadConfig(origin.URL, otherICP, ""), adminAddr))
		out, errOut, code := runBinary(t, "reload", "--config", path)
		if code != 0 {
			t.Fatalf("reload: exit %d\nstdout: %s\nstderr: %s; want 0", code, out, errOut)
		}
		mustContain(t, out, path+": ok")
		mustContain(t, out, "reloaded: the new config serves (serving 1 client: site)")
		// No waiting: the exit status is the promise.
		if body := page(); !strings.Contains(body, otherICP) {
			t.Errorf("right after reload: %q; want the new number %s", abbrev(body), otherICP)
		}
	})

	t.Run("a broken file is refused before the edge is asked", func(t *testing.T) {
		before := strings.Count(e.Log(), "config reloaded")
		rewriteConfig(t, path, strings.Replace(withAdmin(reloadConfig(origin.URL, testICP, ""), adminAddr), "connect: 2s", "connect: soon", 1))
		out, errOut, code := runBinary(t, "reload", "--config", path)
		if code != 1 {
			t.Fatalf("reload of a broken file: exit %d; want 1\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		mustContain(t, errOut, path+":8: timeouts.connect")
		mustContain(t, errOut, "not reloaded")
		if n := strings.Count(e.Log(), "config reloaded"); n != before {
			t.Errorf("the edge reloaded %d times after a refused file; want none", n-before)
		}
		if body := page(); !strings.Contains(body, otherICP) {
			t.Errorf("after a refused reload: %q; want the current number %s", abbrev(body), otherICP)
		}
	})

	t.Run("another process's config is named", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "site.yaml")
		if err := os.WriteFile(other, []byte(withAdmin(reloadConfig(origin.URL, testICP, ""), adminAddr)), 0o644); err != nil {
			t.Fatal(err)
		}
		// Its token file is the running edge's, so the request is let in.
		os.MkdirAll(filepath.Join(filepath.Dir(other), "state"), 0o700)
		tok, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "state", "admin.token"))
		os.WriteFile(filepath.Join(filepath.Dir(other), "state", "admin.token"), tok, 0o600)
		rewriteConfig(t, path, withAdmin(reloadConfig(origin.URL, otherICP, ""), adminAddr))
		_, errOut, code := runBinary(t, "reload", "--config", other)
		if code != 1 || !strings.Contains(errOut, "serves "+path+", not "+other) {
			t.Errorf("reload of a file the edge does not serve: exit %d, %q; want 1 naming both files", code, errOut)
		}
	})
}

// TestReloadCommandAdminOff: without an admin listener, reload says what
// to do; with --pid (systemd's $MAINPID) it checks the file and sends
// SIGHUP.
func TestReloadCommandAdminOff(t *testing.T) {
	origin, _ := reloadOrigin(t)
	path := writeConfig(t, reloadConfig(origin.URL, testICP, ""))
	e := startEdge(t, path)
	rewriteConfig(t, path, reloadConfig(origin.URL, otherICP, ""))
	_, errOut, code := runBinary(t, "reload", "--config", path)
	if code != 1 {
		t.Fatalf("reload with the admin listener off: exit %d; want 1", code)
	}
	for _, want := range []string{"has admin.listen off", "admin.listen: 127.0.0.1:9080", "SIGHUP"} {
		mustContain(t, errOut, want)
	}
	out, errOut, code := runBinary(t, "reload", "--config", path, "--pid", strconv.Itoa(e.cmd.Process.Pid))
	if code != 0 {
		t.Fatalf("reload --pid: exit %d, %s; want 0", code, errOut)
	}
	mustContain(t, out, fmt.Sprintf("sent SIGHUP to %d", e.cmd.Process.Pid))
	e.waitLog(`msg="config reloaded"`, 30*time.Second)
	_, body := getBody(t, e.Addr("http"), "http://"+testHost+"/y")
	mustContain(t, body, otherICP)
}

// TestReloadCommandConfigDir: with --config-dir the files are checked one
// by one and together, and clients the edge refuses are named with the
// edge's reasons and exit status 1.
func TestReloadCommandConfigDir(t *testing.T) {
	const hostA, hostB = "a.example.test", "b.example.test"
	oA, oB := namedOrigin(t, "A"), namedOrigin(t, "B")
	root := t.TempDir()
	dir := filepath.Join(root, "sites")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	httpAddr, adminAddr, tokenFile := freePort(t), freePort(t), filepath.Join(root, "admin.token")
	client := func(host, origin, icp, listen string) string {
		return fmt.Sprintf("hosts: [%s]\norigin: %s\nlisten:\n  http: %q\nstate_dir: state/%s\nnotice:\n  icp: %s\ncache:\n  enabled: false\n", host, origin, listen, host, icp)
	}
	write := func(name, yaml string) { t.Helper(); rewriteConfig(t, filepath.Join(dir, name), yaml) }
	write("a.yaml", client(hostA, oA.URL, testICP, httpAddr))
	write("b.yaml", client(hostB, oB.URL, testICP, httpAddr))
	e := startEdgeArgs(t, dir, 2, []string{"serve", "--config-dir", dir,
		"--listen-http", httpAddr, "--listen-https", "", "--admin", adminAddr, "--admin-token-file", tokenFile})
	get := func(host string) string {
		t.Helper()
		_, body := getBody(t, e.Addr("http"), "http://"+host+"/x")
		return body
	}
	reload := func(listenHTTP string) (string, string, int) {
		return runBinary(t, "reload", "--config-dir", dir, "--listen-http", listenHTTP, "--listen-https", "",
			"--admin", adminAddr, "--admin-token-file", tokenFile)
	}

	write("a.yaml", client(hostA, oA.URL, otherICP, httpAddr))
	out, errOut, code := reload(httpAddr)
	if code != 0 {
		t.Fatalf("reload: exit %d\n%s%s; want 0", code, out, errOut)
	}
	for _, want := range []string{"a.yaml: ok\n", "b.yaml: ok\n", "reloaded: the new config serves (serving 2 clients: a, b)"} {
		mustContain(t, out, want)
	}
	mustContain(t, get(hostA), otherICP)

	// Files that disagree are named, and the edge skips them as SIGHUP
	// does: the others' changes are served, the status is 1.
	write("a.yaml", client(hostA, oA.URL, testICP, httpAddr))
	write("b.yaml", client(hostA, oB.URL, otherICP, httpAddr))
	_, errOut, code = reload(httpAddr)
	if code != 1 {
		t.Errorf("reload of two files with one host: exit %d; want 1", code)
	}
	mustContain(t, errOut, "b.yaml:1: hosts: a.example.test is also in")
	mustContain(t, errOut, "  b: kept its current config, or not served if new: ")
	mustContain(t, errOut, "already served by")
	mustContain(t, get(hostA), testICP)
	if b := get(hostB); !strings.Contains(b, "origin B") {
		t.Errorf("client b after its file was refused: %q; want still served from origin B", abbrev(b))
	}
	write("b.yaml", client(hostB, oB.URL, testICP, httpAddr))

	// Checked against the wrong --listen-http, files moved to another
	// address pass here; the edge, which knows its own listener, refuses
	// them and says why, and both clients keep their current config.
	wrong := freePort(t)
	write("a.yaml", client(hostA, oA.URL, otherICP, wrong))
	write("b.yaml", client(hostB, oB.URL, otherICP, wrong))
	out, errOut, code = reload(wrong)
	if code != 1 {
		t.Fatalf("reload the edge refused in part: exit %d\n%s%s; want 1", code, out, errOut)
	}
	mustContain(t, errOut, "did not take the new config whole (serving 2 clients: a, b)")
	mustContain(t, errOut, "  a: kept its current config")
	mustContain(t, errOut, "  b: kept its current config")
	mustContain(t, errOut, "but this process listens on")
	mustContain(t, get(hostA), testICP)
	if b := get(hostB); strings.Contains(b, otherICP) {
		t.Errorf("client b after its file was refused: %q; want its current config", abbrev(b))
	}
}
