package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icpedge/icpedge/config"
)

// edgeAdmin is a stand-in for an edge's admin listener: it checks the
// token, records the last request, and answers with status and body.
type edgeAdmin struct {
	*httptest.Server
	status int
	body   string
	last   *http.Request
}

func newEdgeAdmin(t *testing.T) (*edgeAdmin, config.Admin) {
	t.Helper()
	a := &edgeAdmin{status: http.StatusOK}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		a.last = r
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(a.Close)
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return a, config.Admin{Listen: strings.TrimPrefix(a.URL, "http://"), TokenFile: tokenFile}
}

func TestNew(t *testing.T) {
	if _, err := New(config.Admin{TokenFile: "/nonexistent"}); !errors.Is(err, ErrOff) {
		t.Errorf("listener off: err %v; want ErrOff", err)
	}
	_, err := New(config.Admin{Listen: "127.0.0.1:9080", TokenFile: filepath.Join(t.TempDir(), "none")})
	if err == nil || !strings.Contains(err.Error(), "reading the admin token: ") || !strings.Contains(err.Error(), "run this as root or as the user the edge runs as") {
		t.Errorf("token file missing: err %v; want it named, with what to do", err)
	}
	_, a := newEdgeAdmin(t)
	a.TokenFile = filepath.Join(t.TempDir(), "other.token")
	os.WriteFile(a.TokenFile, []byte("wrong"), 0o600)
	c, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Purge(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "refused the token") {
		t.Errorf("wrong token: err %v; want the refusal", err)
	}
}

func TestDialAddr(t *testing.T) {
	for listen, want := range map[string]string{
		":9080":            "127.0.0.1:9080",
		"0.0.0.0:9080":     "127.0.0.1:9080",
		"[::]:9080":        "127.0.0.1:9080",
		"127.0.0.2:9080":   "127.0.0.2:9080",
		"[::1]:9080":       "[::1]:9080",
		"admin.local:9080": "admin.local:9080",
		"garbage":          "garbage",
	} {
		if got := DialAddr(listen); got != want {
			t.Errorf("DialAddr(%q) = %q; want %q", listen, got, want)
		}
	}
}

func TestPurge(t *testing.T) {
	srv, a := newEdgeAdmin(t)
	c, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.body = `{"purged": 3, "nodes": ["n1", "n2"]}`
	n, nodes, err := c.Purge(ctx, map[string][]string{"prefix": {"/blog/"}, "host": {"icp.client.com"}})
	if err != nil || n != 3 || strings.Join(nodes, ",") != "n1,n2" {
		t.Errorf("Purge = %d, %q, %v; want 3, [n1 n2], nil", n, nodes, err)
	}
	if srv.last.Method != http.MethodPost || srv.last.URL.Path != "/purge" || srv.last.URL.Query().Get("prefix") != "/blog/" || srv.last.URL.Query().Get("host") != "icp.client.com" {
		t.Errorf("request %s %s; want POST /purge with the query", srv.last.Method, srv.last.URL)
	}

	for _, tt := range []struct {
		status  int
		body    string
		wantErr string
	}{
		{http.StatusBadRequest, `{"error": "url: not on this edge"}`, "url: not on this edge"},
		{http.StatusInternalServerError, "boom\n", "the admin listener at " + c.addr + " answered 500: boom"},
		{http.StatusOK, `{"nodes": []}`, "answered 200"},
	} {
		srv.status, srv.body = tt.status, tt.body
		if _, _, err := c.Purge(ctx, nil); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("answer %d %q: err %v; want %q", tt.status, tt.body, err, tt.wantErr)
		}
	}

	srv.Close()
	if _, _, err := c.Purge(ctx, nil); err == nil || !strings.Contains(err.Error(), "reaching the edge's admin listener at "+c.addr) || !strings.Contains(err.Error(), "is the edge running?") {
		t.Errorf("edge down: err %v; want the address and a hint", err)
	}
}

func TestReload(t *testing.T) {
	srv, a := newEdgeAdmin(t)
	c, err := New(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	served := filepath.Join(dir, "sites")
	os.Mkdir(served, 0o755)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(served, link); err != nil {
		t.Fatal(err)
	}

	srv.body = `{"reloaded": true, "source": "` + served + `", "clients": ["a", "b"]}`
	ans, err := c.Reload(ctx, link)
	if err != nil || !ans.Reloaded || strings.Join(ans.Clients, ",") != "a,b" {
		t.Errorf("Reload through a link to the served directory = %+v, %v; want reloaded, clients a and b", ans, err)
	}
	if srv.last.Method != http.MethodPost || srv.last.URL.Path != "/reload" {
		t.Errorf("request %s %s; want POST /reload", srv.last.Method, srv.last.URL)
	}

	srv.status = http.StatusUnprocessableEntity
	srv.body = `{"reloaded": false, "source": "` + served + `", "problems": [{"client": "b", "problem": "b.yaml:3: origin"}]}`
	if ans, err := c.Reload(ctx, served); err != nil || ans.Reloaded || len(ans.Problems) != 1 || ans.Problems[0].Client != "b" {
		t.Errorf("refused reload = %+v, %v; want its problems and no error", ans, err)
	}

	for _, tt := range []struct {
		status  int
		body    string
		wantErr string
	}{
		{http.StatusNotFound, "404 page not found", "offers no reload through its admin API"},
		{http.StatusBadGateway, "<html>", "the admin listener at " + c.addr + " answered 502: <html>"},
		{http.StatusServiceUnavailable, `{"error": "a reload is already running"}`, "the edge did not reload: a reload is already running"},
		{http.StatusOK, `{"reloaded": true, "source": "/etc/icpedge/other.yaml"}`, "serves /etc/icpedge/other.yaml, not " + served + ": it reloaded that config instead"},
	} {
		srv.status, srv.body = tt.status, tt.body
		if _, err := c.Reload(ctx, served); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("answer %d %q: err %v; want %q", tt.status, tt.body, err, tt.wantErr)
		}
	}
}

// A config file's own admin block is used with --config; the process's
// with --config-dir, whatever its files say.
func TestListener(t *testing.T) {
	file := &config.Config{Admin: config.Admin{Listen: "127.0.0.1:9081", TokenFile: "/var/lib/icpedge/acme/admin.token"}}
	proc := config.Admin{Listen: "127.0.0.1:9080", TokenFile: "/var/lib/icpedge/admin.token"}
	if got := Listener(config.Source{File: "acme.yaml"}, []*config.Config{file}, proc); got != file.Admin {
		t.Errorf("--config: %+v; want the file's %+v", got, file.Admin)
	}
	if got := Listener(config.Source{Dir: "sites"}, []*config.Config{file}, proc); got != proc {
		t.Errorf("--config-dir: %+v; want the process's %+v", got, proc)
	}
}
