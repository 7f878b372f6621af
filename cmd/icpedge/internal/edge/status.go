package edge

import (
	"crypto/x509"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/status"
)

// statusPage is the admin status page's data: every client served now,
// with what the board has gathered for it.
func (e *Edge) statusPage() status.Page {
	rt := e.cur.Load()
	var clients []status.Client
	if rt != nil {
		for _, s := range rt.sites {
			c := status.Client{Name: s.name, Hosts: s.cfg.Hosts}
			if s.store != nil {
				c.CacheBytes = s.store.Stats().Bytes
			}
			if s.tls != nil && s.tls.Config != nil {
				c.Certs = s.tls.leaves(s.cfg.Hosts)
				c.CertErr = s.tls.lastError()
			}
			if s.cfg.Check.Interval <= 0 {
				c.AuditOff = "No self-audit runs: check.interval is not set."
			}
			clients = append(clients, c)
		}
	}
	p := e.board.Page(clients)
	p.Version = e.version
	if e.metrics != nil {
		c := e.metrics.Compression()
		p.Compression = status.Compression{Sent: c.Sent, Saved: c.Saved, Ratio: c.Ratio}
	}
	return p
}

// leaves returns, per host, the certificate served for it now: the manual
// pair's when it covers the host, or the latest-expiring of certmagic's
// cached certificates for it. A host without one is missing.
func (t *edgeTLS) leaves(hosts []string) map[string]*x509.Certificate {
	out := map[string]*x509.Certificate{}
	if t == nil {
		return out
	}
	switch {
	case t.manual != nil:
		cert := t.manual.cert.Load()
		if cert == nil || cert.Leaf == nil {
			return out
		}
		for _, h := range hosts {
			if cert.Leaf.VerifyHostname(h) == nil {
				out[h] = cert.Leaf
			}
		}
	case t.acme != nil:
		for _, h := range hosts {
			for _, c := range t.acme.cache.AllMatchingCertificates(h) {
				if c.Leaf != nil && (out[h] == nil || c.Leaf.NotAfter.After(out[h].NotAfter)) {
					out[h] = c.Leaf
				}
			}
		}
	}
	return out
}

// lastError is the last failure to obtain or renew a certificate, ""
// when the last attempt succeeded (or none failed).
func (t *edgeTLS) lastError() string {
	if t == nil || t.acme == nil {
		return ""
	}
	if v, ok := t.acme.lastErr.Load().(string); ok {
		return v
	}
	return ""
}
