package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure a node. URL, Node and Dir are required; zero values of
// the rest mean the documented default.
type Options struct {
	// URL is the Redis server: redis://[user@]host[:port][/db], or
	// rediss:// for TLS.
	URL *url.URL
	// Password authenticates to Redis; empty for none. It overrides a
	// password in URL.
	Password string
	// TLS is the client TLS config for rediss://. Nil: the system roots,
	// verifying URL's host.
	TLS *tls.Config
	// Node names this node, unique in the cluster.
	Node string
	// Prefix begins every Redis key. Default "icpedge:".
	Prefix string
	// Dir is the node's state directory. Certificates and keys are
	// mirrored in Dir/certs; the cluster's own state (the last purge seen,
	// writes not yet in Redis) is kept in Dir/cluster.
	Dir string

	// Address, Version, Hosts and Fingerprint are what this node's
	// heartbeat tells the others (see NodeInfo).
	Address     string
	Version     string
	Hosts       []string
	Fingerprint string

	// Apply applies a purge published by another node. It runs on one
	// goroutine, in stream order; the purge is recorded as applied by this
	// node when it returns nil. Nil: purges are only recorded as seen.
	Apply func(Purge) error

	// Heartbeat is how often the node refreshes its heartbeat and checks
	// Redis. A node is listed by Nodes until 3 heartbeats are missed.
	// Default 5s.
	Heartbeat time.Duration
	// LockTTL is how long a lock outlives a holder that stopped renewing
	// it (a crash); it is renewed every LockTTL/3 while held. Default 30s.
	LockTTL time.Duration
	// StreamLen caps the purge stream, approximately (XADD MAXLEN ~).
	// A node away for more purges than this purges everything when it
	// returns. Default 10000.
	StreamLen int64
	// Timeout bounds each Redis command, dial included. Default 3s.
	Timeout time.Duration
	// MaxBackoff caps the wait between reconnection attempts, which
	// starts at 100ms and doubles. Default 10s.
	MaxBackoff time.Duration

	// Logger receives the node's logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "icpedge:"
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 5 * time.Second
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 30 * time.Second
	}
	if o.StreamLen <= 0 {
		o.StreamLen = 10000
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Node is this edge's membership in the cluster. Its methods are safe for
// concurrent use.
type Node struct {
	opts Options
	rdb  *redis.Client
	// reader serves the purge stream's blocking reads alone. Closing it
	// ends a blocked read at once, which cancelling its context does not.
	reader   *redis.Client
	log      *slog.Logger
	storage  *Storage
	stateDir string

	mu     sync.Mutex
	up     bool
	reason string
	// hosts and fingerprint are what the heartbeat announces; Announce
	// changes them.
	hosts       []string
	fingerprint string
	kick        chan struct{} // wakes the monitor after a failed command

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open starts a node: it connects to Redis, and keeps running when Redis
// is unreachable (see Up). It fails only for bad options or an unusable
// Dir. The node's goroutines run until Close.
func Open(ctx context.Context, opts Options) (*Node, error) {
	opts = opts.withDefaults()
	switch {
	case opts.URL == nil:
		return nil, errors.New("cluster: no redis URL")
	case opts.Node == "":
		return nil, errors.New("cluster: no node name")
	case opts.Dir == "":
		return nil, errors.New("cluster: no state directory")
	}
	ropts, err := redisOptions(opts)
	if err != nil {
		return nil, err
	}

	stateDir := filepath.Join(opts.Dir, "cluster")
	for _, d := range []string{filepath.Join(opts.Dir, "certs"), stateDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	n := &Node{
		opts:        opts,
		rdb:         redis.NewClient(ropts),
		reader:      redis.NewClient(readerOpts(ropts)),
		log:         opts.Logger.With("node", opts.Node),
		stateDir:    stateDir,
		reason:      "not connected yet",
		hosts:       opts.Hosts,
		fingerprint: opts.Fingerprint,
		kick:        make(chan struct{}, 1),
	}
	n.storage, err = newStorage(n, filepath.Join(opts.Dir, "certs"))
	if err != nil {
		n.rdb.Close()
		n.reader.Close()
		return nil, err
	}
	last, err := n.loadLastPurge()
	if err != nil {
		n.rdb.Close()
		n.reader.Close()
		return nil, err
	}

	// A first check before returning, so that a node whose Redis is up
	// starts up, bounded by Timeout whatever ctx says. A node new to the
	// cluster starts reading purges at the stream's end, as of now.
	cctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	if n.connect(cctx) && last == "" {
		if id, err := n.streamEnd(cctx); err == nil && n.saveLastPurge(id) == nil {
			last = id
		}
	}
	cancel()

	rctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(2)
	go n.monitor(rctx)
	go n.consumePurges(rctx, last)
	return n, nil
}

// Storage returns the certmagic storage shared by the cluster.
func (n *Node) Storage() *Storage { return n.storage }

// Name is the node's name.
func (n *Node) Name() string { return n.opts.Node }

// Up reports whether Redis answered the node's last command, and when it
// did not, why (for /readyz and the logs).
func (n *Node) Up() (up bool, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.up, n.reason
}

// Close stops the node's goroutines, releases the locks it holds, removes
// its heartbeat so the others see it leave, and closes the connection.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	n.cancel()
	n.reader.Close()
	n.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	defer cancel()
	n.storage.releaseAll(ctx)
	if err := n.rdb.Del(ctx, n.key("node:"+n.opts.Node)).Err(); err != nil {
		n.log.Warn("cluster heartbeat not removed at close; it expires", "err", err)
	}
	return n.rdb.Close()
}

// abandon stops the node as a crash would: its goroutines end and its
// connection closes, but its locks and heartbeat stay in Redis to expire.
func (n *Node) abandon() {
	n.closeOnce.Do(func() {
		n.cancel()
		n.reader.Close()
		n.wg.Wait()
		n.storage.stopRenewals()
		n.rdb.Close()
	})
}

// redisOptions are the client options for opts, which has its defaults.
func redisOptions(opts Options) (*redis.Options, error) {
	ropts, err := redis.ParseURL(opts.URL.String())
	if err != nil {
		return nil, fmt.Errorf("cluster: redis url %s: %w", opts.URL.Redacted(), err)
	}
	if opts.Password != "" {
		ropts.Password = opts.Password
	}
	if ropts.TLSConfig != nil && opts.TLS != nil {
		ropts.TLSConfig = opts.TLS.Clone()
	}
	ropts.DialTimeout = opts.Timeout
	ropts.ReadTimeout = opts.Timeout
	ropts.WriteTimeout = opts.Timeout
	ropts.ContextTimeoutEnabled = true
	ropts.MaxRetries = 1
	ropts.PoolSize = 8
	ropts.DisableIdentity = true // CLIENT SETINFO: not every Redis or Valkey has it
	ropts.ClientName = "icpedge:" + opts.Node
	return ropts, nil
}

func readerOpts(o *redis.Options) *redis.Options {
	r := *o
	r.PoolSize = 1
	r.ClientName += ":purges"
	return &r
}

// key is name under the node's prefix.
func (n *Node) key(name string) string { return n.opts.Prefix + name }

// failed records that a Redis command failed for reason err and wakes the
// monitor, which reconnects with backoff. Errors that are Redis's answer
// (a script error, a wrong type) mean the server is up and are not counted.
// It returns err.
func (n *Node) failed(err error) error {
	if err == nil || !unreachable(err) {
		return err
	}
	n.setDown(err)
	select {
	case n.kick <- struct{}{}:
	default:
	}
	return err
}

// unreachable reports whether err means Redis could not be reached, as
// against an answer from it.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) {
		return false // redis.ErrClosed: this node is closing
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		// An answer from the server, except those that say it cannot
		// serve: loading its data set, or a replica cut from its master.
		msg := rerr.Error()
		return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "NOAUTH") || strings.HasPrefix(msg, "WRONGPASS")
	}
	return true
}

func (n *Node) setDown(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	reason := "redis unreachable: " + err.Error()
	if n.up || n.reason != reason {
		n.log.Warn("cluster redis down", "err", err)
	}
	n.up, n.reason = false, reason
}

func (n *Node) setUp() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.up {
		n.log.Info("cluster redis up")
	}
	n.up, n.reason = true, ""
}

// connect checks Redis, writes what was stored while it was down, and
// beats the heart. It reports whether all of it worked.
func (n *Node) connect(ctx context.Context) bool {
	if err := n.rdb.Ping(ctx).Err(); err != nil {
		n.failed(err)
		return false
	}
	if err := n.storage.catchUp(ctx); err != nil {
		n.failed(err)
		return false
	}
	if err := n.heartbeat(ctx); err != nil {
		n.failed(err)
		return false
	}
	n.setUp()
	return true
}

// monitor beats the heart while Redis is up and reconnects, with
// exponential backoff, while it is down.
func (n *Node) monitor(ctx context.Context) {
	defer n.wg.Done()
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	for {
		wait := n.opts.Heartbeat
		if up, _ := n.Up(); !up {
			wait = backoff
			backoff = min(backoff*2, n.opts.MaxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-n.kick:
			t.Stop()
			if up, _ := n.Up(); !up {
				continue // the first retry waits for backoff
			}
		}
		cctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
		if n.connect(cctx) {
			backoff = minBackoff
		}
		cancel()
	}
}
