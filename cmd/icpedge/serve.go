package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
	"github.com/icpedge/icpedge/proxy/cache"
	"github.com/icpedge/icpedge/rewrite"
)

func serveMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve --config FILE", stdout, stderr)
	path := fs.String("config", "", "the instance's YAML config `file` (required)")
	if ok, code := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "icpedge serve: --config FILE is required")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge serve: %v\n", err)
		return 1
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "icpedge serve: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger, nil); err != nil {
		logger.Error("icpedge stopped", "err", err)
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
	if _, err := config.Load(*path); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return 0
}

func newLogger(c config.Log, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// proxyOptions maps the instance's config onto the handler's options.
func proxyOptions(cfg *config.Config, logger *slog.Logger) (proxy.Options, error) {
	var roots *x509.CertPool
	if cfg.OriginCA != "" {
		pem, err := os.ReadFile(cfg.OriginCA)
		if err != nil {
			return proxy.Options{}, fmt.Errorf("%s: origin_ca: %w", cfg.File, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return proxy.Options{}, fmt.Errorf("%s: origin_ca: %s holds no PEM certificate; expected one or more CERTIFICATE blocks", cfg.File, cfg.OriginCA)
		}
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
		},
		TrustedProxies:  cfg.TrustedProxies,
		ConnectTimeout:  cfg.Timeouts.Connect,
		ResponseTimeout: cfg.Timeouts.Response,
		MaxHTMLSize:     cfg.HTML.MaxSize,
		CachePolicy:     cachePolicy(cfg.Cache),
		PassOversize:    cfg.HTML.Oversize == "pass",
		Logger:          logger,
	}, nil
}

// serve runs one instance until ctx is done, then drains in-flight requests
// for up to cfg.Timeouts.Shutdown. ready, when not nil, is called with the
// bound addresses once every listener is up.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, ready func(httpAddr, httpsAddr net.Addr)) error {
	popts, err := proxyOptions(cfg, logger)
	if err != nil {
		return err
	}
	access, accessFile, err := accessLogger(cfg.Log, logger)
	if err != nil {
		return err
	}
	if accessFile != nil {
		defer accessFile.Close()
		popts.AccessLog = access
	}
	store := openCache(cfg, logger)
	if store != nil {
		defer store.Close()
		popts.Cache = store
	}
	edge, err := proxy.New(popts)
	if err != nil {
		return fmt.Errorf("building the edge: %w", err)
	}
	defer edge.Close()

	tlsSetup, err := newEdgeTLS(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer tlsSetup.Close()

	var servers []*http.Server
	var httpAddr, httpsAddr net.Addr
	var isReady atomic.Bool
	errc := make(chan error, 2)
	start := func(kind, addr string, h http.Handler, tlsOn bool) (net.Addr, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		srv := newServer(h, logger)
		if tlsOn {
			srv.TLSConfig = tlsSetup.Config
			ln = tlsListener(ln, tlsSetup.Config)
		}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		logger.Info("listening", "addr", ln.Addr().String(), "tls", tlsOn, "kind", kind)
		return ln.Addr(), nil
	}
	shutdown := func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.Timeouts.Shutdown)
		defer cancel()
		for _, s := range servers {
			if err := s.Shutdown(sctx); err != nil {
				logger.Warn("shutdown cut in-flight requests", "err", err)
			}
		}
	}

	if cfg.Listen.HTTP != "" {
		if httpAddr, err = start("http", cfg.Listen.HTTP, tlsSetup.HTTPHandler(edge), false); err != nil {
			shutdown()
			return err
		}
	}
	if cfg.Listen.HTTPS != "" && tlsSetup.Config != nil {
		if httpsAddr, err = start("https", cfg.Listen.HTTPS, tlsSetup.HTTPSHandler(edge), true); err != nil {
			shutdown()
			return err
		}
	}
	if cfg.Admin.Listen != "" {
		token, err := loadOrCreateToken(cfg.Admin.TokenFile)
		if err != nil {
			shutdown()
			return err
		}
		admin := edge.Admin(proxy.AdminOptions{Token: token, Ready: isReady.Load, Logger: logger})
		if _, err := start("admin", cfg.Admin.Listen, admin, false); err != nil {
			shutdown()
			return err
		}
	}
	tlsSetup.Start(ctx)
	isReady.Store(true)
	if ready != nil {
		ready(httpAddr, httpsAddr)
	}

	// SIGHUP reloads a manual certificate pair, or retries ACME
	// certificates not yet obtained, without a restart.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if accessFile != nil {
				if err := accessFile.Reopen(); err != nil {
					logger.Error("access log not reopened; writing to the old file", "err", err)
				}
			}
			if err := tlsSetup.Reload(); err != nil {
				logger.Error("certificate not reloaded; keeping the current one", "err", err)
			}
		case <-ctx.Done():
			logger.Info("shutting down", "grace", cfg.Timeouts.Shutdown)
			shutdown()
			return nil
		case err := <-errc:
			shutdown()
			return err
		}
	}
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

// envOr returns the environment variable's value, or def when unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
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

// cachePolicy maps cache settings onto the proxy's policy.
func cachePolicy(c config.Cache) cache.Policy {
	p := cache.Policy{StaleIfError: c.StaleIfError, StaleWhileRevalidate: c.StaleWhileRevalidate}
	for _, r := range c.Rules {
		p.Rules = append(p.Rules, cache.Rule{Prefix: r.Path, TTL: r.TTL})
	}
	return p
}

// loadOrCreateToken reads the admin token, creating a random one (mode
// 0600) on first start.
func loadOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("admin.token_file %s is empty; expected a token, or delete the file to have one generated", path)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading admin.token_file: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating admin.token_file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating admin.token_file: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("writing admin.token_file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("writing admin.token_file: %w", err)
	}
	return tok, nil
}
