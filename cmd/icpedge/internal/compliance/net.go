package compliance

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checkDNS compares the host's A and AAAA records with the expected
// addresses: every record must name the edge, or some visitors reach
// another provider than the one that filed the domain.
func (c *Checker) checkDNS(ctx context.Context, host string) Result {
	r := Result{Check: CheckDNS}
	if _, err := netip.ParseAddr(host); err == nil {
		r.Status, r.Detail = Skip, "the URL names an IP address"
		return r
	}
	if len(c.opts.ExpectIPs) == 0 {
		r.Status, r.Detail = Skip, c.opts.DNSSkip
		if r.Detail == "" {
			r.Detail = "no expected addresses (check.expect_ips)"
		}
		return r
	}
	want := addrList(c.opts.ExpectIPs)
	fix := "set the A record of " + host + " to " + want + " only, and remove AAAA records that are not this edge's: the filed domain must be served by the provider that filed it"
	if c.opts.ExpectGuessed {
		fix = "point the A record of " + host + " at this edge's public address only, and remove AAAA records that are not this edge's: the filed domain must be served by the provider that filed it; " +
			"set check.expect_ips to that address (this check compared with " + want + ", found on this machine's interfaces, which behind NAT are not what visitors reach)"
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	addrs, err := c.opts.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			r.Status, r.Detail, r.Fix = Fail, "no A or AAAA record", fix
			return r
		}
		r.Status, r.Detail, r.Fix = Fail, "lookup failed: "+err.Error(), "check that the domain's name servers answer; then "+fix
		return r
	}
	var wrong []netip.Addr
	for i, a := range addrs {
		addrs[i] = a.Unmap()
		if !slices.Contains(c.opts.ExpectIPs, addrs[i]) {
			wrong = append(wrong, addrs[i])
		}
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	from := c.opts.ExpectFrom
	if from == "" {
		from = "expected"
	}
	if len(wrong) > 0 {
		r.Status = Fail
		r.Detail = fmt.Sprintf("resolves to %s; %s not this edge (%s: %s)", addrList(addrs), addrList(wrong), from, want)
		r.Fix = fix
		return r
	}
	r.Status, r.Detail = OK, "resolves to "+addrList(addrs)
	return r
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// checkTLS connects to an https site and verifies its certificate chain
// for the host name, and the days left.
func (c *Checker) checkTLS(ctx context.Context, u *url.URL) Result {
	r := Result{Check: CheckTLS}
	if c.opts.SkipTLS != "" {
		r.Status, r.Detail = Skip, c.opts.SkipTLS
		return r
	}
	if u.Scheme != "https" {
		r.Status, r.Detail = Skip, "served over http"
		return r
	}
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "443"
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	raw, err := c.opts.Dial(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		r.Status, r.Detail = Fail, "no connection: "+err.Error()
		r.Fix = "check that icpedge listens for HTTPS (listen.https) and that port " + port + " reaches it"
		return r
	}
	defer raw.Close()
	// Verify by hand, so that the chain is still read when it fails.
	conf := tlsClientConfig(c.opts.RootCAs, host)
	conf.InsecureSkipVerify = true
	conn := tls.Client(raw, conf)
	if err := conn.HandshakeContext(ctx); err != nil {
		r.Status, r.Detail = Fail, "TLS handshake failed: "+err.Error()
		r.Fix = "check the edge's certificate log lines (msg=\"certificate not obtained\") and tls.* in the config"
		return r
	}
	certs := conn.ConnectionState().PeerCertificates
	leaf := certs[0]
	now := c.opts.Now()
	days := int(math.Floor(leaf.NotAfter.Sub(now).Hours() / 24))
	r.DaysLeft = &days
	inter := x509.NewCertPool()
	for _, ct := range certs[1:] {
		inter.AddCert(ct)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: c.opts.RootCAs, Intermediates: inter, CurrentTime: now})
	var (
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		authErr    x509.UnknownAuthorityError
	)
	fix := "with tls.mode acme, check the edge's certificate log lines and send SIGHUP to retry; with tls.mode manual, install a valid certificate for " + host + " in tls.cert_file"
	switch {
	case verr == nil && days < renewWarnDays:
		r.Status = Fail
		r.Detail = fmt.Sprintf("valid for %s but expires in %d days (%s)", host, days, leaf.NotAfter.UTC().Format(time.DateOnly))
		r.Fix = "renewal should have happened by now; " + fix
	case verr == nil:
		r.Status = OK
		r.Detail = fmt.Sprintf("valid for %s, %d days left (until %s)", host, days, leaf.NotAfter.UTC().Format(time.DateOnly))
	case errors.As(verr, &hostErr):
		r.Status, r.Fix = Fail, fix
		r.Detail = fmt.Sprintf("the certificate is for %s, not %s", certNames(leaf), host)
	case errors.As(verr, &invalidErr) && invalidErr.Reason == x509.Expired:
		r.Status, r.Fix = Fail, fix
		if now.Before(leaf.NotBefore) {
			r.Detail = "the certificate is not valid until " + leaf.NotBefore.UTC().Format(time.DateOnly)
		} else {
			r.Detail = "the certificate expired on " + leaf.NotAfter.UTC().Format(time.DateOnly)
		}
	case errors.As(verr, &authErr):
		r.Status, r.Fix = Fail, fix
		r.Detail = "the certificate is not signed by a trusted CA (issuer " + leaf.Issuer.String() + ")"
	default:
		r.Status, r.Fix = Fail, fix
		r.Detail = "the certificate does not verify: " + verr.Error()
	}
	return r
}

func certNames(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = []string{c.Subject.CommonName}
	}
	return strings.Join(names, ", ")
}

func tlsClientConfig(roots *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
}

// ResolveDialer returns a dial function that connects to the addresses
// given like curl's --resolve: "HOST:PORT:ADDR[,ADDR]..." sends
// connections for HOST:PORT to ADDR:PORT (IPv6 in brackets), trying the
// addresses in order. Other connections go where DNS says.
func ResolveDialer(entries []string, timeout time.Duration) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	m := map[string][]string{}
	for _, e := range entries {
		host, rest, ok1 := strings.Cut(e, ":")
		port, addrs, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || host == "" || addrs == "" {
			return nil, fmt.Errorf("--resolve %q: expected HOST:PORT:ADDR, e.g. icp.client.com:443:127.0.0.1", e)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("--resolve %q: port %q is not 1-65535", e, port)
		}
		key := net.JoinHostPort(strings.ToLower(host), port)
		for _, a := range strings.Split(addrs, ",") {
			ip, err := netip.ParseAddr(strings.Trim(a, "[]"))
			if err != nil {
				return nil, fmt.Errorf("--resolve %q: %q is not an IP address", e, a)
			}
			m[key] = append(m[key], net.JoinHostPort(ip.String(), port))
		}
	}
	d := &net.Dialer{Timeout: timeout}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return d.DialContext(ctx, network, addr)
		}
		targets, ok := m[net.JoinHostPort(strings.ToLower(host), port)]
		if !ok {
			return d.DialContext(ctx, network, addr)
		}
		var errs []error
		for _, t := range targets {
			conn, err := d.DialContext(ctx, network, t)
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}, nil
}
