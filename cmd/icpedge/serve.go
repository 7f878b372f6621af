package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

// dirModeFlags are the serve flags that only --config-dir takes: in
// single-file mode the file says these things itself.
var dirModeFlags = []string{"listen-http", "listen-https", "admin", "admin-token-file", "log-format", "log-level", "buffer-memory"}

func serveMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve --config FILE | --config-dir DIR [flags]", stdout, stderr)
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
	if ok, code := parseFlags(fs, args, stdout); !ok {
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
	notify, err := newNotifier(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge serve: %v\n", err)
		return 1
	}

	opts := runOptions{notify: notify, cacheRoot: *cacheRoot, level: new(slog.LevelVar)}
	if *dir != "" {
		n, ok := config.ParseSize(*bufferMemory)
		if !ok || n <= 0 {
			fmt.Fprintf(stderr, "icpedge serve: --buffer-memory %q: expected a positive size, e.g. 64MiB\n", *bufferMemory)
			return 2
		}
		opts.bufferMemory = n
	}
	if *path != "" {
		opts.single = true
		opts.load = func() ([]*config.Config, map[string]error, error) {
			cfg, err := loadChecked(*path)
			if err != nil {
				return nil, nil, err
			}
			return []*config.Config{cfg}, nil, nil
		}
	} else {
		opts.load = func() ([]*config.Config, map[string]error, error) {
			cfgs, broken, err := loadDir(*dir)
			if err != nil {
				return nil, nil, err
			}
			// A client whose named files are unusable is skipped like
			// one whose file does not load.
			var ok []*config.Config
			for _, cfg := range cfgs {
				if err := cfg.CheckFiles(); err != nil {
					broken[siteName(cfg)] = err
					continue
				}
				ok = append(ok, cfg)
			}
			return ok, broken, nil
		}
		opts.listen = config.Listen{HTTP: *listenHTTP, HTTPS: *listenHTTPS}
		opts.admin = config.Admin{Listen: *adminAddr, TokenFile: *tokenFile}
	}
	initial, broken, err := opts.load()
	if err != nil {
		fmt.Fprintf(stderr, "icpedge serve: %v\n", err)
		return 1
	}
	logCfg := config.Log{Format: *logFormat, Level: *logLevel}
	if opts.single {
		logCfg = initial[0].Log
	}
	if err := opts.level.UnmarshalText([]byte(logCfg.Level)); err != nil {
		fmt.Fprintf(stderr, "icpedge serve: log level: %v\n", err)
		return 2
	}
	if logCfg.Format != "text" && logCfg.Format != "json" {
		fmt.Fprintf(stderr, "icpedge serve: log format %q: expected text or json\n", logCfg.Format)
		return 2
	}
	opts.logFormat = logCfg.Format
	opts.logger = newLevelLogger(logCfg.Format, opts.level, stderr)
	if opts.single {
		for _, w := range initial[0].Warnings(time.Now()) {
			if w.Key == "admin.listen" {
				opts.logger.Warn("admin listener not on loopback", "problem", w.Error())
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	opts.hup = hup
	if err := runEdge(ctx, initial, broken, opts); err != nil {
		opts.logger.Error("icpedge stopped", "err", err)
		return 1
	}
	return 0
}

func validateMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "validate --config FILE", stdout, stderr)
	path := fs.String("config", "", "the instance's YAML config `file` (required)")
	if ok, code := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "icpedge validate: --config FILE is required")
		return 2
	}
	cfg, err := loadChecked(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings(time.Now()) {
		fmt.Fprintf(stderr, "%s:%d: warning: %s: %s\n", w.File, w.Line, w.Key, w.Message)
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	// What the process will hold in memory, roughly.
	cacheMemory := "cache off"
	if cfg.Cache.Enabled {
		cacheMemory = "cache.memory " + sizeString(cfg.Cache.Memory)
	}
	fmt.Fprintf(stdout, "memory: %s + %s for the runtime = %s (the Go memory limit), and bodies buffered at once up to limits.buffer_memory %s, for the whole process\n",
		cacheMemory, sizeString(memoryHeadroom), sizeString(memoryLimit([]*config.Config{cfg})), sizeString(cfg.Limits.BufferMemory))
	return 0
}

// loadChecked loads a config and opens the files it names (see
// config.CheckFiles), so that validate and serve report a missing or
// broken file the same way, at its key's line, before anything starts.
func loadChecked(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, err
	}
	return cfg, nil
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

// proxyOptions maps the instance's config onto the handler's options.
func proxyOptions(cfg *config.Config, logger *slog.Logger) (proxy.Options, error) {
	var roots *x509.CertPool
	if cfg.OriginCA != "" {
		pem, err := os.ReadFile(cfg.OriginCA)
		if err != nil {
			return proxy.Options{}, fileProblem(cfg, "origin_ca", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return proxy.Options{}, fileProblem(cfg, "origin_ca", fmt.Errorf("%s holds no PEM certificate; expected one or more CERTIFICATE blocks", cfg.OriginCA))
		}
	}
	localize, err := localizeRules(cfg)
	if err != nil {
		return proxy.Options{}, err
	}
	return proxy.Options{
		RootCAs:    roots,
		Hosts:      cfg.Hosts,
		Origin:     cfg.Origin,
		OriginHost: cfg.OriginHost,
		Rewrite: rewrite.Options{
			Notice: rewrite.Notice{
				ICP:      cfg.Notice.ICP,
				Company:  cfg.Notice.Company,
				Police:   cfg.Notice.Police,
				Selector: cfg.Notice.Selector,
			},
			RewriteHosts: cfg.RewriteHosts,
			Localize:     localize,
		},
		TrustedProxies:     cfg.TrustedProxies,
		ConnectTimeout:     cfg.Timeouts.Connect,
		ResponseTimeout:    cfg.Timeouts.Response,
		OriginIdleTimeout:  cfg.Timeouts.OriginIdle,
		RequestBodyTimeout: cfg.Timeouts.RequestBody,
		MaxRequestBody:     cfg.Limits.RequestBody,
		MaxHTMLSize:        cfg.HTML.MaxSize,
		CachePolicy:        cachePolicy(cfg.Cache),
		BypassCookies:      cfg.Cache.BypassCookies,
		EarlyHintsMaxAge:   earlyHintsMaxAge(cfg.Cache.EarlyHintsMaxAge),
		PassOversize:       cfg.HTML.Oversize == "pass",
		Block:              blockRules(cfg.Policy),
		Landing:            landingFor(cfg),
		Logger:             logger,
	}, nil
}

// serve runs one instance from cfg, held in memory (no reloads), until ctx
// is done. ready, when not nil, is called with the bound addresses once
// every listener is up.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, ready func(httpAddr, httpsAddr net.Addr)) error {
	return runEdge(ctx, []*config.Config{cfg}, nil, runOptions{single: true, logger: logger, ready: ready, logFormat: cfg.Log.Format})
}

// runOptions configure runEdge.
type runOptions struct {
	// single serves one client that gets every request (--config);
	// otherwise clients are routed by Host and SNI (--config-dir).
	single bool
	// load reads the configs again on SIGHUP: the valid ones, and the
	// problems of broken files by client name (--config-dir). An error
	// rejects the whole reload. Nil: no reloads.
	load func() ([]*config.Config, map[string]error, error)
	// listen and admin are the process's listeners with --config-dir;
	// with --config the file's are used.
	listen config.Listen
	admin  config.Admin
	// cacheRoot, when set, moves each default cache.dir to cacheRoot/name.
	cacheRoot string
	// bufferMemory is the budget for buffered bodies with --config-dir;
	// with --config the file's limits.buffer_memory is used.
	bufferMemory int64
	logger       *slog.Logger
	// level is the main log's level, which a reload may change; nil
	// when fixed. logFormat is the format the log was made with.
	level     *slog.LevelVar
	logFormat string
	notify    *notifier // nil outside systemd
	hup       <-chan os.Signal
	ready     func(httpAddr, httpsAddr net.Addr)
}

// edgeRuntime is a running edge: stable listeners in front of the
// current routes, which a reload replaces.
type edgeRuntime struct {
	runOptions
	metrics *proxy.Metrics
	// budget bounds the memory of buffered bodies, shared by every
	// client and kept across reloads.
	budget *proxy.Budget
	cur    atomic.Pointer[routes]
	// bg is the context of background work that outlives a reload
	// (certificate maintenance, closing retired sites); retiring counts
	// the retired sites not yet closed.
	bg       context.Context
	retiring sync.WaitGroup
	reloads  *prometheus.CounterVec
}

// runEdge serves the clients of initial (broken lists the files that were
// skipped) until ctx is done, reloading on opts.hup, then drains in-flight
// requests for up to timeouts.shutdown and closes the caches.
func runEdge(ctx context.Context, initial []*config.Config, broken map[string]error, opts runOptions) error {
	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	e := &edgeRuntime{runOptions: opts, bg: bg}
	logger := opts.logger
	if e.single {
		e.listen, e.admin = initial[0].Listen, initial[0].Admin
	}
	reg, err := e.newRegistry()
	if err != nil {
		return err
	}
	e.applyCacheRoot(initial)
	if e.single {
		e.bufferMemory = initial[0].Limits.BufferMemory
	}
	e.budget = proxy.NewBudget(e.bufferMemory)
	setMemoryLimit(initial, logger)
	if err := e.apply(initial, broken); err != nil {
		return err
	}
	defer func() {
		// The listeners have drained (or the grace period ran out):
		// nothing waits any longer. Certificate maintenance stops and
		// the caches are closed.
		cancelBG()
		for _, s := range e.cur.Load().sites {
			s.retire()
			closeSite(bg, s, nil)
		}
		e.retiring.Wait()
		logger.Info("stopped; caches closed")
	}()

	var servers []*http.Server
	var httpAddr, httpsAddr net.Addr
	var isReady atomic.Bool
	errc := make(chan error, 3)
	start := func(kind, addr string, h http.Handler, tlsConf *tls.Config) (net.Addr, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		srv := newServer(h, logger)
		if tlsConf != nil {
			srv.TLSConfig = tlsConf
			ln = tlsListener(ln, tlsConf)
		}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		logger.Info("listening", "addr", ln.Addr().String(), "tls", tlsConf != nil, "kind", kind)
		return ln.Addr(), nil
	}
	shutdown := func() {
		grace := e.grace()
		logger.Info("shutting down", "grace", grace)
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		var wg sync.WaitGroup
		for _, s := range servers {
			wg.Go(func() {
				if err := s.Shutdown(sctx); err != nil {
					logger.Warn("shutdown cut in-flight requests", "err", err)
				}
			})
		}
		wg.Wait()
	}

	if e.listen.HTTP != "" {
		if httpAddr, err = start("http", e.listen.HTTP, e.handler(false), nil); err != nil {
			shutdown()
			return err
		}
	}
	if e.listen.HTTPS != "" && (!e.single || e.cur.Load().single.tls.Config != nil) {
		if httpsAddr, err = start("https", e.listen.HTTPS, e.handler(true), e.tlsConfig()); err != nil {
			shutdown()
			return err
		}
	}
	if e.admin.Listen != "" {
		token, err := loadOrCreateToken(e.admin.TokenFile, logger)
		if err != nil {
			shutdown()
			return err
		}
		admin := proxy.NewAdmin(proxy.AdminOptions{
			Token:   token,
			Ready:   isReady.Load,
			Logger:  logger,
			Purge:   e.purge,
			Metrics: metricsHandler(reg, logger),
		})
		if _, err := start("admin", e.admin.Listen, admin, nil); err != nil {
			shutdown()
			return err
		}
	}
	e.startTLS()
	isReady.Store(true)
	if e.ready != nil {
		e.ready(httpAddr, httpsAddr)
	}
	defer e.startAudits(ctx, reg, httpsAddr)()
	if err := e.notify.Ready(e.status()); err != nil {
		logger.Warn("systemd not notified", "err", err)
	}

	var watchdog <-chan time.Time
	if every := e.notify.WatchdogEvery(); every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		watchdog = t.C
		e.notify.Watchdog()
	}
	for {
		select {
		case <-e.hup:
			e.reload()
		case <-watchdog:
			// Pinged from this loop, so a reload that hangs stops the
			// pings and systemd restarts the service.
			if err := e.notify.Watchdog(); err != nil {
				logger.Warn("systemd watchdog not pinged", "err", err)
			}
		case <-ctx.Done():
			if err := e.notify.Stopping(); err != nil {
				logger.Warn("systemd not notified", "err", err)
			}
			shutdown()
			return nil
		case err := <-errc:
			e.notify.Stopping()
			shutdown()
			return err
		}
	}
}

// handler serves a listener: each request goes to the current site for
// its host and is counted in, so a reload closes the old site only after
// its requests are done.
func (e *edgeRuntime) handler(https bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A site is retired only after routes without it are in place,
		// so a second look finds its successor; the bound is a guard.
		for range 8 {
			s := e.cur.Load().pick(r.Host)
			if s == nil {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusMisdirectedRequest)
				fmt.Fprintln(w, "this server does not serve that host")
				return
			}
			if !s.acquire() {
				continue
			}
			defer s.release()
			if https {
				s.httpsH.ServeHTTP(w, r)
			} else {
				s.httpH.ServeHTTP(w, r)
			}
			return
		}
		http.Error(w, "reloading; try again", http.StatusServiceUnavailable)
	})
}

// tlsConfig is the HTTPS listener's: each handshake gets the TLS config
// (certificates, ACME challenges) of the site its SNI names, as the
// routes are at that moment.
func (e *edgeRuntime) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			s := e.cur.Load().pick(hello.ServerName)
			if s == nil || s.tls == nil || s.tls.Config == nil {
				return nil, fmt.Errorf("no certificate for server name %q", hello.ServerName)
			}
			return s.tls.Config, nil
		},
	}
}

// startTLS starts certificate maintenance for sites that made their own.
func (e *edgeRuntime) startTLS() {
	for _, s := range e.cur.Load().sites {
		if s.tlsNew {
			s.tls.Start(e.bg)
		}
	}
}

// grace is the shutdown grace period: timeouts.shutdown, the longest of
// the clients' with --config-dir.
func (e *edgeRuntime) grace() time.Duration {
	var g time.Duration
	for _, s := range e.cur.Load().sites {
		g = max(g, s.cfg.Timeouts.Shutdown)
	}
	if g == 0 {
		g = 30 * time.Second
	}
	return g
}

func (e *edgeRuntime) status() string {
	n := len(e.cur.Load().sites)
	if n == 1 {
		return "serving 1 client"
	}
	return fmt.Sprintf("serving %d clients", n)
}

// applyCacheRoot moves each default cache.dir under --cache-root.
func (e *edgeRuntime) applyCacheRoot(cfgs []*config.Config) {
	if e.cacheRoot == "" {
		return
	}
	for _, cfg := range cfgs {
		if cfg.Cache.Dir == filepath.Join(cfg.StateDir, "cache") {
			cfg.Cache.Dir = filepath.Join(e.cacheRoot, siteName(cfg))
		}
	}
}

// fits checks that a client's file agrees with the process's listeners
// (--config-dir). With --config the process follows the file, and a
// reload that changes a listener is only warned about (restartNeeded).
func (e *edgeRuntime) fits(cfg *config.Config) error {
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
func (e *edgeRuntime) restartNeeded(cfg *config.Config) {
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
	warn("limits.buffer_memory", sizeString(e.budget.Limit()), sizeString(cfg.Limits.BufferMemory))
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
func (e *edgeRuntime) apply(cfgs []*config.Config, broken map[string]error) error {
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
		return err
	}
	for _, cfg := range cfgs {
		name := siteName(cfg)
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
	if old != nil {
		for _, s := range old.sites {
			if slices.Contains(next.sites, s) {
				continue
			}
			s.retire()
			e.retiring.Add(1)
			go func() {
				defer e.retiring.Done()
				closeSite(e.bg, s, next)
			}()
		}
	}
	return nil
}

func (rt *routes) add(s *site) {
	rt.sites = append(rt.sites, s)
	for _, h := range s.cfg.Hosts {
		rt.byHost[h] = s
	}
}

// reload is SIGHUP: reopen the access logs, re-read the config(s) and
// swap in what is valid, and reload or retry certificates. systemd is told
// that a reload runs (sd_notify RELOADING=1) and when it is over
// (READY=1), whether or not the new config was taken.
func (e *edgeRuntime) reload() {
	if err := e.notify.Reloading(); err != nil {
		e.logger.Warn("systemd not notified", "err", err)
	}
	defer func() {
		if err := e.notify.Ready(e.status()); err != nil {
			e.logger.Warn("systemd not notified", "err", err)
		}
	}()
	defer func() {
		// Sites are built aside and swapped in only when whole, so a
		// bug met while building leaves the current ones serving: a
		// reload must never take the running edge down with it.
		if v := recover(); v != nil {
			e.reloads.WithLabelValues("rejected").Inc()
			e.logger.Error("config not reloaded; keeping the current one", "problem", fmt.Sprintf("internal error: %v", v), "stack", string(debug.Stack()))
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
		return
	}
	cfgs, broken, err := e.load()
	if err == nil {
		if e.single {
			e.restartNeeded(cfgs[0])
		}
		e.applyCacheRoot(cfgs)
		err = e.apply(cfgs, broken)
	}
	if err != nil {
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
}

// purge runs an admin purge on the clients it concerns: with
// --config-dir, the one serving host (or the URL's host) when given, else
// every client.
func (e *edgeRuntime) purge(p proxy.Purge, host string) (int, error) {
	if host == "" && strings.Contains(p.URL, "://") {
		if i := strings.Index(p.URL, "://"); i >= 0 {
			host, _, _ = strings.Cut(p.URL[i+3:], "/")
		}
	}
	total := 0
	for _, s := range e.cur.Load().sites {
		if !e.single && host != "" && !slices.Contains(s.cfg.Hosts, requestHost(host)) {
			continue
		}
		if !s.acquire() {
			continue
		}
		n, err := s.edge.Purge(p)
		s.release()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// newServer returns a server with timeouts that bound slow or idle visitors
// without cutting large downloads: there is no WriteTimeout, so a slow
// visitor's transfer ends only when it stalls (the kernel's keepalive) or
// completes.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// openCache opens the instance's cache store. A store that can't be
// opened (a read-only or missing disk) is logged, and the instance runs
// without a cache rather than not at all.
func openCache(cfg *config.Config, logger *slog.Logger) *cache.Store {
	if !cfg.Cache.Enabled {
		return nil
	}
	memory := cfg.Cache.Memory
	if memory == 0 {
		memory = -1 // the store's "no memory tier"
	}
	store, err := cache.Open(cache.Options{
		Dir:     cfg.Cache.Dir,
		MaxSize: cfg.Cache.MaxSize,
		Memory:  memory,
		Logger:  logger,
	})
	if err != nil {
		logger.Error("cache unavailable; serving without it", "dir", cfg.Cache.Dir, "err", err)
		return nil
	}
	st := store.Stats()
	logger.Info("cache opened", "dir", cfg.Cache.Dir, "entries", st.Entries, "bytes", st.Bytes)
	return store
}

// earlyHintsMaxAge maps cache.early_hints_max_age onto the proxy's
// option, where zero means the default and negative none.
func earlyHintsMaxAge(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// cachePolicy maps cache settings onto the proxy's policy.
func cachePolicy(c config.Cache) cache.Policy {
	p := cache.Policy{StaleIfError: c.StaleIfError, StaleWhileRevalidate: c.StaleWhileRevalidate, Targeted: c.Targeted}
	for _, r := range c.Rules {
		p.Rules = append(p.Rules, cache.Rule{Prefix: r.Path, TTL: r.TTL})
	}
	return p
}

// loadOrCreateToken reads the admin token, creating a random one (mode
// 0600) on first start. A file that an interrupted write left empty or
// cut short (a full disk) is replaced with a new token and a warning: it
// holds no token anyone could be using.
func loadOrCreateToken(path string, logger *slog.Logger) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil && !truncatedToken(b):
		return strings.TrimSpace(string(b)), nil
	case err == nil:
		logger.Warn("admin.token_file holds no complete token; writing a new one", "file", path, "bytes", len(b))
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("reading admin.token_file: %w", err)
	}
	var raw [tokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating admin.token_file: %w", err)
	}
	if err := writeFileAtomic(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing admin.token_file: %w", err)
	}
	return tok, nil
}

// tokenBytes is the size of a generated token, written as 64 hex digits
// and a newline.
const tokenBytes = 32

// truncatedToken reports whether b is what a cut-short write of a
// generated token leaves: nothing but white space, or fewer hex digits
// than a token has and no newline after them. A token an operator wrote
// is anything else, and is kept.
func truncatedToken(b []byte) bool {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return true
	}
	if len(b) >= 2*tokenBytes || strings.ContainsAny(string(b), "\n\r") {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// writeFileAtomic replaces path with data so that a crash or a full disk
// leaves either the old file or the whole new one: it writes a temporary
// file beside it, syncs it, renames it over path and syncs the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is durable only once the directory is on disk too.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
