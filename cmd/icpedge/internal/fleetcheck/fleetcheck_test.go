package fleetcheck

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance/rdaptest"
	"github.com/icpedge/icpedge/config"
)

const testICP = "京ICP备12345678号-1"

// page is a home page that keeps the filing: the number, linked to MIIT.
const page = `<!doctype html><html><head><title>Client</title></head><body>
<h1>Welcome</h1><p>Our products and services, described at length for visitors.</p>
<footer><a href="https://beian.miit.gov.cn/">` + testICP + `</a></footer></body></html>`

// site serves page and counts its requests.
func site(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// clientConfig is the config of client name, serving host over plain
// HTTP on listen, its state directory absent (not this machine's edge).
func clientConfig(t *testing.T, name, host, listen string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	yaml := "hosts: [" + host + "]\norigin: https://www.client.com.cn\nnotice:\n  icp: " + testICP + "\n" +
		"listen:\n  http: " + listen + "\n  https: \"\"\ntls:\n  mode: off\nstate_dir: " + filepath.Join(dir, "state") + "\n"
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Run checks a config's site where --resolve says its edge listens,
// names its results after the config, reports progress, and checks a
// URL no config serves on its own.
func TestRun(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the RDAP bootstrap file is kept there
	rdap := rdaptest.NewServer(t)
	edgeSrv, edgeHits := site(t)
	other, otherHits := site(t)
	_, port, _ := net.SplitHostPort(edgeSrv.Listener.Addr().String())
	cfg := clientConfig(t, "acme", "icp.client.com.cn", "127.0.0.1:"+port)
	targets, err := Targets([]string{other.URL})
	if err != nil {
		t.Fatal(err)
	}

	var progress bytes.Buffer
	rep, err := Run(context.Background(), []*config.Config{cfg}, targets, Options{
		Resolve:       []string{"icp.client.com.cn:" + port + ":127.0.0.1"},
		Pages:         0,
		RDAPBootstrap: rdap.BootstrapURL(),
		Named:         true,
		Progress:      &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]compliance.Result{}
	for _, r := range rep.Results {
		got[r.Site+" "+r.Check] = r
	}
	for _, tt := range []struct {
		key, config string
		status      compliance.Status
		detail      string
	}{
		{"icp.client.com.cn " + compliance.CheckReachable, "acme", compliance.OK, ""},
		{"icp.client.com.cn " + compliance.CheckICP, "acme", compliance.OK, ""},
		{"icp.client.com.cn " + compliance.CheckDNS, "acme", compliance.Skip, "--resolve says where the edge is"},
		{"client.com.cn " + compliance.CheckDomainExpiry, "acme", compliance.OK, ""},
		{"127.0.0.1 " + compliance.CheckReachable, "", compliance.OK, ""},
	} {
		r, ok := got[tt.key]
		if !ok {
			t.Errorf("no %s result; got %v", tt.key, rep.Results)
			continue
		}
		if r.Config != tt.config || r.Status != tt.status || !strings.Contains(r.Detail, tt.detail) {
			t.Errorf("%s: config %q, %s %q; want config %q, %s with %q", tt.key, r.Config, r.Status, r.Detail, tt.config, tt.status, tt.detail)
		}
	}
	if edgeHits.Load() == 0 || otherHits.Load() == 0 {
		t.Errorf("requests: edge %d, other %d; want both reached", edgeHits.Load(), otherHits.Load())
	}
	if !strings.HasPrefix(progress.String(), "icpedge check: [1/1] acme: ") || strings.Count(progress.String(), "\n") != 1 {
		t.Errorf("progress %q; want one line for acme", progress.String())
	}
}

func TestRunBadOptions(t *testing.T) {
	pemless := filepath.Join(t.TempDir(), "roots.pem")
	os.WriteFile(pemless, []byte("not a certificate"), 0o600)
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{RDAPBootstrap: "ftp://x"}, `--rdap-bootstrap "ftp://x": expected an http or https URL`},
		{Options{Resolve: []string{"nonsense"}}, "nonsense"},
		{Options{DNS: "127.0.0.1"}, `--dns "127.0.0.1": expected host:port, e.g. 127.0.0.1:53`},
		{Options{CA: filepath.Join(t.TempDir(), "none.pem")}, "--ca: open "},
		{Options{CA: pemless}, "--ca: " + pemless + " holds no PEM certificate"},
	} {
		rep, err := Run(context.Background(), nil, []*url.URL{{Scheme: "http", Host: "127.0.0.1:1", Path: "/"}}, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) || len(rep.Results) > 0 {
			t.Errorf("%+v: err %v, %d results; want %q and nothing checked", tt.o, err, len(rep.Results), tt.want)
		}
	}
}

func TestTargets(t *testing.T) {
	got, err := Targets([]string{"https://icp.client.com", "http://127.0.0.1:8080/a?b"})
	if err != nil || len(got) != 2 || got[0].Path != "/" || got[1].String() != "http://127.0.0.1:8080/a?b" {
		t.Errorf("Targets = %v, %v; want both, the first with path /", got, err)
	}
	for _, bad := range []string{"icp.client.com", "ftp://x/", "https:///path", "http://[::1"} {
		if _, err := Targets([]string{bad}); err == nil || !strings.Contains(err.Error(), "is not an http or https URL") {
			t.Errorf("Targets(%q): err %v; want it refused", bad, err)
		}
	}
}

// useListenPort moves a site onto its listener's port only when
// --resolve sends that port somewhere.
func TestUseListenPort(t *testing.T) {
	cfg := &config.Config{Listen: config.Listen{HTTP: "127.0.0.1:8080", HTTPS: ":8443"}}
	resolved := resolvedHosts([]string{"ICP.client.com:8080:127.0.0.1", "icp.client.com:8443:127.0.0.1", "other.com:80:127.0.0.1"})
	for _, tt := range []struct {
		in, want string
		named    bool
	}{
		{"http://icp.client.com/", "http://icp.client.com:8080/", true},
		{"https://icp.client.com/", "https://icp.client.com:8443/", true},
		{"https://icp.client.com:9443/", "https://icp.client.com:9443/", true},
		{"http://other.com/", "http://other.com/", true},
		{"http://unnamed.com/", "http://unnamed.com/", false},
	} {
		u, _ := url.Parse(tt.in)
		if named := useListenPort(u, cfg, resolved); named != tt.named || u.String() != tt.want {
			t.Errorf("%s: %s, %v; want %s, %v", tt.in, u, named, tt.want, tt.named)
		}
	}
}

func TestSummary(t *testing.T) {
	for _, tt := range []struct {
		problems, warnings int
		want               string
	}{
		{0, 0, "ok"}, {1, 0, "1 problem"}, {0, 2, "2 warnings"}, {3, 1, "3 problems, 1 warning"},
	} {
		if got := summary(compliance.Report{Problems: tt.problems, Warnings: tt.warnings}); got != tt.want {
			t.Errorf("summary(%d, %d) = %q; want %q", tt.problems, tt.warnings, got, tt.want)
		}
	}
}
