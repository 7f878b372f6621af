package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/cluster"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/edge"
	"github.com/icpedge/icpedge/config"
)

// dirModeFlags are the serve flags that only --config-dir takes: in
// single-file mode the file says these things itself.
var dirModeFlags = []string{"listen-http", "listen-https", "admin", "admin-token-file", "log-format", "log-level", "buffer-memory"}

func serveMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("serve", "serve --config FILE | --config-dir DIR [flags]", stdout, stderr)
	path := fs.String("config", "", "serve one client from its YAML config `file`")
	dir := fs.String("config-dir", "", "serve every client whose *.yaml file is in `DIR`, one process for all, routed by Host and SNI")
	cacheRoot := fs.String("cache-root", "", "put each client's cache in `DIR`/<name> (name: its file's name without .yaml) when its cache.dir is left at the default")
	listenHTTP := fs.String("listen-http", ":80", "with --config-dir: the HTTP listener for every client (a file's listen.http must be this or empty)")
	listenHTTPS := fs.String("listen-https", ":443", "with --config-dir: the HTTPS listener for every client (a file's listen.https must be this or empty)")
	adminAddr := fs.String("admin", "127.0.0.1:9080", "with --config-dir: the admin listener for the process (\"\" for none); the files' admin keys are not used")
	tokenFile := fs.String("admin-token-file", "/var/lib/icpedge/admin.token", "with --config-dir: the admin bearer token `file`, created on first start")
	logFormat := fs.String("log-format", "text", "with --config-dir: text or json")
	logLevel := fs.String("log-level", "info", "with --config-dir: debug, info, warn or error")
	bufferMemory := fs.String("buffer-memory", "64MiB", "with --config-dir: the memory `size` bodies buffered at once may take, for the process and all its clients; the files' limits.buffer_memory is not used")
	if ok, code := fs.ParseFlagsOnly(args); !ok {
		return code
	}
	if (*path == "") == (*dir == "") {
		fmt.Fprintln(stderr, "icpedge serve: give one of --config FILE or --config-dir DIR")
		return 2
	}
	if *path != "" {
		var bad []string
		fs.Visit(func(f *flag.Flag) {
			if slices.Contains(dirModeFlags, f.Name) {
				bad = append(bad, "--"+f.Name)
			}
		})
		if len(bad) > 0 {
			fmt.Fprintf(stderr, "icpedge serve: %s only apply with --config-dir; with --config the file sets them\n", strings.Join(bad, ", "))
			return 2
		}
	}
	opts := edge.Options{CacheRoot: *cacheRoot, Level: new(slog.LevelVar), Getenv: os.Getenv, Version: buildVersion()}
	if *dir != "" {
		n, ok := config.ParseSize(*bufferMemory)
		if !ok || n <= 0 {
			fmt.Fprintf(stderr, "icpedge serve: --buffer-memory %q: expected a positive size, e.g. 64MiB\n", *bufferMemory)
			return 2
		}
		opts.BufferMemory = n
	}
	opts.Load = config.Source{File: *path, Dir: *dir}.LoadChecked
	if *path != "" {
		opts.Single = true
		opts.Source, _ = filepath.Abs(*path)
	} else {
		opts.Source, _ = filepath.Abs(*dir)
		opts.Listen = config.Listen{HTTP: *listenHTTP, HTTPS: *listenHTTPS}
		opts.Admin = config.Admin{Listen: *adminAddr, TokenFile: *tokenFile}
	}
	initial, broken, err := opts.Load()
	if err != nil {
		fmt.Fprintf(stderr, "icpedge serve: %v\n", err)
		return 1
	}
	logCfg := config.Log{Format: *logFormat, Level: *logLevel}
	if opts.Single {
		logCfg = initial[0].Log
	}
	if err := opts.Level.UnmarshalText([]byte(logCfg.Level)); err != nil {
		fmt.Fprintf(stderr, "icpedge serve: log level: %v\n", err)
		return 2
	}
	if logCfg.Format != "text" && logCfg.Format != "json" {
		fmt.Fprintf(stderr, "icpedge serve: log format %q: expected text or json\n", logCfg.Format)
		return 2
	}
	opts.LogFormat = logCfg.Format
	opts.Logger = newLevelLogger(logCfg.Format, opts.Level, stderr)
	// The Redis client's own logger is process-wide: set once, before any
	// cluster node opens.
	cluster.LogTo(opts.Logger)
	if opts.Single {
		for _, w := range initial[0].Warnings(time.Now()) {
			if w.Key == "admin.listen" {
				opts.Logger.Warn("admin listener not on loopback", "problem", w.Error())
			}
		}
	}

	opts.Broken = broken
	e, err := edge.New(initial, opts)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge serve: %v\n", err)
		return 1
	}
	limit := setMemoryLimit(initial, opts.Logger)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if limit > 0 {
		go keepMemoryLimit(ctx, limit, e.IndexMemory, opts.Logger)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// SIGHUP reloads: this goroutine forwards each to the edge, whose
	// Run loop does the work and logs the outcome; it ends with ctx,
	// when Run does.
	go func() {
		for {
			select {
			case <-hup:
				_ = e.Reload(ctx)
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := e.Run(ctx); err != nil {
		opts.Logger.Error("icpedge stopped", "err", err)
		return 1
	}
	return 0
}

// newLevelLogger returns the main log: text or json on w, at level (a
// *slog.LevelVar lets a reload change it).
func newLevelLogger(format string, level slog.Leveler, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
