package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// adminGet asks the admin listener at addr for path with a Host header
// and an Authorization header, and returns the status.
func adminGet(t *testing.T, addr, path, host, auth string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := clientFor(addr).Do(req)
	if err != nil {
		t.Fatalf("GET %s with Host %s: %v", path, host, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// withAdmin turns on the admin listener of a reloadConfig at addr.
func withAdmin(yaml, addr string) string {
	return strings.Replace(yaml, "admin:\n  listen: \"\"\n", "admin:\n  listen: "+addr+"\n", 1)
}

var generatedToken = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// TestAdminTokenFileE2E: a token file an interrupted write left empty or
// cut short is replaced on start, not a start-up failure; a token the
// operator wrote is kept. The file is written whole or not at all.
func TestAdminTokenFileE2E(t *testing.T) {
	origin, _ := reloadOrigin(t)
	path := writeConfig(t, withAdmin(reloadConfig(origin.URL, testICP, ""), "127.0.0.1:0"))
	state := filepath.Join(filepath.Dir(path), "state")
	tokenFile := filepath.Join(state, "admin.token")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, content string
		replaced      bool
	}{
		{"empty, as a full disk leaves it", "", true},
		{"cut short", "3fa9c0d2", true},
		{"white space only", " \n", true},
		{"the operator's own", "operator-chosen-secret\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(tokenFile, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			e := startEdgeArgs(t, filepath.Dir(path), 2, []string{"serve", "--config", path})
			defer e.stop()
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				t.Fatal(err)
			}
			tok := strings.TrimSpace(string(b))
			switch {
			case tt.replaced && !generatedToken.Match(b):
				t.Fatalf("token file after start: %q; want a new 64-digit token", b)
			case tt.replaced:
				mustContain(t, e.Log(), `msg="admin.token_file holds no complete token; writing a new one"`)
			case string(b) != tt.content:
				t.Fatalf("token file after start: %q; want the operator's %q kept", b, tt.content)
			}
			if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("token file mode: %v %v; want 0600", fi.Mode(), err)
			}
			left, _ := filepath.Glob(filepath.Join(state, ".admin.token.tmp-*"))
			if len(left) > 0 {
				t.Errorf("temporary files left beside the token: %q", left)
			}
			if got := adminGet(t, e.Addr("admin"), "/metrics", e.Addr("admin"), "Bearer "+tok); got != 200 {
				t.Errorf("metrics with the token in the file: %d; want 200", got)
			}
		})
	}
}

// TestAdminAPIE2E: the scheme is matched without regard to case, and a
// Host that is not a loopback name or an IP address is refused, which
// shuts out DNS rebinding; validate warns about an admin listener off
// loopback.
func TestAdminAPIE2E(t *testing.T) {
	origin, _ := reloadOrigin(t)
	path := writeConfig(t, withAdmin(reloadConfig(origin.URL, testICP, ""), "127.0.0.1:0"))
	e := startEdgeArgs(t, filepath.Dir(path), 2, []string{"serve", "--config", path})
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "state", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	addr := e.Addr("admin")
	for _, tt := range []struct {
		host, auth string
		want       int
	}{
		{addr, "Bearer " + tok, 200},
		{addr, "bearer " + tok, 200},
		{addr, "BEARER " + tok, 200},
		{"localhost:" + portOf(addr), "Bearer " + tok, 200},
		{"rebound.evil.example:" + portOf(addr), "Bearer " + tok, 421},
		{"rebound.evil.example", "", 421},
		{addr, "Bearer wrong", 401},
	} {
		if got := adminGet(t, addr, "/metrics", tt.host, tt.auth); got != tt.want {
			t.Errorf("GET /metrics with Host %q, Authorization %q: %d; want %d", tt.host, strings.Replace(tt.auth, tok, "<token>", 1), got, tt.want)
		}
	}
	mustContain(t, e.waitLog("admin request refused", 20*time.Second), `host=rebound.evil.example`)

	// validate: a warning, not a failure.
	openPath := writeConfig(t, withAdmin(reloadConfig(origin.URL, testICP, ""), "0.0.0.0:9081"))
	out, err := exec.Command(binPath, "validate", "--config", openPath).CombinedOutput()
	if err != nil {
		t.Fatalf("validate: %v; want success with a warning:\n%s", err, out)
	}
	mustContain(t, string(out), `site.yaml:14: warning: admin.listen: "0.0.0.0:9081" listens on every interface`)
	mustContain(t, string(out), "site.yaml: ok")
	if out, _ := exec.Command(binPath, "validate", "--config", path).CombinedOutput(); strings.Contains(string(out), "warning") {
		t.Errorf("validate of a loopback admin listener warned:\n%s", out)
	}
}
