package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/icpedge/icpedge/config"
)

func purgeMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("purge", "purge --config FILE (URL | --prefix PATH | --all)", stdout, stderr)
	path := fs.String("config", "", "the instance's YAML config `file` (required)")
	prefix := fs.String("prefix", "", "purge every URL whose path starts with `PATH`")
	all := fs.Bool("all", false, "purge everything")
	target, ok, code := fs.parseInterleaved(args)
	if !ok {
		return code
	}
	q := url.Values{}
	switch {
	case *path == "":
		fmt.Fprintln(stderr, "icpedge purge: --config FILE is required")
		return 2
	case len(target) == 1 && *prefix == "" && !*all:
		q.Set("url", target[0])
	case len(target) == 0 && *prefix != "" && !*all:
		q.Set("prefix", *prefix)
	case len(target) == 0 && *prefix == "" && *all:
		q.Set("all", "1")
	default:
		fmt.Fprintln(stderr, "icpedge purge: give exactly one of URL, --prefix PATH or --all")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge purge: %v\n", err)
		return 1
	}
	if cfg.Admin.Listen == "" {
		fmt.Fprintf(stderr, "icpedge purge: %s has admin.listen off; set it to reach the running instance\n", cfg.File)
		return 1
	}
	tok, err := os.ReadFile(cfg.Admin.TokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge purge: reading admin.token_file: %v (the instance creates it on first start)\n", err)
		return 1
	}
	addr := dialAddr(cfg.Admin.Listen)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/purge?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge purge: %v\n", err)
		return 1
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge purge: reaching the instance's admin listener at %s: %v\n", addr, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "icpedge purge: %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	return 0
}

// dialAddr turns a listen address into one to dial: an unspecified host
// becomes loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
