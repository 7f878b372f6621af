package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/edge"
)

// Reload asks the edge to reload its config (POST /reload) and returns
// its outcome, whether or not it took the new config whole. source is
// the config file or directory the edge must be serving; an edge that
// serves another has reloaded the wrong config, and that is an error,
// as are an edge that offers no reload and one that could not run it.
func (c *Client) Reload(ctx context.Context, source string) (edge.ReloadAnswer, error) {
	var ans edge.ReloadAnswer
	status, body, err := c.post(ctx, "/reload", nil)
	if err != nil {
		return ans, err
	}
	switch {
	case status == http.StatusNotFound:
		return ans, fmt.Errorf("the edge at %s offers no reload through its admin API (an older icpedge?): restart it, or send it SIGHUP", c.addr)
	case json.Unmarshal(body, &ans) != nil:
		return ans, fmt.Errorf("the admin listener at %s answered %d: %s", c.addr, status, strings.TrimSpace(string(body)))
	case ans.Error != "":
		return ans, fmt.Errorf("the edge did not reload: %s", ans.Error)
	}
	if abs, err := filepath.Abs(source); err == nil {
		source = abs
	}
	if ans.Source != "" && !sameFile(ans.Source, source) {
		return ans, fmt.Errorf("the edge at %s serves %s, not %s: it reloaded that config instead; check admin.listen (or --admin)", c.addr, ans.Source, source)
	}
	return ans, nil
}

// sameFile reports whether a and b name one file or directory, even
// through different paths (a symbolic link, another working directory).
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
