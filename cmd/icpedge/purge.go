package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/admin"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/config"
)

const purgeSynopsis = "purge (--config FILE | --config-dir DIR) (URL | --prefix PATH | --all) [--host HOST] [--json]"

// purgeResult is what purge --json prints.
type purgeResult struct {
	Purged int    `json:"purged"`
	URL    string `json:"url,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	All    bool   `json:"all,omitempty"`
	Host   string `json:"host,omitempty"`
	// Nodes are the cluster's nodes that applied it, this one first;
	// absent without a cluster block.
	Nodes []string `json:"nodes,omitempty"`
}

func purgeMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("purge", purgeSynopsis, stdout, stderr)
	path := fs.String("config", "", "the client's YAML config `file` (serve --config)")
	dir := fs.String("config-dir", "", "the shared process's config `DIR` (serve --config-dir)")
	prefix := fs.String("prefix", "", "purge every URL whose path starts with `PATH`")
	all := fs.Bool("all", false, "purge everything")
	host := fs.String("host", "", "with --config-dir: purge only the cache of the client serving `HOST` (a URL's own host does this too)")
	asJSON := fs.Bool("json", false, `print {"purged": N, ...} for scripts`)
	adminFlags := procAdminFlags(fs)
	target, ok, code := fs.ParseInterleaved(args)
	if !ok {
		return code
	}
	q := url.Values{}
	res := purgeResult{Prefix: *prefix, All: *all, Host: strings.ToLower(*host)}
	switch {
	case (*path == "") == (*dir == ""):
		_, code := fs.UsageError("give one of --config FILE or --config-dir DIR")
		return code
	case *path != "" && (adminFlags.given() || *host != ""):
		_, code := fs.UsageError("--admin, --admin-token-file and --host only apply with --config-dir; with --config the file sets the admin listener")
		return code
	case len(target) == 1 && *prefix == "" && !*all:
		res.URL = target[0]
		q.Set("url", target[0])
	case len(target) == 0 && *prefix != "" && !*all:
		q.Set("prefix", *prefix)
	case len(target) == 0 && *prefix == "" && *all:
		q.Set("all", "1")
	default:
		_, code := fs.UsageError("give exactly one of URL, --prefix PATH or --all")
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "icpedge purge: "+format+"\n", a...)
		return 1
	}
	if u, err := url.Parse(res.URL); err == nil && u.Host != "" && res.Host == "" {
		res.Host = strings.ToLower(u.Hostname())
	}

	src := config.Source{File: *path, Dir: *dir}
	cfgs, _, err := src.Load()
	if err != nil {
		return fail("%v", err)
	}
	if *dir != "" && res.Host != "" {
		// The client a host names must be one of the directory's, or the
		// purge would reach nothing and say only that. The edge takes
		// the origin's names too, as the origin's software writes its
		// URLs.
		if !slices.ContainsFunc(cfgs, func(c *config.Config) bool { return c.Names(res.Host) }) {
			return fail("no client's file in %s serves %s", *dir, res.Host)
		}
		q.Set("host", res.Host)
	}
	c, err := admin.New(admin.Listener(src, cfgs, adminFlags.value()))
	if errors.Is(err, admin.ErrOff) {
		if *path != "" {
			return fail("%s has admin.listen off; set it (e.g. 127.0.0.1:9080) and restart the edge to reach it", *path)
		}
		return fail("--admin is empty; give the process's admin listener (serve --admin)")
	}
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res.Purged, res.Nodes, err = c.Purge(ctx, q); err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(res)
	}
	if res.Purged == 0 {
		fmt.Fprintf(stderr, "icpedge purge: nothing matched %s: no entry stored (never fetched, not cacheable, or already purged)\n", res.what())
		return 1
	}
	if !*asJSON {
		line := fmt.Sprintf("purged %s %s", entries(res.Purged), res.what())
		if len(res.Nodes) > 0 {
			line += "; applied by " + strings.Join(res.Nodes, ", ")
		}
		fmt.Fprintln(stdout, line)
	}
	return 0
}

// what says what a purge was for, as its output line ends.
func (r purgeResult) what() string {
	var s string
	switch {
	case r.URL != "":
		s = "for " + r.URL
	case r.Prefix != "":
		s = "under " + r.Prefix
	default:
		s = "in the whole cache"
	}
	if r.Host != "" && r.URL == "" {
		s += " of " + r.Host
	}
	return s
}

func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
