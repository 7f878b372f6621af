package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/admin"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/warm"
	"github.com/icpedge/icpedge/config"
	"golang.org/x/term"
)

const warmSynopsis = "warm (--config FILE | --config-dir DIR [NAME...]) [--sitemap URL] [--concurrency N] [--rate R]"

func warmMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("warm", warmSynopsis, stdout, stderr)
	path := fs.String("config", "", "the client's YAML config `file`")
	dir := fs.String("config-dir", "", "the shared process's config `DIR`: warm the clients NAME... (file names without .yaml), or all")
	sitemap := fs.String("sitemap", "", "read this sitemap `URL` instead of the edge's /sitemap.xml")
	concurrency := fs.Int("concurrency", 4, "the most pages fetched at once")
	rate := fs.Float64("rate", 5, "the most requests started per second")
	listen := procListenFlags(fs)
	adminFlags := procAdminFlags(fs)
	// Names follow --config-dir, and flags may come after them.
	names, ok, code := fs.ParseInterleaved(args)
	if !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "icpedge warm: "+format+"\n", a...)
		return 2
	}
	switch {
	case (*path == "") == (*dir == ""):
		return fail("give one of --config FILE or --config-dir DIR")
	case *path != "" && len(names) > 0:
		return fail("client names only go with --config-dir: %s", strings.Join(names, " "))
	case *concurrency < 1:
		return fail("--concurrency %d: expected 1 or more", *concurrency)
	case !(*rate > 0):
		return fail("--rate %v: expected more than 0 pages per second", *rate)
	}

	src := config.Source{File: *path, Dir: *dir}
	cfgs, broken, err := src.Load()
	if err == nil && *dir != "" {
		cfgs, err = warm.Select(*dir, cfgs, broken, names, listen.value())
	}
	if err != nil {
		fmt.Fprintf(stderr, "icpedge warm: %v\n", err)
		return 1
	}
	proc := admin.Listener(src, cfgs, adminFlags.value())
	if *sitemap != "" && len(cfgs) > 1 {
		return fail("--sitemap is for one client; name it after --config-dir DIR")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	terminal := false
	if f, ok := stdout.(*os.File); ok {
		terminal = term.IsTerminal(int(f.Fd()))
	}
	code = 0
	for _, cfg := range cfgs {
		if len(cfgs) > 1 {
			fmt.Fprintf(stdout, "== %s\n", cfg.Name())
		}
		o, notes, err := warm.ForConfig(ctx, cfg, proc)
		for _, n := range notes {
			fmt.Fprintf(stderr, "icpedge warm: %s\n", n)
		}
		if err != nil {
			fmt.Fprintf(stderr, "icpedge warm: %s: %v\n", cfg.File, err)
			code = 1
			continue
		}
		o.Sitemap, o.Concurrency, o.Rate = *sitemap, *concurrency, *rate
		o.Progress, o.Terminal = stdout, terminal
		rep, err := warm.Run(ctx, o)
		if rep != nil {
			rep.WriteSummary(stdout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "icpedge warm: %s: %v\n", cfg.Name(), err)
			code = 1
		} else if !rep.OK() {
			code = 1
		}
		if ctx.Err() != nil {
			break
		}
	}
	return code
}
