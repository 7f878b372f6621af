package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"

	"github.com/icpedge/icpedge/config"
)

// edgeTLS is the instance's HTTPS setup for its tls.mode.
type edgeTLS struct {
	// Config serves the HTTPS listener; nil when tls.mode is off.
	Config *tls.Config
}

func newEdgeTLS(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*edgeTLS, error) {
	return &edgeTLS{}, nil
}

// HTTPHandler wraps the edge for the plain HTTP listener.
func (t *edgeTLS) HTTPHandler(next http.Handler) http.Handler { return next }

// HTTPSHandler wraps the edge for the HTTPS listener.
func (t *edgeTLS) HTTPSHandler(next http.Handler) http.Handler { return next }

// Start begins obtaining and renewing certificates in the background.
func (t *edgeTLS) Start(ctx context.Context) {}

// Close stops certificate maintenance.
func (t *edgeTLS) Close() {}

func tlsListener(ln net.Listener, c *tls.Config) net.Listener { return tls.NewListener(ln, c) }
