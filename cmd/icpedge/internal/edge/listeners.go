package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/status"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/icpedge/icpedge/proxy"
)

// listeners are Run's servers. Each serves on a goroutine that start
// begins and shutdown ends; an error that stops one is sent on errc.
type listeners struct {
	logger  *slog.Logger
	servers []*http.Server
	serving sync.WaitGroup
	errc    chan error
}

func newListeners(logger *slog.Logger) *listeners {
	return &listeners{logger: logger, errc: make(chan error, 3)}
}

// start listens on addr and serves h there, over TLS when tlsConf is set.
func (l *listeners) start(kind, addr string, h http.Handler, tlsConf *tls.Config) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := newServer(h, l.logger)
	if tlsConf != nil {
		srv.TLSConfig = tlsConf
		ln = tlsListener(ln, tlsConf)
	}
	l.servers = append(l.servers, srv)
	// Owned by Run: ends when shutdown stops srv, and shutdown waits.
	l.serving.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.errc <- err
		}
	})
	l.logger.Info("listening", "addr", ln.Addr().String(), "tls", tlsConf != nil, "kind", kind)
	return ln.Addr(), nil
}

// shutdown stops every listener and waits up to grace for the requests
// in flight to end; those still running then are cut.
func (l *listeners) shutdown(grace time.Duration) {
	l.logger.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range l.servers {
		wg.Go(func() {
			if err := s.Shutdown(sctx); err != nil {
				l.logger.Warn("shutdown cut in-flight requests", "err", err)
			}
		})
	}
	wg.Wait()
	// Serve returns as soon as Shutdown has closed its listener.
	l.serving.Wait()
}

// listenAll starts the HTTP, HTTPS and admin listeners that are set,
// and returns their addresses. On error the caller shuts down those
// already started.
func (e *Edge) listenAll(l *listeners) (Status, error) {
	var st Status
	var err error
	if e.listen.HTTP != "" {
		if st.HTTP, err = l.start("http", e.listen.HTTP, e.handler(false), nil); err != nil {
			return st, err
		}
	}
	if e.listen.HTTPS != "" && (!e.single || e.cur.Load().single.tls.Config != nil) {
		if st.HTTPS, err = l.start("https", e.listen.HTTPS, e.handler(true), e.tlsConfig()); err != nil {
			return st, err
		}
	}
	if e.admin.Listen != "" {
		token, err := loadOrCreateToken(e.admin.TokenFile, e.logger)
		if err != nil {
			return st, err
		}
		aopts := proxy.AdminOptions{
			Token:   token,
			Ready:   e.isReady,
			Logger:  e.logger,
			Purge:   e.purge,
			Metrics: metricsHandler(e.reg, e.logger),
			Status:  status.New(status.Options{Token: token, Data: e.statusPage, Logger: e.logger}),
			Stats:   e.metrics,
			Reload:  e.reloadHandler(),
			Site:    e.names,
			// Without a cluster block these do nothing: Spread finds
			// no node, and /cluster lists no cluster.
			Spread:   e.spreadPurge,
			Degraded: e.clusterDegraded,
			Routes:   adminRoutes(e.clusterHandler()),
		}
		admin := proxy.NewAdmin(aopts)
		if st.Admin, err = l.start("admin", e.admin.Listen, admin, nil); err != nil {
			return st, err
		}
	}
	return st, nil
}

// tlsConfig is the HTTPS listener's: each handshake gets the TLS config
// (certificates, ACME challenges) of the site its SNI names, as the
// routes are at that moment.
func (e *Edge) tlsConfig() *tls.Config {
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
func (e *Edge) startTLS() {
	for _, s := range e.cur.Load().sites {
		if s.tlsNew {
			s.tls.Start(e.bg)
		}
	}
}

// grace is the shutdown grace period: timeouts.shutdown, the longest of
// the clients' with --config-dir.
func (e *Edge) grace() time.Duration {
	var g time.Duration
	for _, s := range e.cur.Load().sites {
		g = max(g, s.cfg.Timeouts.Shutdown)
	}
	if g == 0 {
		g = 30 * time.Second
	}
	return g
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
