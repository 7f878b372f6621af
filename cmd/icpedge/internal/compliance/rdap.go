package compliance

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultRDAPBootstrap is IANA's RDAP bootstrap file for domain names
// (RFC 9224).
const DefaultRDAPBootstrap = "https://data.iana.org/rdap/dns.json"

// RDAPOptions configure an RDAP client. Zero values mean the documented
// default.
type RDAPOptions struct {
	// BootstrapURL is the bootstrap file that names each TLD's RDAP
	// server (RFC 9224). Default DefaultRDAPBootstrap.
	BootstrapURL string
	// BootstrapDir is the directory the bootstrap file is kept in between
	// runs, as rdap-dns.json (IANA's) or rdap-dns-<hash of the URL>.json
	// (another), made when missing. The file is fetched again when it is
	// a day old, and a stale copy is used when fetching fails. Empty keeps
	// it in memory only, for the client's life.
	BootstrapDir string
	// Servers map domain suffixes (a TLD such as "cn", or "com.cn";
	// lower-case, xn-- form) to the base URL of the RDAP server to ask
	// instead of the bootstrap file's, ending in "/". The longest
	// matching suffix wins.
	Servers map[string]string
	// Timeout bounds each request. Default 15s.
	Timeout time.Duration
	// Dial opens connections. Default a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs verify the servers' certificates. Nil means the system
	// roots.
	RootCAs *x509.CertPool
	// Now is the clock for the bootstrap file's age. Default time.Now.
	Now func() time.Time
	// Logger receives what is not a check's outcome: a bootstrap file
	// that could not be kept, or a stale one used. Default: discarded.
	Logger *slog.Logger
}

// RDAP looks up domain registrations with RDAP (RFC 9082, RFC 9083). It
// is safe for concurrent use.
type RDAP struct {
	opts   RDAPOptions
	client *http.Client

	mu      sync.Mutex
	boot    *bootstrap // loaded on first use
	bootErr error      // why it could not be loaded; not retried
}

const (
	// bootstrapMaxAge is how long a kept bootstrap file is used before it
	// is fetched again: IANA updates it a few times a month at most.
	bootstrapMaxAge = 24 * time.Hour
	// maxRDAPBytes bounds one RDAP answer (a domain's is a few KB).
	maxRDAPBytes = 1 << 20
	// maxRelatedTries bounds the registrar servers asked for one domain.
	maxRelatedTries = 2
	// rdapMediaType is RDAP's media type (RFC 7480 §4.2, RFC 9083 §10.1).
	rdapMediaType = "application/rdap+json"
)

// errNotFound is a 404 (RFC 7480 §5.3): the server has no such object.
var errNotFound = errors.New("the server does not know the domain (404)")

// NewRDAP returns an RDAP client for opts.
func NewRDAP(opts RDAPOptions) *RDAP {
	if opts.BootstrapURL == "" {
		opts.BootstrapURL = DefaultRDAPBootstrap
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: opts.Timeout}
		opts.Dial = d.DialContext
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &http.Transport{
		DialContext:           opts.Dial,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		MaxIdleConnsPerHost:   2,
		// A client lives for one check; its connections must not
		// outlive it by long.
		IdleConnTimeout:   30 * time.Second,
		ForceAttemptHTTP2: true,
		TLSClientConfig:   tlsClientConfig(opts.RootCAs, ""),
	}
	return &RDAP{opts: opts, client: &http.Client{
		Transport: t,
		Timeout:   opts.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// RFC 7480 §5.2: servers redirect to the authoritative
			// one; an answer got over https is not taken over http.
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errors.New("redirected from https to " + req.URL.Scheme)
			}
			return nil
		},
	}}
}

// lookup finds domain's registration: the registry's answer, completed
// from the registrar's RDAP server when it is thin (RFC 9083 §4.2 related
// links; the thin-registry model of the gTLDs). asked is the URL asked of
// the registry. A failure to reach the registrar is left in note.
func (r *RDAP) lookup(ctx context.Context, domain string) (reg registration, asked, note string, err error) {
	base, err := r.server(ctx, domain)
	if err != nil {
		return registration{}, "", "", err
	}
	asked = base + "domain/" + domain
	data, err := r.get(ctx, asked)
	if errors.Is(err, errNotFound) {
		return registration{}, asked, "", fmt.Errorf("%w; if it is registered, its registry may not publish it over RDAP", err)
	}
	if err != nil {
		return registration{}, asked, "", err
	}
	reg, err = parseDomain(data)
	if err != nil {
		return registration{}, asked, "", fmt.Errorf("%s: %w", asked, err)
	}
	if !reg.thin() {
		return reg, asked, "", nil
	}
	tried := 0
	for _, href := range reg.related {
		u, err := url.Parse(href)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || href == asked:
			continue
		case strings.HasPrefix(asked, "https:") && u.Scheme != "https":
			// Not taken over a weaker channel than the registry's.
			continue
		}
		if tried == maxRelatedTries {
			break
		}
		tried++
		more, err := r.get(ctx, href)
		if err == nil {
			var o registration
			if o, err = parseDomain(more); err == nil {
				reg.fill(o)
				return reg, asked, "", nil
			}
			err = fmt.Errorf("%s: %w", href, err)
		}
		note = "the registrar's RDAP server: " + err.Error()
	}
	return reg, asked, note, nil
}

// server returns the base URL of the RDAP server for domain, ending in
// "/": the configured one for its longest matching suffix, else the
// bootstrap file's.
func (r *RDAP) server(ctx context.Context, domain string) (string, error) {
	best := ""
	for s := range r.opts.Servers {
		if (domain == s || strings.HasSuffix(domain, "."+s)) && len(s) > len(best) {
			best = s
		}
	}
	if best != "" {
		return withSlash(r.opts.Servers[best]), nil
	}
	b, err := r.bootstrap(ctx)
	if err != nil {
		return "", err
	}
	urls, _ := b.lookup(domain)
	tld := domain[strings.LastIndexByte(domain, '.')+1:]
	var httpURL string
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		switch u.Scheme {
		case "https":
			// RFC 9224 §5: https is preferred when both are listed.
			return withSlash(raw), nil
		case "http":
			if httpURL == "" {
				httpURL = raw
			}
		}
	}
	if httpURL != "" {
		return withSlash(httpURL), nil
	}
	return "", fmt.Errorf("no RDAP server for .%s: the bootstrap file lists none (some ccTLDs run none); if its registry has one, name it in check.rdap", tld)
}

func withSlash(s string) string {
	if !strings.HasSuffix(s, "/") {
		return s + "/"
	}
	return s
}

// bootstrap loads the bootstrap file once per client: the kept copy while
// it is less than a day old, else a fresh one, else the stale copy.
func (r *RDAP) bootstrap(ctx context.Context) (*bootstrap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.boot != nil || r.bootErr != nil {
		return r.boot, r.bootErr
	}
	var (
		kept    *bootstrap
		keptAge time.Duration
	)
	f := r.bootstrapFile()
	if f != "" {
		if data, mtime, err := readCapped(f, maxBootstrapBytes); err == nil {
			if b, err := parseBootstrap(data); err == nil {
				kept, keptAge = b, r.opts.Now().Sub(mtime)
			} else {
				r.opts.Logger.Warn("kept RDAP bootstrap file unreadable; fetching it again", "file", f, "err", err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			r.opts.Logger.Warn("kept RDAP bootstrap file unreadable; fetching it again", "file", f, "err", err)
		}
	}
	if kept != nil && keptAge >= 0 && keptAge < bootstrapMaxAge {
		r.boot = kept
		return kept, nil
	}
	data, err := r.getBootstrap(ctx)
	var fresh *bootstrap
	if err == nil {
		fresh, err = parseBootstrap(data)
	}
	switch {
	case err == nil:
		r.boot = fresh
		if f != "" {
			if werr := writeAtomic(f, data); werr != nil {
				r.opts.Logger.Warn("RDAP bootstrap file not kept; it is fetched again next time", "file", f, "err", werr)
			}
		}
	case kept != nil:
		r.opts.Logger.Warn("RDAP bootstrap file not refreshed; using the kept copy", "url", r.opts.BootstrapURL, "age", keptAge.Round(time.Minute), "err", err)
		r.boot = kept
	default:
		r.bootErr = fmt.Errorf("the RDAP bootstrap file %s could not be read: %w", r.opts.BootstrapURL, err)
	}
	return r.boot, r.bootErr
}

// bootstrapFile is where the bootstrap file is kept, or "". A file from
// another URL is never taken for this one's.
func (r *RDAP) bootstrapFile() string {
	if r.opts.BootstrapDir == "" {
		return ""
	}
	name := "rdap-dns.json"
	if r.opts.BootstrapURL != DefaultRDAPBootstrap {
		sum := sha256.Sum256([]byte(r.opts.BootstrapURL))
		name = "rdap-dns-" + hex.EncodeToString(sum[:6]) + ".json"
	}
	return filepath.Join(r.opts.BootstrapDir, name)
}

// getBootstrap fetches the bootstrap file.
func (r *RDAP) getBootstrap(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opts.BootstrapURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "icpedge-check")
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, r.netErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	return readBody(resp.Body, maxBootstrapBytes, r.opts.Timeout)
}

// get asks an RDAP server for an object and returns the answer's body.
func (r *RDAP) get(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	req.Header.Set("User-Agent", "icpedge-check")
	// RFC 7480 §4.2: ask for RDAP's media type; application/json is
	// what some servers answer with.
	req.Header.Set("Accept", rdapMediaType+", application/json;q=0.9")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, r.netErr(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s: %w", u, errNotFound)
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%s: rate limited (429); it is asked again at the next check", u)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: answered %s", u, resp.Status)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != rdapMediaType && mt != "application/json" {
		return nil, fmt.Errorf("%s: the answer is %q, not RDAP JSON", u, clean(resp.Header.Get("Content-Type")))
	}
	data, err := readBody(resp.Body, maxRDAPBytes, r.opts.Timeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return data, nil
}

// netErr says what went wrong talking to a server, briefly.
func (r *RDAP) netErr(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("no answer within %s", r.opts.Timeout)
	}
	return errors.New(shortErr(err))
}

// readBody reads a body of at most limit bytes.
func readBody(body io.Reader, limit int64, timeout time.Duration) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err)):
		return nil, fmt.Errorf("the answer did not arrive within %s", timeout)
	case err != nil:
		return nil, fmt.Errorf("reading the answer: %w", err)
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("the answer is larger than %d KiB", limit>>10)
	}
	return data, nil
}

// readCapped reads a file of at most limit bytes, and its modification
// time.
func readCapped(name string, limit int64) ([]byte, time.Time, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	if fi.Size() > limit {
		return nil, time.Time{}, fmt.Errorf("larger than %d KiB", limit>>10)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit))
	return data, fi.ModTime(), err
}

// writeAtomic replaces name with data, so that a reader, or a crash, never
// sees half a file.
func writeAtomic(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
