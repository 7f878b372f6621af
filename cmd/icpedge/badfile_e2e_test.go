package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testpki"
)

// badFiles are configs naming a file the edge can't use, each with the
// line and key the problem must name. extra is appended to
// reloadConfig, which has 14 lines.
var badFiles = []struct {
	name  string
	extra string
	want  string // "site.yaml:LINE: KEY: " as reported
}{
	{"origin_ca missing", "origin_ca: missing-ca.pem\n", "site.yaml:15: origin_ca: "},
	{"origin_ca not PEM", "origin_ca: site.yaml\n", "site.yaml:15: origin_ca: "},
	{"access log in a missing directory", "log:\n  access_file: nowhere/access.log\n", "site.yaml:16: log.access_file: "},
}

// TestBadFileAtStart: serve refuses to start with a clear problem, at the
// key's line, instead of panicking; validate reports the same.
func TestBadFileAtStart(t *testing.T) {
	origin, _ := reloadOrigin(t)
	for _, tt := range badFiles {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, reloadConfig(origin.URL, testICP, tt.extra))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, binPath, "serve", "--config", path).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("serve: %v; want exit status 1:\n%s", err, out)
			}
			if strings.Contains(string(out), "panic") || !strings.Contains(string(out), tt.want) {
				t.Errorf("serve said:\n%s\nwant a problem with %q and no panic", out, tt.want)
			}

			out, err = exec.CommandContext(ctx, binPath, "validate", "--config", path).CombinedOutput()
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("validate: %v; want exit status 1:\n%s", err, out)
			}
			if !strings.HasPrefix(string(out), filepath.Dir(path)+string(filepath.Separator)+tt.want) {
				t.Errorf("validate said:\n%s\nwant %s…", out, tt.want)
			}
		})
	}
}

// TestBadFileOnReload: a reload whose config names an unusable file is
// rejected with the problem logged, and the running edge keeps serving
// its current config.
func TestBadFileOnReload(t *testing.T) {
	origin, _ := reloadOrigin(t)
	path := writeConfig(t, reloadConfig(origin.URL, testICP, ""))
	e := startEdge(t, path)
	url := "http://" + testHost + ":" + portOf(e.Addr("http")) + "/page"
	for i, tt := range badFiles {
		rewriteConfig(t, path, reloadConfig(origin.URL, otherICP, tt.extra))
		e.signal(syscall.SIGHUP)
		e.waitLogCount(`msg="config not reloaded; keeping the current one"`, i+1, 20*time.Second)
		assertAlive(t, e)
		mustContain(t, e.Log(), tt.want)
		resp, body := getBody(t, e.Addr("http"), url)
		if resp.StatusCode != 200 || !strings.Contains(body, testICP) || strings.Contains(body, otherICP) {
			t.Fatalf("%s: after the rejected reload got %d %q; want 200 with the current %s", tt.name, resp.StatusCode, abbrev(body), testICP)
		}
	}
	// The same file, fixed, is taken.
	rewriteConfig(t, path, reloadConfig(origin.URL, otherICP, ""))
	e.signal(syscall.SIGHUP)
	e.waitLog(`msg="config reloaded"`, 20*time.Second)
	if _, body := getBody(t, e.Addr("http"), url); !strings.Contains(body, otherICP) {
		t.Errorf("after a good reload got %q; want %s", abbrev(body), otherICP)
	}
}

// TestBadCertOnReload: a manual pair that vanished is reported on reload
// and the current certificate keeps being served.
func TestBadCertOnReload(t *testing.T) {
	origin := newHTMLOrigin(t)
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, tlsTestHost, 1)
	httpAddr, httpsAddr := freePort(t), freePort(t)
	tlsBlock := func(cert string) string {
		return fmt.Sprintf("tls:\n  mode: manual\n  cert_file: %s\n  key_file: %s\n", cert, keyFile)
	}
	path := writeConfig(t, tlsEdgeConfig(origin.URL, httpAddr, httpsAddr, tlsBlock(certFile)))
	e := startEdge(t, path)
	e.waitListening(2, 20*time.Second)
	roots := x509.NewCertPool()
	roots.AddCert(testpki.Cert(t, tlsTestHost, 1))

	rewriteConfig(t, path, tlsEdgeConfig(origin.URL, httpAddr, httpsAddr, tlsBlock(filepath.Join(dir, "gone.pem"))))
	e.signal(syscall.SIGHUP)
	log := e.waitLog(`msg="config not reloaded; keeping the current one"`, 20*time.Second)
	assertAlive(t, e)
	mustContain(t, log, "tls.cert_file: ")
	if got := servedSerial(t, e.Addr("https"), roots); got != 1 {
		t.Errorf("serial after the rejected reload: got %d; want 1", got)
	}
	if resp, body := httpsGet(t, e.Addr("https"), roots, "/"); resp.StatusCode != 200 || !hasNotice(body) {
		t.Errorf("HTTPS after the rejected reload: got %d; want 200 with the notice", resp.StatusCode)
	}
}

// TestBadFileOnReloadConfigDir: with --config-dir, one client's unusable
// file leaves that client on its current config and touches no other.
func TestBadFileOnReloadConfigDir(t *testing.T) {
	const hostA, hostB = "a.example.test", "b.example.test"
	oA, oB := namedOrigin(t, "A"), namedOrigin(t, "B")
	root := t.TempDir()
	dir := filepath.Join(root, "sites")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	httpAddr := freePort(t)
	client := func(host, origin, icp, extra string) string {
		return fmt.Sprintf("hosts: [%s]\norigin: %s\nlisten:\n  http: %s\nstate_dir: state/%s\nnotice:\n  icp: %s\ncache:\n  enabled: false\n%s", host, origin, httpAddr, host, icp, extra)
	}
	rewriteConfig(t, filepath.Join(dir, "a.yaml"), client(hostA, oA.URL, testICP, ""))
	rewriteConfig(t, filepath.Join(dir, "b.yaml"), client(hostB, oB.URL, testICP, ""))
	e := startEdgeArgs(t, dir, 1, []string{"serve", "--config-dir", dir,
		"--listen-http", httpAddr, "--listen-https", "", "--admin", ""})
	get := func(host string) string {
		t.Helper()
		resp, body := getBody(t, e.Addr("http"), "http://"+host+"/x")
		if resp.StatusCode != 200 {
			t.Fatalf("GET http://%s/x: %d; want 200", host, resp.StatusCode)
		}
		return body
	}
	mustContain(t, get(hostB), testICP)

	reloads := 0
	reload := func(icpA, icpB, extraB string) {
		t.Helper()
		rewriteConfig(t, filepath.Join(dir, "a.yaml"), client(hostA, oA.URL, icpA, ""))
		rewriteConfig(t, filepath.Join(dir, "b.yaml"), client(hostB, oB.URL, icpB, extraB))
		e.signal(syscall.SIGHUP)
		reloads++
		e.waitLogCount(`msg="config reloaded" clients=2`, reloads, 20*time.Second)
		assertAlive(t, e)
	}
	for _, extra := range []string{"log:\n  access_file: nowhere/access.log\n", "origin_ca: missing.pem\n"} {
		reload(otherICP, otherICP, extra)
		mustContain(t, e.Log(), `msg="client config not reloaded; keeping the current one" client=b`)
		if a := get(hostA); !strings.Contains(a, otherICP) {
			t.Errorf("client a after the reload: %q; want its new number %s", abbrev(a), otherICP)
		}
		if b := get(hostB); !strings.Contains(b, testICP) || strings.Contains(b, otherICP) {
			t.Errorf("client b after a reload with a bad file (%q): %q; want its current number %s", extra, abbrev(b), testICP)
		}
		// Both back to the first number, so the next round shows a change.
		reload(testICP, testICP, "")
		mustContain(t, get(hostA), testICP)
	}
}
