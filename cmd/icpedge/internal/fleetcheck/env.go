package fleetcheck

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/config"
)

// env holds what the command line overrides in every config's check.
type env struct {
	o        Options
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	resolver *net.Resolver
	roots    *x509.CertPool
}

// newEnv checks o and prepares what it overrides, in the order the
// options are listed in icpedge check --help.
func newEnv(o Options) (env, error) {
	e := env{o: o}
	if o.RDAPBootstrap != "" {
		if u, err := url.Parse(o.RDAPBootstrap); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return e, fmt.Errorf("--rdap-bootstrap %q: expected an http or https URL, e.g. %s", o.RDAPBootstrap, compliance.DefaultRDAPBootstrap)
		}
	}
	var err error
	if e.dial, err = compliance.ResolveDialer(o.Resolve, 15*time.Second); err != nil {
		return e, err
	}
	if o.DNS != "" {
		if _, _, err := net.SplitHostPort(o.DNS); err != nil {
			return e, fmt.Errorf("--dns %q: expected host:port, e.g. 127.0.0.1:53", o.DNS)
		}
		e.resolver = udpResolver(o.DNS)
	}
	if o.CA != "" {
		pem, err := os.ReadFile(o.CA)
		if err != nil {
			return e, fmt.Errorf("--ca: %w", err)
		}
		e.roots = x509.NewCertPool()
		if !e.roots.AppendCertsFromPEM(pem) {
			return e, fmt.Errorf("--ca: %s holds no PEM certificate", o.CA)
		}
	}
	return e, nil
}

func (e env) apply(o compliance.Options) compliance.Options {
	o.Dial, o.Resolver, o.RootCAs = e.dial, e.resolver, e.roots
	if e.o.Pages >= 0 {
		o.Pages = e.o.Pages
		if e.o.Pages == 0 {
			o.Pages = -1 // compliance: none
		}
	}
	return o
}

func (e env) applyRDAP(o compliance.RDAPOptions) compliance.RDAPOptions {
	o.Dial, o.RootCAs, o.Logger = e.dial, e.roots, e.o.Logger
	if e.o.RDAPBootstrap != "" {
		o.BootstrapURL = e.o.RDAPBootstrap
	}
	return o
}

// udpResolver asks only addr, over UDP (and TCP for truncated answers).
func udpResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// resolvedHosts lists the hosts --resolve sends elsewhere (lower case),
// with the ports given for each. The entries are checked by
// compliance.ResolveDialer.
func resolvedHosts(entries []string) map[string][]string {
	m := map[string][]string{}
	for _, e := range entries {
		host, rest, _ := strings.Cut(e, ":")
		port, _, _ := strings.Cut(rest, ":")
		m[strings.ToLower(host)] = append(m[strings.ToLower(host)], port)
	}
	return m
}

// useListenPort gives u, a site of cfg whose URL has no port, the port of
// cfg's listener for its scheme, when --resolve sends that host and port
// somewhere: an edge under test often listens on other ports than the
// public 80 and 443. It reports whether --resolve names u's host at all.
func useListenPort(u *url.URL, cfg *config.Config, resolved map[string][]string) bool {
	ports, ok := resolved[strings.ToLower(u.Hostname())]
	if !ok || u.Port() != "" {
		return ok
	}
	listen := cfg.Listen.HTTP
	if u.Scheme == "https" {
		listen = cfg.Listen.HTTPS
	}
	if _, port, err := net.SplitHostPort(listen); err == nil && port != "0" && slices.Contains(ports, port) {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return true
}

// onEdge reports whether this machine runs the instance: its state
// directory exists here.
func onEdge(cfg *config.Config) bool {
	fi, err := os.Stat(cfg.StateDir)
	return err == nil && fi.IsDir()
}
