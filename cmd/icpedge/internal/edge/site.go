package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/caddyserver/certmagic"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cluster"
	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
	"github.com/icpedge/icpedge/proxy/cache"
)

// site is one client served under one version of its config. A reload
// builds a new site and swaps it in behind the listeners; the old one is
// retired, and closed once the requests it was serving have finished.
// Resources that did not change (the cache store, the certificates, the
// access-log file) pass from the old site to the new one.
type site struct {
	name   string // the config file's name without .yaml
	cfg    *config.Config
	logger *slog.Logger
	edge   *proxy.Handler
	store  *cache.Store // nil without a cache
	tls    *edgeTLS
	// node is the client's cluster node, nil without a cluster block;
	// it outlives the site (see member).
	node   *cluster.Node
	access *reopenFile // nil without log.access_file
	httpH  http.Handler
	httpsH http.Handler
	// tlsNew is set when tls was made for this site rather than handed
	// on, so it must be started.
	tlsNew bool

	mu      sync.Mutex
	active  int  // requests being served
	retired bool // no new requests; closed once active is 0
	idle    chan struct{}
}

// acquire counts a request in, unless the site is retired.
func (s *site) acquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		return false
	}
	s.active++
	return true
}

func (s *site) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.retired && s.active == 0 {
		close(s.idle)
	}
}

// retire stops new requests; idle is closed once the last one ends.
func (s *site) retire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retired = true
	if s.active == 0 {
		close(s.idle)
	}
}

// sameCache reports whether two configs describe the same cache store.
func sameCache(a, b *config.Config) bool {
	return a.Cache.Enabled == b.Cache.Enabled && a.Cache.Dir == b.Cache.Dir &&
		a.Cache.MaxSize == b.Cache.MaxSize && a.Cache.Memory == b.Cache.Memory
}

// sameTLS reports whether two configs get the same certificates.
func sameTLS(a, b *config.Config) bool {
	return a.TLS.Mode == b.TLS.Mode && a.TLS.Email == b.TLS.Email && a.TLS.CA == b.TLS.CA &&
		a.TLS.CARoot == b.TLS.CARoot && (a.TLS.EAB == nil) == (b.TLS.EAB == nil) &&
		(a.TLS.EAB == nil || *a.TLS.EAB == *b.TLS.EAB) &&
		a.TLS.CertFile == b.TLS.CertFile && a.TLS.KeyFile == b.TLS.KeyFile &&
		a.TLS.HSTS == b.TLS.HSTS && slices.Equal(a.TLS.Challenges, b.TLS.Challenges) &&
		slices.Equal(a.Hosts, b.Hosts) && a.Listen == b.Listen && a.StateDir == b.StateDir
}

// buildSite makes the site for cfg, taking over what it can from prev
// (the same client's current site, or nil). On error nothing new is left
// open and prev is untouched: the error is the caller's to report, and
// the current routes keep serving.
func (e *Edge) buildSite(ctx context.Context, cfg *config.Config, prev *site) (*site, error) {
	name := cfg.Name()
	logger := e.logger
	if !e.single {
		logger = logger.With("client", name)
	}
	s := &site{name: name, cfg: cfg, logger: logger, idle: make(chan struct{})}
	built := false
	defer func() {
		if built {
			return
		}
		// Undo what was made here, not what was taken over.
		if s.access != nil && (prev == nil || s.access != prev.access) {
			s.access.Close()
		}
		if s.store != nil && (prev == nil || s.store != prev.store) {
			s.store.Close()
		}
		if s.tls != nil && s.tlsNew {
			s.tls.Close()
		}
	}()

	popts, err := proxyOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	popts.Metrics = e.metrics
	popts.Observer = e.board.Window(name)

	if cfg.Log.AccessFile != "" {
		if prev != nil && prev.access != nil && prev.cfg.Log.AccessFile == cfg.Log.AccessFile {
			s.access = prev.access
		} else {
			f, err := openLogFile(cfg.Log.AccessFile)
			if err != nil {
				return nil, fileProblem(cfg, "log.access_file", err)
			}
			s.access = f
		}
		popts.AccessLog = accessLoggerFor(cfg.Log, logger, s.access)
	}

	switch {
	case prev != nil && prev.store != nil && prev.cfg.Cache.Dir == cfg.Cache.Dir && cfg.Cache.Enabled:
		// One directory is one store: a new size or memory bound
		// waits for a restart rather than opening it twice.
		s.store = prev.store
		if !sameCache(prev.cfg, cfg) {
			logger.Warn("cache.max_size or cache.memory changed; restart to apply", "dir", cfg.Cache.Dir)
		}
	default:
		s.store = openCache(cfg, logger)
	}
	popts.Budget = e.budget
	popts.Compressor = e.compressor
	if s.store != nil {
		popts.Cache = s.store
		// The cache's disk holds bodies waiting too: not /tmp, which is
		// often memory.
		popts.SpoolDir = cfg.Cache.Dir
	}

	if s.node, err = e.joinCluster(ctx, cfg, logger); err != nil {
		return nil, err
	}
	if prev != nil && prev.tls != nil && sameTLS(prev.cfg, cfg) && prev.node == s.node {
		s.tls = prev.tls
	} else {
		var storage certmagic.Storage
		if s.node != nil {
			storage = s.node.Storage()
		}
		t, err := newEdgeTLS(ctx, cfg, logger, storage)
		if err != nil {
			return nil, err
		}
		s.tls, s.tlsNew = t, true
	}

	if s.edge, err = proxy.New(popts); err != nil {
		return nil, fmt.Errorf("%s: building the edge: %w", cfg.File, err)
	}
	s.httpH = s.tls.HTTPHandler(s.edge)
	s.httpsH = s.tls.HTTPSHandler(s.edge)
	built = true
	return s, nil
}

// fileProblem reports a file the config names that could not be used, in
// the form of the config's own problems: file:line: key: what failed.
func fileProblem(cfg *config.Config, key string, err error) error {
	return fmt.Errorf("%s:%d: %s: %w", cfg.File, cfg.Line(key), key, err)
}

// closeSite waits for a retired site's requests to end (or ctx to be
// done, at shutdown after the listeners have drained), then closes its
// edge and whatever next does not use.
func closeSite(ctx context.Context, s *site, next *routes) {
	select {
	case <-s.idle:
	case <-ctx.Done():
	}
	s.edge.Close()
	if s.tls != nil && (next == nil || !next.usesTLS(s.tls)) {
		s.tls.Close()
	}
	if s.store != nil && (next == nil || !next.usesStore(s.store)) {
		if err := s.store.Close(); err != nil {
			s.logger.Error("closing the cache", "dir", s.cfg.Cache.Dir, "err", err)
		}
	}
	if s.access != nil && (next == nil || !next.usesAccess(s.access)) {
		s.access.Close()
	}
}

// problems splits a config error into its problems, one per line of the
// log.
func problems(err error) []error {
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) {
		return multi.Unwrap()
	}
	return []error{err}
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
