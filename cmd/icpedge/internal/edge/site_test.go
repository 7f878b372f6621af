package edge

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testpki"
	"github.com/icpedge/icpedge/config"
)

// TestBuildSiteBadFiles builds sites straight from configs whose named
// files can't be used, as when a file changes between the check at load
// and its use: each build fails with the key named, leaves the site it
// was to replace untouched, and does not panic.
func TestBuildSiteBadFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testpki.WritePair(t, dir, tlsTestHost, 1)
	load := func(extra string) *config.Config {
		t.Helper()
		path := filepath.Join(dir, "site.yaml")
		yaml := tlsEdgeConfig("http://127.0.0.1:1", "127.0.0.1:0", "127.0.0.1:0", extra)
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	manual := func(cert string) string {
		return "tls:\n  mode: manual\n  cert_file: " + cert + "\n  key_file: " + keyFile + "\n"
	}
	e := &Edge{single: true, logger: slog.New(slog.DiscardHandler), bg: context.Background()}
	prev, err := e.buildSite(e.bg, load(manual(certFile)+"log:\n  access_file: access.log\n"), nil)
	if err != nil {
		t.Fatalf("good config: %v", err)
	}
	defer func() {
		prev.retire()
		closeSite(e.bg, prev, nil)
	}()

	for _, tt := range []struct {
		name, extra, key string
	}{
		{"origin_ca missing", manual(certFile) + "origin_ca: missing.pem\n", "origin_ca"},
		{"origin_ca not PEM", manual(certFile) + "origin_ca: " + keyFile + "\n", "origin_ca"},
		{"access log in a missing directory", manual(certFile) + "log:\n  access_file: nowhere/access.log\n", "log.access_file"},
		{"certificate missing", manual(filepath.Join(dir, "missing.pem")), "tls.cert_file"},
		{"certificate missing, access log taken over", manual(filepath.Join(dir, "missing.pem")) + "log:\n  access_file: access.log\n", "tls.cert_file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, from := range []*site{nil, prev} {
				s, err := e.buildSite(e.bg, load(tt.extra), from)
				if err == nil || s != nil {
					t.Fatalf("buildSite: got %v, %v; want an error", s, err)
				}
				if want := "site.yaml:"; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ": "+tt.key+": ") {
					t.Errorf("error %q; want it to name the file, line and %s", err, tt.key)
				}
			}
			// What the failed builds took over is still open.
			if _, err := prev.access.Write([]byte("after a failed build\n")); err != nil {
				t.Errorf("the current site's access log was closed: %v", err)
			}
			if c, _ := prev.tls.manual.GetCertificate(nil); c == nil {
				t.Error("the current site lost its certificate")
			}
		})
	}
}
