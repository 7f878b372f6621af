package edge

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icpedge/icpedge/config"
)

// The admin API serves Go's profiles behind its token.
func TestAdminProfiles(t *testing.T) {
	origin, _ := countingOrigin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.yaml")
	writeFile(t, path, edgeYAML("a.client.test", origin.URL, tlsTestICP))
	cfg, err := loadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "admin.token")
	_, st := runEdge(t, []*config.Config{cfg}, Options{
		Listen: config.Listen{HTTP: "127.0.0.1:0"},
		Admin:  config.Admin{Listen: "127.0.0.1:0", TokenFile: tokenFile},
	})
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	fetch := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+st.Admin.String()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := fetch("/debug/pprof/goroutine?debug=1", ""); code != http.StatusUnauthorized {
		t.Errorf("profile without the token: got %d; want 401", code)
	}
	code, body := fetch("/debug/pprof/goroutine?debug=1", strings.TrimSpace(string(token)))
	if code != 200 || !strings.Contains(body, "goroutine profile:") || !strings.Contains(body, "edge.(*Edge).Run") {
		t.Errorf("goroutine profile with the token: got %d %.200q; want the running edge's goroutines", code, body)
	}
	if code, body := fetch("/debug/pprof/", strings.TrimSpace(string(token))); code != 200 || !strings.Contains(body, "heap") {
		t.Errorf("profile index: got %d %.200q; want the list of profiles", code, body)
	}
}
