package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPurgeConfigDir: icpedge purge reaches a serve --config-dir process
// through its admin listener (--admin, --admin-token-file, as warm does),
// with flags before or after the URL; it purges only the client the URL
// names, says what it purged, and a purge that matched nothing says so
// and exits 1. --json is for scripts.
func TestPurgeConfigDir(t *testing.T) {
	const hostA, hostB = "a.example.test", "b.example.test"
	origin, _ := reloadOrigin(t)
	root := t.TempDir()
	dir := filepath.Join(root, "sites")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	httpAddr, adminAddr, tokenFile := freePort(t), freePort(t), filepath.Join(root, "admin.token")
	for _, h := range []string{hostA, hostB} {
		rewriteConfig(t, filepath.Join(dir, strings.SplitN(h, ".", 2)[0]+".yaml"), fmt.Sprintf(
			"hosts: [%s]\norigin: %s\nrewrite_hosts: [www.%s]\nlisten:\n  http: %q\nstate_dir: state/%s\nnotice:\n  icp: %s\n", h, origin.URL, h, httpAddr, h, testICP))
	}
	e := startEdgeArgs(t, dir, 2, []string{"serve", "--config-dir", dir, "--cache-root", filepath.Join(root, "cache"),
		"--listen-http", httpAddr, "--listen-https", "", "--admin", adminAddr, "--admin-token-file", tokenFile})
	status := func(host string) string {
		t.Helper()
		resp, _ := getBody(t, e.Addr("http"), "http://"+host+"/page")
		return cacheStatus(resp)
	}
	for _, h := range []string{hostA, hostB} {
		status(h)
		if s := status(h); !strings.HasPrefix(s, "icpedge; hit") {
			t.Fatalf("%s/page fetched twice: Cache-Status %q; want a hit", h, s)
		}
	}
	adminFlags := []string{"--admin", adminAddr, "--admin-token-file", tokenFile}

	// Flags after the URL.
	url := "http://" + hostA + "/page"
	out, errOut, code := runBinary(t, append([]string{"purge", url, "--config-dir", dir}, adminFlags...)...)
	if code != 0 || !regexp.MustCompile(`^purged [1-9]\d* (entry|entries) for `+regexp.QuoteMeta(url)+"\n$").MatchString(out) {
		t.Fatalf("purge: exit %d, %q, %q; want 0 and \"purged N entries for %s\"", code, out, errOut, url)
	}
	if s := status(hostA); !strings.Contains(s, "fwd=miss") {
		t.Errorf("%s/page after its purge: %q; want a miss", hostA, s)
	}
	if s := status(hostB); !strings.HasPrefix(s, "icpedge; hit") {
		t.Errorf("%s/page after a purge of %s: %q; want still a hit", hostB, hostA, s)
	}

	// Nothing left to match: said, and status 1; --json still prints.
	status(hostA) // stored again
	out, _, code = runBinary(t, append(append([]string{"purge", "--json"}, adminFlags...), "--config-dir", dir, "http://"+hostA+"/nothing-here")...)
	var res struct {
		Purged *int   `json:"purged"`
		URL    string `json:"url"`
		Host   string `json:"host"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &res) != nil || res.Purged == nil || *res.Purged != 0 || res.Host != hostA {
		t.Errorf("purge --json of a URL never stored: exit %d, %q; want 1 and {\"purged\":0,…,\"host\":%q}", code, out, hostA)
	}
	_, errOut, code = runBinary(t, append([]string{"purge", "--config-dir", dir, "--prefix", "/nothing/", "--host", hostB}, adminFlags...)...)
	if code != 1 || !strings.Contains(errOut, "nothing matched under /nothing/ of "+hostB) {
		t.Errorf("purge of a prefix with nothing under it: exit %d, %q; want 1 saying nothing matched", code, errOut)
	}
	out, _, code = runBinary(t, append([]string{"purge", "--config-dir", dir, "--prefix", "/pa", "--host", hostB, "--json"}, adminFlags...)...)
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Purged == nil || *res.Purged < 1 {
		t.Errorf("purge --json --prefix: exit %d, %q; want 0 and purged ≥ 1", code, out)
	}
	if s := status(hostA); !strings.HasPrefix(s, "icpedge; hit") {
		t.Errorf("%s/page after a purge of %s's prefix: %q; want still a hit", hostA, hostB, s)
	}
	// A URL on the origin's own name, as the origin's software writes it,
	// reaches the client whose origin that is, as the edge's purge does.
	status(hostB) // stored again
	out, errOut, code = runBinary(t, append([]string{"purge", "--config-dir", dir, "http://www." + hostB + "/page"}, adminFlags...)...)
	if code != 0 || !strings.HasPrefix(out, "purged ") {
		t.Errorf("purge of a URL on %s's origin name: exit %d, %q, %q; want 0 and purged", hostB, code, out, errOut)
	}
	if s := status(hostB); !strings.Contains(s, "fwd=miss") {
		t.Errorf("%s/page after a purge by its origin's name: %q; want a miss", hostB, s)
	}
	_, errOut, code = runBinary(t, append([]string{"purge", "--config-dir", dir, "http://nobody.example.test/"}, adminFlags...)...)
	if code != 1 || !strings.Contains(errOut, "no client's file in "+dir+" serves nobody.example.test") {
		t.Errorf("purge of a host no client serves: exit %d, %q; want 1 saying so", code, errOut)
	}
}
