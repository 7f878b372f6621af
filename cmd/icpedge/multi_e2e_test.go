package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testpki"
)

// namedOrigin answers every path with a page naming the origin.
func namedOrigin(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><body><p>origin %s path %s</p></body></html>", name, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// clientFile is one client's file for --config-dir.
func clientFile(host, originURL, icp, httpAddr, httpsAddr, dir string) string {
	certFile, keyFile := filepath.Join(dir, host+".crt"), filepath.Join(dir, host+".key")
	return fmt.Sprintf(`hosts: [%s]
origin: %s
listen:
  http: %s
  https: %s
state_dir: state/%s
notice:
  icp: %s
tls:
  mode: manual
  cert_file: %s
  key_file: %s
`, host, originURL, httpAddr, httpsAddr, host, icp, certFile, keyFile)
}

func TestMultiClient(t *testing.T) {
	const hostA, hostB, hostC = "a.example.test", "b.example.test", "c.example.test"
	const icpC = "粤ICP备11223344号"
	oA, oB := namedOrigin(t, "A"), namedOrigin(t, "B")
	root := t.TempDir()
	dir := filepath.Join(root, "sites")
	os.Mkdir(dir, 0o755)
	httpAddr, httpsAddr := freePort(t), freePort(t)
	roots := x509.NewCertPool()
	for i, h := range []string{hostA, hostB, hostC} {
		testpki.WritePairTo(t, filepath.Join(dir, h+".crt"), filepath.Join(dir, h+".key"), h, int64(10+i))
		roots.AddCert(testpki.Cert(t, h, int64(10+i)))
	}
	// elsewhere.yaml's own pair, so that its listen address is what is
	// wrong with it.
	testpki.WritePairTo(t, filepath.Join(dir, "d.example.test.crt"), filepath.Join(dir, "d.example.test.key"), "d.example.test", 20)
	write := func(name, yaml string) {
		t.Helper()
		rewriteConfig(t, filepath.Join(dir, name), yaml)
	}
	write("a.yaml", clientFile(hostA, oA.URL, testICP, httpAddr, httpsAddr, dir))
	write("b.yaml", clientFile(hostB, oB.URL, otherICP, httpAddr, httpsAddr, dir))
	write("broken.yaml", "hosts: [broken.example.test]\norigin: ftp://nope\n")
	write("elsewhere.yaml", clientFile("d.example.test", oA.URL, testICP, freePort(t), httpsAddr, dir))

	e := startEdgeArgs(t, dir, 3, []string{"serve", "--config-dir", dir,
		"--listen-http", httpAddr, "--listen-https", httpsAddr,
		"--admin", "127.0.0.1:0", "--admin-token-file", filepath.Join(root, "admin.token"),
		"--cache-root", filepath.Join(root, "cache")})

	get := func(host string) (int, string) {
		t.Helper()
		resp, err := clientFor(e.Addr("http")).Get("http://" + host + "/x")
		if err != nil {
			t.Fatalf("GET http://%s/x: %v", host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, unescape(string(b))
	}
	getTLS := func(host string) (int, string, string) {
		t.Helper()
		c := clientFor(e.Addr("https"))
		c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: host}
		resp, err := c.Get("https://" + host + "/y")
		if err != nil {
			t.Fatalf("GET https://%s/y: %v", host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, unescape(string(b)), resp.TLS.PeerCertificates[0].Subject.CommonName
	}

	t.Run("routing by Host and SNI", func(t *testing.T) {
		for _, c := range []struct{ host, origin, icp string }{{hostA, "origin A", testICP}, {hostB, "origin B", otherICP}} {
			code, _ := get(c.host)
			if code != http.StatusPermanentRedirect {
				t.Errorf("http://%s: status %d; want 308 to HTTPS", c.host, code)
			}
			code, body, cn := getTLS(c.host)
			if code != 200 || !strings.Contains(body, c.origin) || !strings.Contains(body, c.icp) {
				t.Errorf("https://%s: got %d %q; want 200 from %s with %s", c.host, code, abbrev(body), c.origin, c.icp)
			}
			if cn != c.host {
				t.Errorf("https://%s: certificate for %s; want its own", c.host, cn)
			}
		}
		if code, _ := get("nobody.example.test"); code != http.StatusMisdirectedRequest {
			t.Errorf("unknown host: status %d; want 421", code)
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.Addr("https"), &tls.Config{RootCAs: roots, ServerName: "nobody.example.test"})
		if err == nil {
			conn.Close()
			t.Error("TLS handshake for an unknown name succeeded")
		}
	})

	t.Run("broken and disagreeing files are skipped", func(t *testing.T) {
		log := e.Log()
		mustContain(t, log, `msg="client skipped" client=broken`)
		mustContain(t, log, `msg="client skipped" client=elsewhere`)
		mustContain(t, log, "--listen-http")
		if code, _ := get("d.example.test"); code != http.StatusMisdirectedRequest {
			t.Errorf("host of a skipped file: status %d; want 421", code)
		}
	})

	t.Run("each client has its own cache", func(t *testing.T) {
		for _, name := range []string{"a", "b"} {
			if _, err := os.Stat(filepath.Join(root, "cache", name)); err != nil {
				t.Errorf("cache of %s: %v", name, err)
			}
		}
	})

	t.Run("SIGHUP adds, changes and removes clients", func(t *testing.T) {
		write("c.yaml", clientFile(hostC, oB.URL, icpC, httpAddr, httpsAddr, dir))
		write("a.yaml", clientFile(hostA, oA.URL, otherICP, httpAddr, httpsAddr, dir))
		if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
			t.Fatal(err)
		}
		e.signal(syscall.SIGHUP)
		e.waitLog(`msg="config reloaded" clients=2`, 30*time.Second)
		if code, body, cn := getTLS(hostC); code != 200 || !strings.Contains(body, icpC) || cn != hostC {
			t.Errorf("added client: got %d %q (certificate %s); want 200 with %s", code, abbrev(body), cn, icpC)
		}
		if code, body, _ := getTLS(hostA); code != 200 || !strings.Contains(body, otherICP) {
			t.Errorf("changed client: got %d %q; want 200 with %s", code, abbrev(body), otherICP)
		}
		if code, _ := get(hostB); code != http.StatusMisdirectedRequest {
			t.Errorf("removed client: status %d; want 421", code)
		}
	})

	t.Run("a file broken by an edit keeps its client", func(t *testing.T) {
		write("a.yaml", "hosts: [a.example.test]\norigin: [\n")
		e.signal(syscall.SIGHUP)
		e.waitLog(`msg="client config not reloaded; keeping the current one" client=a`, 30*time.Second)
		if code, body, _ := getTLS(hostA); code != 200 || !strings.Contains(body, otherICP) {
			t.Errorf("client with a broken file: got %d %q; want it still served", code, abbrev(body))
		}
		if code, _, _ := getTLS(hostC); code != 200 {
			t.Errorf("other client: status %d; want 200", code)
		}
	})
}

func unescape(s string) string { return html.UnescapeString(s) }
