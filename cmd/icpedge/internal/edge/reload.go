package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/icpedge/icpedge/config"
)

// applyCacheRoot moves each default cache.dir under --cache-root.
func (e *Edge) applyCacheRoot(cfgs []*config.Config) {
	if e.cacheRoot == "" {
		return
	}
	for _, cfg := range cfgs {
		if cfg.Cache.Dir == filepath.Join(cfg.StateDir, "cache") {
			cfg.Cache.Dir = filepath.Join(e.cacheRoot, cfg.Name())
		}
	}
}

// fits checks that a client's file agrees with the process's listeners
// (--config-dir). With --config the process follows the file, and a
// reload that changes a listener is only warned about (restartNeeded).
func (e *Edge) fits(cfg *config.Config) error {
	if e.single {
		return nil
	}
	check := func(key, flagName, got, want string) error {
		if got != "" && got != want {
			return fmt.Errorf("%s: %s is %q but this process listens on %q (--%s); expected the same address, or none", cfg.File, key, got, want, flagName)
		}
		return nil
	}
	return errors.Join(
		check("listen.http", "listen-http", cfg.Listen.HTTP, e.listen.HTTP),
		check("listen.https", "listen-https", cfg.Listen.HTTPS, e.listen.HTTPS),
	)
}

// restartNeeded logs the settings of a reloaded single-file config that
// only a restart applies.
func (e *Edge) restartNeeded(cfg *config.Config) {
	warn := func(key, old, new string) {
		if old != new {
			e.logger.Warn(key+" changed; restart to apply", "current", old, "new", new)
		}
	}
	warn("listen.http", e.listen.HTTP, cfg.Listen.HTTP)
	warn("listen.https", e.listen.HTTPS, cfg.Listen.HTTPS)
	warn("admin.listen", e.admin.Listen, cfg.Admin.Listen)
	warn("admin.token_file", e.admin.TokenFile, cfg.Admin.TokenFile)
	warn("log.format", e.logFormat, cfg.Log.Format)
	warn("limits.buffer_memory", config.FormatSize(e.budget.Limit()), config.FormatSize(cfg.Limits.BufferMemory))
	if e.level != nil {
		var level slog.Level
		if err := level.UnmarshalText([]byte(cfg.Log.Level)); err == nil && level != e.level.Level() {
			e.level.Set(level)
			e.logger.Info("log.level changed", "level", cfg.Log.Level)
		}
	}
}

// apply builds sites for cfgs and swaps them in. With --config any error
// rejects the whole config and changes nothing; with --config-dir a file
// that fails is reported and skipped, and a client that was being served
// keeps its current config. Sites that are no longer current are retired
// and closed in the background once their requests are done.
func (e *Edge) apply(cfgs []*config.Config, broken map[string]error) error {
	old := e.cur.Load()
	if broken == nil {
		broken = map[string]error{}
	}
	next := &routes{byHost: map[string]*site{}}
	var made []*site
	undo := func(err error) error {
		for _, s := range made {
			s.retire()
			closeSite(e.bg, s, old)
		}
		e.leaveClusters(false)
		return err
	}
	for _, cfg := range cfgs {
		name := cfg.Name()
		err := e.fits(cfg)
		if err == nil && next.byName(name) != nil {
			err = fmt.Errorf("%s: another file is also named %s; expected one file per client", cfg.File, name)
		}
		for _, h := range cfg.Hosts {
			if other := next.byHost[h]; err == nil && other != nil {
				err = fmt.Errorf("%s: host %s is already served by %s; expected each host in one file", cfg.File, h, other.cfg.File)
			}
		}
		var s *site
		if err == nil {
			s, err = e.buildSite(e.bg, cfg, old.byName(name))
		}
		if err != nil {
			if e.single {
				return undo(err)
			}
			broken[name] = err
			continue
		}
		made = append(made, s)
		next.add(s)
	}
	names := make([]string, 0, len(broken))
	for name := range broken {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		prev := old.byName(name)
		keep := prev != nil && next.byName(name) == nil && !slices.ContainsFunc(prev.cfg.Hosts, func(h string) bool { return next.byHost[h] != nil })
		msg := "client skipped"
		if keep {
			msg = "client config not reloaded; keeping the current one"
			next.add(prev)
		}
		for _, p := range problems(broken[name]) {
			e.logger.Error(msg, "client", name, "problem", p.Error())
		}
	}
	slices.SortFunc(next.sites, func(a, b *site) int { return strings.Compare(a.name, b.name) })
	if e.single {
		next.single = next.sites[0]
	}
	if !e.single && len(next.sites) == 0 {
		e.logger.Warn("no client to serve; every host gets 421 until a valid file is added and icpedge is reloaded")
	}
	e.cur.Store(next)
	e.leaveClusters(false)
	e.announce()
	if old != nil {
		for _, s := range old.sites {
			if slices.Contains(next.sites, s) {
				continue
			}
			s.retire()
			// Owned by Run, which waits on retiring before it returns;
			// ends when the site's last request does, or with bg.
			e.retiring.Add(1)
			go func() {
				defer e.retiring.Done()
				closeSite(e.bg, s, next)
			}()
		}
	}
	return nil
}

// ReloadResult is the outcome of one reload.
type ReloadResult struct {
	// Rejected holds the problems that rejected the whole reload; the
	// current config serves on.
	Rejected error
	// Skipped holds, without Single, the problems of each client whose
	// file was not taken, by client name: that client keeps its current
	// config, or is not served if it is new.
	Skipped map[string]error
	// Clients are the clients served once the reload is over.
	Clients []string
}

// OK reports whether the new config serves, every file of it.
func (r ReloadResult) OK() bool { return r.Rejected == nil && len(r.Skipped) == 0 }

// reload is SIGHUP: reopen the access logs, re-read the config(s) and
// swap in what is valid, and reload or retry certificates. systemd is told
// that a reload runs (sd_notify RELOADING=1) and when it is over
// (READY=1), whether or not the new config was taken.
func (e *Edge) reload() (res ReloadResult) {
	var rejected error
	// The result and the status page show the outcome; registered first
	// so that it runs last, after a recovered panic has set rejected.
	var broken map[string]error
	loaded := false
	defer func() {
		res.Rejected = rejected
		res.Clients = e.Status().Clients
		if rejected == nil && len(broken) > 0 {
			res.Skipped = broken
		}
		if loaded {
			e.board.Reloaded(rejected, broken)
			e.board.Keep(res.Clients)
		}
	}()
	if err := e.notify.Reloading(); err != nil {
		e.logger.Warn("systemd not notified", "err", err)
	}
	defer func() {
		if err := e.notify.Ready(e.Status().String()); err != nil {
			e.logger.Warn("systemd not notified", "err", err)
		}
	}()
	defer func() {
		// Sites are built aside and swapped in only when whole, so a
		// bug met while building leaves the current ones serving: a
		// reload must never take the running edge down with it.
		if v := recover(); v != nil {
			rejected = fmt.Errorf("internal error: %v", v)
			e.reloads.WithLabelValues("rejected").Inc()
			e.logger.Error("config not reloaded; keeping the current one", "problem", rejected.Error(), "stack", string(debug.Stack()))
		}
	}()
	old := e.cur.Load()
	seen := map[*reopenFile]bool{}
	for _, s := range old.sites {
		if s.access != nil && !seen[s.access] {
			seen[s.access] = true
			if err := s.access.Reopen(); err != nil {
				s.logger.Error("access log not reopened; writing to the old file", "err", err)
			}
		}
	}
	if e.load == nil {
		return res
	}
	loaded = true
	cfgs, broken, err := e.load()
	if broken == nil {
		// apply adds the files that fail to build: the page lists them.
		broken = map[string]error{}
	}
	if err == nil {
		if e.single {
			e.restartNeeded(cfgs[0])
		}
		e.applyCacheRoot(cfgs)
		err = e.apply(cfgs, broken)
	}
	if err != nil {
		rejected = err
		e.reloads.WithLabelValues("rejected").Inc()
		for _, p := range problems(err) {
			e.logger.Error("config not reloaded; keeping the current one", "problem", p.Error())
		}
	} else {
		e.reloads.WithLabelValues("applied").Inc()
		e.logger.Info("config reloaded", "clients", len(e.cur.Load().sites))
	}
	// Certificates of sites that kept theirs are reloaded (manual) or
	// retried now (acme); new ones start.
	for _, s := range e.cur.Load().sites {
		switch {
		case s.tlsNew && !slices.Contains(old.sites, s):
			s.tls.Start(e.bg)
		default:
			if err := s.tls.Reload(); err != nil {
				s.logger.Error("certificate not reloaded; keeping the current one", "err", err)
			}
		}
	}
	return res
}
