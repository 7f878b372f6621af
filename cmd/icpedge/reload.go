package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/admin"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/config"
)

const reloadSynopsis = "reload (--config FILE | --config-dir DIR [--admin ADDR] [--admin-token-file FILE]) [--pid PID] [--timeout D]"

// reloadMain checks the files as validate does, asks the running edge
// to reload through its admin API (POST /reload) and waits for the
// outcome, like nginx -s reload after nginx -t, or caddy reload: status
// 0 means the new config serves, 1 that it does not, with the edge's
// reasons.
func reloadMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("reload", reloadSynopsis, stdout, stderr)
	path := fs.String("config", "", "the config `file` the edge serves (serve --config)")
	dir := fs.String("config-dir", "", "the config `DIR` the edge serves (serve --config-dir)")
	listen := procListenFlags(fs)
	adminFlags := procAdminFlags(fs)
	pid := fs.Int("pid", 0, "when the admin listener is off, send SIGHUP to this process once the files check out;\nits outcome is then only in the edge's log (systemd's ExecReload passes $MAINPID)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the edge's outcome")
	if ok, code := fs.ParseFlagsOnly(args); !ok {
		return code
	}
	switch {
	case (*path == "") == (*dir == ""):
		_, code := fs.UsageError("give one of --config FILE or --config-dir DIR")
		return code
	case *path != "" && (listen.given() || adminFlags.given()):
		_, code := fs.UsageError("--listen-http, --listen-https, --admin and --admin-token-file only apply with --config-dir; with --config the file sets them")
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "icpedge reload: "+format+"\n", a...)
		return 1
	}

	src := config.Source{File: *path, Dir: *dir}
	var cfgs []*config.Config
	partial := false
	if *path != "" {
		cfg, ok := validateFile(*path, stdout, stderr)
		if !ok {
			return fail("not reloaded: %s has problems; the edge keeps serving its current config", *path)
		}
		cfgs = []*config.Config{cfg}
	} else if _, ok := validateDir(*dir, listen.value(), stdout, stderr); !ok {
		// As with SIGHUP, the edge takes the files that are good and
		// skips the others, whose clients keep their current config: one
		// client's broken file does not hold back every other's change.
		// The status still says the new config is not served whole.
		fmt.Fprintf(stderr, "icpedge reload: files in %s have problems: the edge skips them (their clients keep their current config) and takes the others\n", *dir)
		partial = true
	}
	c, err := admin.New(admin.Listener(src, cfgs, adminFlags.value()))
	if errors.Is(err, admin.ErrOff) {
		where := *path + " has admin.listen off"
		if *dir != "" {
			where = "--admin is empty"
		}
		if *pid > 0 {
			if err := syscall.Kill(*pid, syscall.SIGHUP); err != nil {
				return fail("sending SIGHUP to %d: %v", *pid, err)
			}
			fmt.Fprintf(stdout, "sent SIGHUP to %d: %s, so the outcome is only in the edge's log (journalctl)\n", *pid, where)
			if partial {
				return 1
			}
			return 0
		}
		return fail("%s, so the edge cannot be asked to reload and say how it went.\n"+
			"Turn the admin listener on (admin.listen: 127.0.0.1:9080, or serve --admin) and restart the edge once;\n"+
			"or send it SIGHUP (kill -HUP PID, or --pid PID here), whose outcome is only in its log", where)
	}
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ans, err := c.Reload(ctx, cmp.Or(*path, *dir))
	if err != nil {
		return fail("%v", err)
	}
	if ans.Reloaded && !partial {
		fmt.Fprintf(stdout, "reloaded: the new config serves (%s)\n", clientsLine(ans.Clients))
		return 0
	}
	fmt.Fprintf(stderr, "icpedge reload: the edge did not take the new config whole (%s):\n", clientsLine(ans.Clients))
	for _, p := range ans.Problems {
		if p.Client != "" {
			fmt.Fprintf(stderr, "  %s: kept its current config, or not served if new: %s\n", p.Client, p.Problem)
		} else {
			fmt.Fprintf(stderr, "  kept the current config: %s\n", p.Problem)
		}
	}
	return 1
}

// clientsLine says which clients an edge serves.
func clientsLine(clients []string) string {
	switch len(clients) {
	case 0:
		return "serving no client"
	case 1:
		return "serving 1 client: " + clients[0]
	}
	return fmt.Sprintf("serving %d clients: %s", len(clients), strings.Join(clients, ", "))
}
