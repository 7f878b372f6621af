package status_test

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/status"
)

func Example() {
	// One Window per site, fed from the request path.
	w := status.NewWindow(nil)
	w.Served("hit", false)
	w.Served("miss", false)
	w.Fetched(180*time.Millisecond, nil)
	w.Fetched(2*time.Second, errors.New("origin answered 502"))
	w.Served("stale", true)

	page := status.New(status.Options{
		Token: "the content of admin.token_file",
		Data: func() status.Page {
			return status.Page{Sites: []status.Site{{
				Hosts:   []string{"icp.client.com"},
				Checks:  []status.Check{{Name: "notice", Result: status.Fail, At: time.Now(), Reason: "no ICP number on /"}},
				Traffic: w.Traffic(),
			}}}
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/{$}", page)

	t := w.Traffic()
	ratio, _ := t.HitRatio()
	fmt.Printf("hit ratio %.0f%%, %d fetches, %d failed, %d stale on error, last error %q\n", ratio*100, t.Fetches, t.FetchErrors, t.StaleOnError, t.LastError)
	// Output: hit ratio 67%, 2 fetches, 1 failed, 1 stale on error, last error "origin answered 502"
}
