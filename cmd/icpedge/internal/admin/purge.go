package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Purge asks the edge to purge what q names (POST /purge: url, prefix
// or all, and host), and returns how many entries it removed and, in a
// cluster, the nodes that applied it, the edge's own first. The edge's
// own error message, when it gives one, is the error.
func (c *Client) Purge(ctx context.Context, q url.Values) (purged int, nodes []string, err error) {
	status, body, err := c.post(ctx, "/purge", q)
	if err != nil {
		return 0, nil, err
	}
	var ans struct {
		Purged *int     `json:"purged"`
		Error  string   `json:"error"`
		Nodes  []string `json:"nodes"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &ans) != nil || ans.Purged == nil {
		if ans.Error != "" {
			return 0, nil, fmt.Errorf("%s", ans.Error)
		}
		return 0, nil, fmt.Errorf("the admin listener at %s answered %d: %s", c.addr, status, strings.TrimSpace(string(body)))
	}
	return *ans.Purged, ans.Nodes, nil
}
