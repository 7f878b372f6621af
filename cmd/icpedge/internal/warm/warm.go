package warm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options say which edge to warm and how hard to push. Zero fields take
// the defaults given with each.
type Options struct {
	// Edge is the address of the edge's listener that pages are fetched
	// through ("127.0.0.1:80"). Required.
	Edge string
	// Scheme is "http" or "https": the scheme visitors will use, which is
	// part of the edge's cache key. Default "http".
	Scheme string
	// Hosts are the edge's host names (the config's hosts). A URL on one
	// of them is fetched for that host; the first is where URLs on
	// SiteHosts go. Required.
	Hosts []string
	// SiteHosts are the origin's own names (rewrite_hosts and
	// origin_host): sitemaps list the client's domain, and URLs on these
	// are fetched through the edge as its own, as the edge rewrites links.
	SiteHosts []string

	// Sitemap is the sitemap to read. Empty: the edge's /sitemap.xml, then
	// the sitemaps its /robots.txt names, then the origin's /sitemap.xml.
	// On a host of neither Hosts nor SiteHosts it is fetched directly.
	Sitemap string
	// Origin is the origin's URL, for reading its /sitemap.xml directly
	// when the edge has none; nil skips that step.
	Origin *url.URL
	// OriginHost is the Host header and TLS server name sent to the
	// origin; empty means Origin's host.
	OriginHost string
	// OriginCA verifies the origin's certificate; nil means the system
	// roots.
	OriginCA *x509.CertPool

	// Concurrency is the most pages fetched at once. Default 4.
	Concurrency int
	// Rate is the most requests started per second, sitemaps included.
	// Default 5.
	Rate float64
	// Retries is how often a request answered 429 or 503 is tried again.
	// Default 5.
	Retries int
	// MaxRetryWait caps the wait before a retry, whatever Retry-After
	// asks. Default 1 minute.
	MaxRetryWait time.Duration
	// Timeout bounds each request, body included. Default 2 minutes.
	Timeout time.Duration
	// Limits bound what the sitemaps may make warm do.
	Limits Limits

	// Admin is the edge's admin listener address; empty skips asking the
	// edge whether it is ready and how much its cache holds.
	Admin string
	// AdminToken is the admin bearer token; empty skips the cache figures.
	AdminToken string
	// Client is the client's name in the edge's metrics (its config
	// file's name without .yaml).
	Client string

	// Progress receives the progress display and the sitemap lines; nil
	// discards them.
	Progress io.Writer
	// Terminal draws a one-line progress bar on Progress instead of one
	// line per page.
	Terminal bool

	// limiter replaces the token bucket, for tests.
	limiter Limiter
	// now and sleep replace the clock, for tests.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func (o Options) withDefaults() Options {
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Rate <= 0 {
		o.Rate = 5
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.sleep == nil {
		o.sleep = sleepCtx
	}
	o.Limits = o.Limits.withDefaults()
	return o
}

// Problem is a page or sitemap that did not warm, and why.
type Problem struct {
	URL    string
	Reason string
}

// Report is the outcome of a run.
type Report struct {
	Pages     int // distinct pages on the edge that the sitemaps list
	Stored    int // fetched from the origin and stored
	Cached    int // already in the cache
	NotStored []Problem
	Failed    []Problem // pages that did not load
	Sitemaps  []Problem // sitemaps that could not be read
	Skipped   []string  // URLs on hosts that are not the site's
	Elapsed   time.Duration

	// CacheEntries and CacheBytes are what the edge's cache holds
	// afterwards, when the admin listener told; CacheNote says why not.
	CacheEntries, CacheBytes int64
	CacheKnown               bool
	CacheNote                string
}

// OK reports whether every page and every sitemap was read.
func (r *Report) OK() bool { return len(r.Failed) == 0 && len(r.Sitemaps) == 0 }

// warmer is one run.
type warmer struct {
	o        Options
	limiter  Limiter
	bucket   *bucket // nil when o.limiter replaces it
	edge     *http.Client
	origin   *http.Client
	direct   *http.Client
	explicit string // host of Options.Sitemap, fetched directly when not the site's
}

// Run reads the sitemaps and fetches every page they list through the
// edge. The error is for a run that could not start: no sitemap, an
// edge that is not running. Pages and sitemaps that fail are in the
// report.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	if o.Edge == "" || len(o.Hosts) == 0 {
		return nil, errors.New("warm: Options.Edge and Options.Hosts are required")
	}
	if o.Scheme != "http" && o.Scheme != "https" {
		return nil, fmt.Errorf("warm: scheme %q: expected http or https", o.Scheme)
	}
	w := &warmer{o: o, limiter: o.limiter}
	if w.limiter == nil {
		w.bucket = newBucket(o.Rate, o.now, o.sleep)
		w.limiter = w.bucket
	}
	w.edge = edgeClient(o.Edge, o.Concurrency)
	defer w.edge.CloseIdleConnections()
	w.origin = originClient(o.OriginHost, o.OriginCA)
	defer w.origin.CloseIdleConnections()
	w.direct = &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, TLSHandshakeTimeout: 10 * time.Second}}
	defer w.direct.CloseIdleConnections()

	if o.Admin != "" {
		if err := w.ready(ctx); err != nil {
			return nil, err
		}
	}
	start := o.now()
	rep := &Report{}
	pages, err := w.collect(ctx, rep)
	if err != nil {
		return nil, err
	}
	rep.Pages = len(pages)
	w.fetchAll(ctx, pages, rep)
	rep.Elapsed = o.now().Sub(start)
	if o.Admin != "" {
		w.cacheFigures(ctx, rep)
	}
	return rep, ctx.Err()
}

// edgeClient dials the edge's listener whatever the URL's host, as a
// DNS record pointing at the edge would, and follows no redirect: a
// redirect is a response the edge stores like any other.
func edgeClient(addr string, conns int) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			// The edge is this machine's own listener, dialled at the
			// address in its config: nothing can stand in between, and
			// before launch its certificate may not be issued yet or be
			// a staging one. No secret is sent on these requests.
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
			TLSHandshakeTimeout: 10 * time.Second,
			DisableCompression:  true,
			MaxIdleConnsPerHost: conns,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// originClient reaches the origin as the edge does: its own server name
// and roots.
func originClient(serverName string, roots *x509.CertPool) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSClientConfig:     &tls.Config{ServerName: serverName, RootCAs: roots},
			TLSHandshakeTimeout: 10 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// hostOf is a URL's host name in lower case, without port or trailing dot.
func hostOf(u *url.URL) string {
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

func hasHost(list []string, h string) bool {
	return slices.ContainsFunc(list, func(s string) bool {
		return strings.TrimSuffix(strings.ToLower(s), ".") == h
	})
}

// onEdge maps a URL listed in a sitemap onto the edge: the same path and
// query, on its own host when that is one of the edge's, on the first
// edge host when it is one of the origin's names. ok is false for any
// other host.
func (w *warmer) onEdge(raw string) (u *url.URL, ok bool) {
	src, err := url.Parse(raw)
	if err != nil || (src.Scheme != "http" && src.Scheme != "https") || src.Host == "" {
		return nil, false
	}
	h := hostOf(src)
	switch {
	case hasHost(w.o.Hosts, h):
	case hasHost(w.o.SiteHosts, h):
		h = strings.ToLower(w.o.Hosts[0])
	default:
		return nil, false
	}
	u = &url.URL{Scheme: w.o.Scheme, Host: h, Path: src.Path, RawPath: src.RawPath, RawQuery: src.RawQuery}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, true
}

// ready asks the admin listener whether the edge is serving.
func (w *warmer) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.o.Admin+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("asking the edge whether it is ready: %w", err)
	}
	resp, err := w.direct.Do(req)
	if err != nil {
		return fmt.Errorf("the edge's admin listener at %s does not answer (is icpedge serve running?): %w", w.o.Admin, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the edge is not ready yet: its admin listener at %s answers /readyz with %s", w.o.Admin, resp.Status)
	}
	return nil
}

// attempt is what do makes of a request.
type attempt struct {
	resp  *http.Response // nil on error; the caller closes the body
	tries int
}

// do sends the request newReq makes, paced by the limiter, and tries it
// again on 429 and 503 after Retry-After (RFC 9110 §10.2.3), or an
// exponential backoff when there is none, capped at MaxRetryWait. The
// wait holds back every request, not only this one: the origin asked
// for less. A response it gives up on is returned as it is.
func (w *warmer) do(ctx context.Context, c *http.Client, newReq func(ctx context.Context) (*http.Request, error)) (attempt, error) {
	backoff := time.Second
	for try := 1; ; try++ {
		if err := w.limiter.Wait(ctx); err != nil {
			return attempt{tries: try}, err
		}
		req, err := newReq(ctx)
		if err != nil {
			return attempt{tries: try}, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return attempt{tries: try}, err
		}
		if (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) || try > w.o.Retries {
			return attempt{resp: resp, tries: try}, nil
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), w.o.now())
		if !ok {
			wait = backoff
			backoff *= 2
		}
		wait = min(wait, w.o.MaxRetryWait)
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if w.bucket != nil {
			w.bucket.hold(w.o.now().Add(wait))
		} else if err := w.o.sleep(ctx, wait); err != nil {
			return attempt{tries: try}, err
		}
	}
}

// retryAfter reads a Retry-After value: delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > 1<<31 {
			n = 1 << 31 // capped by the caller anyway; no overflow
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// fetchAll fetches pages with Concurrency workers.
func (w *warmer) fetchAll(ctx context.Context, pages []*url.URL, rep *Report) {
	prog := newProgress(w.o.Progress, w.o.Terminal, len(pages), w.o.now)
	stop := prog.run()
	defer stop()

	var mu sync.Mutex
	next := make(chan *url.URL)
	var wg sync.WaitGroup
	for range min(w.o.Concurrency, max(len(pages), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range next {
				res := w.fetchPage(ctx, u)
				mu.Lock()
				switch {
				case res.failed != "":
					rep.Failed = append(rep.Failed, Problem{u.String(), res.failed})
				case res.cached:
					rep.Cached++
				case res.stored:
					rep.Stored++
				default:
					rep.NotStored = append(rep.NotStored, Problem{u.String(), res.cacheStatus})
				}
				mu.Unlock()
				prog.page(u.String(), res)
			}
		}()
	}
feed:
	for _, u := range pages {
		select {
		case next <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
}

// pageResult is what became of one page.
type pageResult struct {
	status      int
	cacheStatus string // the edge's Cache-Status
	cached      bool   // a hit: it was stored already
	stored      bool   // fetched and stored now
	failed      string // why it did not load; empty when it did
	tries       int
}

// fetchPage GETs one page through the edge and reads it to the end, so
// that the edge stores it whole. A 2xx or 3xx answer is a page warmed:
// the edge stores redirects as it does pages.
func (w *warmer) fetchPage(ctx context.Context, u *url.URL) pageResult {
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	a, err := w.do(ctx, w.edge, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", "icpedge-warm")
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		// The edge stores one document and encodes it for each visitor;
		// asking for br keeps the transfer small.
		req.Header.Set("Accept-Encoding", "br, gzip")
		return req, nil
	})
	if err != nil {
		return pageResult{failed: err.Error(), tries: a.tries}
	}
	defer a.resp.Body.Close()
	res := pageResult{status: a.resp.StatusCode, tries: a.tries, cacheStatus: a.resp.Header.Get("Cache-Status")}
	if _, err := io.Copy(io.Discard, a.resp.Body); err != nil {
		res.failed = fmt.Sprintf("reading the body: %v", err)
		return res
	}
	if a.resp.StatusCode >= 400 {
		res.failed = a.resp.Status
		if a.tries > 1 {
			res.failed += fmt.Sprintf(" after %d tries", a.tries)
		}
		return res
	}
	res.cached, res.stored = readCacheStatus(res.cacheStatus)
	return res
}

// readCacheStatus reads the edge's entry in a Cache-Status field
// (RFC 9211 §2): hit (or stale: a copy is stored), or forwarded and
// stored.
func readCacheStatus(v string) (hit, stored bool) {
	for _, entry := range strings.Split(v, ",") {
		params := strings.Split(entry, ";")
		if strings.TrimSpace(params[0]) != "icpedge" {
			continue
		}
		for _, p := range params[1:] {
			switch strings.TrimSpace(p) {
			case "hit", "fwd=stale":
				// A stale answer comes from a stored copy too.
				hit = true
			case "stored":
				stored = true
			}
		}
	}
	return hit, stored
}

// HTTPSReady reports whether the edge's HTTPS listener at addr completes
// a handshake for host, that is whether it has a certificate for it yet.
// Before a site launches it often has none: the CA can't reach it until
// DNS points at the edge.
func HTTPSReady(ctx context.Context, addr, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d := &tls.Dialer{Config: &tls.Config{ServerName: host, InsecureSkipVerify: true}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}
