package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/status"
	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
	"github.com/icpedge/icpedge/proxy/cache"
)

// Options configure an Edge. The zero value of each field is its default.
type Options struct {
	// Single serves one client that gets every request, whatever its
	// host (serve --config): the listeners, the admin API and the
	// buffer budget are the file's. Otherwise clients are routed by
	// Host and SNI (serve --config-dir), and Listen, Admin and
	// BufferMemory are the process's.
	Single bool
	// Load reads the configs again for Reload: the valid ones, and the
	// problems of files that were skipped, by client name. An error
	// rejects the whole reload. Nil: Reload only reopens the access
	// logs and reloads certificates.
	Load func() ([]*config.Config, map[string]error, error)
	// Broken holds the problems of the files skipped by the load that
	// gave New its configs, by client name; they are logged at start.
	Broken map[string]error
	// Listen and Admin are the process's listeners without Single;
	// an empty address is no listener.
	Listen config.Listen
	Admin  config.Admin
	// CacheRoot, when set, moves each client's cache.dir left at the
	// default to CacheRoot/<client name>.
	CacheRoot string
	// BufferMemory bounds, in bytes, the bodies buffered at once by
	// every client without Single; zero is no buffering.
	BufferMemory int64
	// Logger is the main log. Nil discards it.
	Logger *slog.Logger
	// Level is the main log's level, which a reload of a Single config
	// sets from its log.level; nil: the level is fixed. LogFormat is the
	// format Logger writes, so a reload can say a new one needs a
	// restart.
	Level     *slog.LevelVar
	LogFormat string
	// Getenv reads systemd's $NOTIFY_SOCKET and $WATCHDOG_USEC; nil
	// (or an unset $NOTIFY_SOCKET) sends no notifications.
	Getenv func(key string) string
	// Version is the build's version, for icpedge_build_info.
	Version string
	// Source names what Load reads (the config file with Single, else
	// the directory), for the admin API's reload answer, so that
	// icpedge reload can tell it reached the process it meant.
	Source string
	// Ready, when not nil, is called from Run once every listener is
	// up, with the bound addresses.
	Ready func(Status)
}

// Edge is one running edge server: stable listeners in front of the
// current routes (each client's site for its hosts), which Reload
// replaces. Build it with New, serve with Run.
type Edge struct {
	single       bool
	load         func() ([]*config.Config, map[string]error, error)
	initial      []*config.Config
	broken       map[string]error
	listen       config.Listen
	admin        config.Admin
	cacheRoot    string
	bufferMemory int64
	logger       *slog.Logger
	level        *slog.LevelVar
	logFormat    string
	notify       *notifier // does nothing outside systemd
	version      string
	source       string
	ready        func(Status)

	reg     *prometheus.Registry
	metrics *proxy.Metrics
	// board keeps what the admin status page shows that nothing else
	// keeps: audit results, traffic windows, the last reload.
	board   *status.Board
	reloads *prometheus.CounterVec
	// budget bounds the memory of buffered bodies, shared by every
	// client and kept across reloads.
	budget *proxy.Budget
	// compressor makes the stored variants in the background, shared by
	// every client and kept across reloads; Run starts and stops it.
	compressor *proxy.Compressor
	cur        atomic.Pointer[routes]
	// bg is the context of background work that outlives a reload
	// (certificate maintenance, closing retired sites); retiring counts
	// the retired sites not yet closed. Both belong to Run.
	bg       context.Context
	retiring sync.WaitGroup

	// reloadReq carries Reload's requests to Run's loop, which answers
	// each on the channel sent; done is closed when Run returns.
	// members are the clients' cluster nodes, by client name; only Run's
	// goroutine touches the map. routesReady is closed once the first
	// routes are in place.
	members     map[string]*member
	routesReady chan struct{}

	reloadReq chan chan ReloadResult
	done      chan struct{}
	started   atomic.Bool

	mu    sync.Mutex
	addrs Status // the bound listeners, once Run has them
}

// Status is what an Edge serves.
type Status struct {
	// Clients are the names of the clients being served (each config
	// file's name without .yaml), in order.
	Clients []string
	// HTTP, HTTPS and Admin are the bound listeners; nil when not
	// listening.
	HTTP, HTTPS, Admin net.Addr
	// Ready is set once every listener is up.
	Ready bool
}

// String is the status line systemd shows.
func (s Status) String() string {
	if len(s.Clients) == 1 {
		return "serving 1 client"
	}
	return fmt.Sprintf("serving %d clients", len(s.Clients))
}

// New prepares an edge for cfgs, checked configs (see config.Load and
// Config.CheckFiles): with Single exactly one. Nothing is opened or
// listened on until Run.
func New(cfgs []*config.Config, opts Options) (*Edge, error) {
	if opts.Single && len(cfgs) != 1 {
		return nil, fmt.Errorf("serving one client: got %d configs; want 1", len(cfgs))
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	notify, err := newNotifier(getenv)
	if err != nil {
		return nil, err
	}
	e := &Edge{
		single:       opts.Single,
		load:         opts.Load,
		initial:      cfgs,
		broken:       opts.Broken,
		listen:       opts.Listen,
		admin:        opts.Admin,
		cacheRoot:    opts.CacheRoot,
		bufferMemory: opts.BufferMemory,
		logger:       logger,
		level:        opts.Level,
		logFormat:    opts.LogFormat,
		notify:       notify,
		version:      opts.Version,
		source:       opts.Source,
		ready:        opts.Ready,
		board:        status.NewBoard(nil),
		reloadReq:    make(chan chan ReloadResult),
		routesReady:  make(chan struct{}),
		done:         make(chan struct{}),
	}
	if e.version == "" {
		e.version = "devel"
	}
	if e.single {
		cfg := cfgs[0]
		e.listen, e.admin, e.bufferMemory = cfg.Listen, cfg.Admin, cfg.Limits.BufferMemory
		if e.logFormat == "" {
			e.logFormat = cfg.Log.Format
		}
	}
	if e.reg, err = e.newRegistry(); err != nil {
		return nil, err
	}
	e.budget = proxy.NewBudget(e.bufferMemory)
	return e, nil
}

// errStopped is Reload's answer once Run has returned.
var errStopped = errors.New("the edge is not running")

// Reload re-reads the configs (Options.Load) and swaps in what is valid,
// reopens the access logs, and reloads or retries certificates, as
// SIGHUP does. It runs on Run's loop, so it waits for Run to start, and
// returns the problems that rejected the new config, which leave the
// current one serving; files skipped without Single are logged, not
// returned.
func (e *Edge) Reload(ctx context.Context) error {
	res, err := e.ReloadReport(ctx)
	if err != nil {
		return err
	}
	return res.Rejected
}

// ReloadReport is Reload, with its whole outcome: the error is only that
// the reload did not run (Run has returned) or that ctx ended first, in
// which case the reload may still be run and apply.
func (e *Edge) ReloadReport(ctx context.Context) (ReloadResult, error) {
	answer := make(chan ReloadResult, 1)
	select {
	case e.reloadReq <- answer:
	case <-e.done:
		return ReloadResult{}, errStopped
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	}
	select {
	case res := <-answer:
		return res, nil
	case <-ctx.Done():
		return ReloadResult{}, ctx.Err()
	}
}

// Purge removes URLs from the caches of the clients it concerns: without
// Single, the one serving host (or the host of p.URL) when given, else
// every client. It returns how many entries were removed.
func (e *Edge) Purge(p proxy.Purge, host string) (int, error) {
	return e.purge(p, host)
}

// Status reports what the edge serves now.
func (e *Edge) Status() Status {
	e.mu.Lock()
	st := e.addrs
	e.mu.Unlock()
	st.Clients = nil
	if rt := e.cur.Load(); rt != nil {
		for _, s := range rt.sites {
			st.Clients = append(st.Clients, s.name)
		}
	}
	return st
}

// IndexMemory is the memory the indexes of the caches in use take, which
// grows with the entries on disk (cache.Stats.IndexBytes).
func (e *Edge) IndexMemory() int64 {
	rt := e.cur.Load()
	if rt == nil {
		return 0
	}
	var n int64
	var seen []*cache.Store
	for _, s := range rt.sites {
		if s.store != nil && !slices.Contains(seen, s.store) {
			seen = append(seen, s.store)
			n += s.store.Stats().IndexBytes
		}
	}
	return n
}

// Run serves until ctx is done, then drains the requests in flight for
// up to timeouts.shutdown (the longest of the clients') and closes the
// caches. It returns an error when the edge could not start (a config
// that does not build, a listener that can't bind) or a listener failed.
// Run may be called once.
//
// Run owns every goroutine of the edge: one per listener (ended by the
// shutdown here), the self-audit (stopped on return), certificate
// maintenance (ended with bg), and the closing of retired sites (waited
// for on return).
func (e *Edge) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("edge: Run called twice")
	}
	defer close(e.done)
	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	e.bg = bg
	e.compressor = proxy.NewCompressor(0)
	e.applyCacheRoot(e.initial)
	// The cluster nodes close after the sites (defers run last first),
	// and after bg ends, which releases a purge waiting for routes.
	defer func() {
		cancelBG()
		e.leaveClusters(true)
	}()
	if e.broken == nil {
		e.broken = map[string]error{}
	}
	if err := e.apply(e.initial, e.broken); err != nil {
		e.compressor.Close()
		return err
	}
	close(e.routesReady)
	e.board.Skipped(e.broken)
	defer func() {
		// The listeners have drained (or the grace period ran out):
		// nothing waits any longer. Certificate maintenance and the
		// background compression stop, and the caches are closed.
		cancelBG()
		e.compressor.Close()
		for _, s := range e.cur.Load().sites {
			s.retire()
			closeSite(bg, s, nil)
		}
		e.retiring.Wait()
		e.logger.Info("stopped; caches closed")
	}()

	ls := newListeners(e.logger)
	st, err := e.listenAll(ls)
	if err != nil {
		ls.shutdown(e.grace())
		return err
	}
	e.startTLS()
	st.Ready = true
	e.mu.Lock()
	e.addrs = st
	e.mu.Unlock()
	if e.ready != nil {
		e.ready(e.Status())
	}
	defer e.startAudits(ctx, e.reg, st.HTTPS)()
	if err := e.notify.Ready(e.Status().String()); err != nil {
		e.logger.Warn("systemd not notified", "err", err)
	}
	return e.loop(ctx, ls)
}

// loop serves Reload's requests and pings systemd's watchdog until ctx
// is done or a listener fails, then shuts the listeners down.
func (e *Edge) loop(ctx context.Context, ls *listeners) error {
	var watchdog <-chan time.Time
	if every := e.notify.WatchdogEvery(); every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		watchdog = t.C
		e.notify.Watchdog()
	}
	for {
		select {
		case answer := <-e.reloadReq:
			answer <- e.reload()
		case <-watchdog:
			// Pinged from this loop, so a reload that hangs stops the
			// pings and systemd restarts the service.
			if err := e.notify.Watchdog(); err != nil {
				e.logger.Warn("systemd watchdog not pinged", "err", err)
			}
		case <-ctx.Done():
			if err := e.notify.Stopping(); err != nil {
				e.logger.Warn("systemd not notified", "err", err)
			}
			ls.shutdown(e.grace())
			return nil
		case err := <-ls.errc:
			e.notify.Stopping()
			ls.shutdown(e.grace())
			return err
		}
	}
}

func (e *Edge) isReady() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addrs.Ready
}
