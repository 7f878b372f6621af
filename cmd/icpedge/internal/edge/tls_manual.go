package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// manualPollInterval is how often the files of a manual pair are checked
// for changes.
const manualPollInterval = 3 * time.Second

// manualCert serves a certificate and key from files the operator
// provides (tls.mode manual), reloading them when they change.
type manualCert struct {
	certFile, keyFile string
	hosts             []string
	logger            *slog.Logger

	cert atomic.Pointer[tls.Certificate]

	mu   sync.Mutex // serialises reloads and guards seen
	seen pairStamp  // the files as they were at the last reload attempt
}

// pairStamp identifies the versions of the two files cheaply: a file
// replaced or rewritten changes its modification time or size.
type pairStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func stampPair(certFile, keyFile string) (pairStamp, error) {
	c, err := os.Stat(certFile)
	if err != nil {
		return pairStamp{}, err
	}
	k, err := os.Stat(keyFile)
	if err != nil {
		return pairStamp{}, err
	}
	return pairStamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}

// newManualCert loads the pair; an unreadable or mismatched pair is an
// error.
func newManualCert(certFile, keyFile string, hosts []string, logger *slog.Logger) (*manualCert, error) {
	m := &manualCert{certFile: certFile, keyFile: keyFile, hosts: hosts, logger: logger}
	if err := m.reload(true); err != nil {
		return nil, err
	}
	return m, nil
}

// GetCertificate serves the current pair, whatever name is asked for:
// names the certificate does not cover fail in the visitor's browser,
// and were warned about when the pair was loaded.
func (m *manualCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.cert.Load(), nil
}

// reload loads the pair if it changed since the last attempt, or always
// when force is set. On failure the current certificate stays in use.
func (m *manualCert) reload(force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Stamped before reading, so a write during the read is seen next
	// time. A missing file stamps as zero, so it is reported once.
	stamp, _ := stampPair(m.certFile, m.keyFile)
	if !force && stamp == m.seen {
		return nil
	}
	m.seen = stamp
	cert, err := tls.LoadX509KeyPair(m.certFile, m.keyFile)
	if err != nil {
		return fmt.Errorf("loading tls.cert_file and tls.key_file: %w", err)
	}
	leaf := cert.Leaf
	var uncovered []string
	for _, h := range m.hosts {
		if leaf.VerifyHostname(h) != nil {
			uncovered = append(uncovered, h)
		}
	}
	old := m.cert.Swap(&cert)
	attrs := []any{"cert_file", m.certFile, "subject", leaf.Subject.String(), "names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC()}
	if old == nil {
		m.logger.Info("certificate loaded", attrs...)
	} else {
		m.logger.Info("certificate reloaded", attrs...)
	}
	if len(uncovered) > 0 {
		m.logger.Warn("certificate does not cover every host", "cert_file", m.certFile, "uncovered", uncovered)
	}
	if time.Now().After(leaf.NotAfter) {
		m.logger.Warn("certificate has expired", "cert_file", m.certFile, "not_after", leaf.NotAfter.UTC())
	}
	return nil
}

// watch reloads the pair whenever its files change, until ctx is done.
// A broken pair is reported once per change, and the current
// certificate stays in use.
func (m *manualCert) watch(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := m.reload(false); err != nil {
				m.logger.Error("certificate not reloaded; keeping the current one", "err", err)
			}
		}
	}
}
