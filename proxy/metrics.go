package proxy

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the edge's Prometheus collectors. One Metrics is shared by
// every Handler of a process (clients, and the handlers a reload
// replaces), so counters carry on across reloads. Create it with
// NewMetrics and pass it in Options.Metrics.
type Metrics struct {
	requests       *prometheus.CounterVec
	originDuration *prometheus.HistogramVec
	originErrors   *prometheus.CounterVec
	staleServed    *prometheus.CounterVec
	// bytesSent by the response's Content-Encoding; sent holds its
	// children for the codings the edge makes, so that a hit looks
	// none up.
	bytesSent    *prometheus.CounterVec
	sent         [4]prometheus.Counter // by sentCodings
	savedBytes   prometheus.Counter
	compressTime prometheus.Counter
	// wholeIdentity and wholeCoded sum, over the compressed responses
	// sent whole, their sizes without compression and as sent: the
	// saving ratio of the status page. compressNanos and the sent bytes
	// by coding are kept here too, for it to read without a scrape.
	wholeIdentity, wholeCoded atomic.Int64
	compressNanos             atomic.Int64
	sentBytes                 [4]atomic.Int64 // by sentCodings
}

// sentCodings are the encoding label's values, in the order of
// Metrics.sentBytes.
var sentCodings = [4]string{"identity", "gzip", "br", "other"}

// NewMetrics creates the collectors and registers them with reg:
//
//	icpedge_requests_total{host,code,cache}          responses by edge host, status and cache status
//	icpedge_origin_duration_seconds{origin}          time to the origin's response headers
//	icpedge_origin_errors_total{origin,kind}         failed origin requests: timeout, connect, status_5xx
//	icpedge_cache_stale_served_total{host,reason}    stale copies served: stale-if-error, stale-while-revalidate
//	icpedge_bytes_sent_total{encoding}               response body bytes sent: identity, gzip, br, other
//	icpedge_compression_saved_bytes_total            bytes the edge's compression kept off the wire
//	icpedge_compress_seconds_total                   time the background Compressor spent making stored variants
//
// host is one of the Handler's Hosts, or "other" for requests it refused,
// so visitors cannot grow the label set. cache is hit, stale, revalidated,
// miss or bypass.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icpedge_requests_total",
			Help: "Responses sent, by edge host, HTTP status and cache status (hit, stale, revalidated, miss, bypass).",
		}, []string{"host", "code", "cache"}),
		originDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "icpedge_origin_duration_seconds",
			Help:    "Time from sending a request to the origin to its response headers.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"origin"}),
		originErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icpedge_origin_errors_total",
			Help: "Origin requests that failed: timeout, connect (refused, reset, TLS, DNS) or status_5xx.",
		}, []string{"origin", "kind"}),
		staleServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icpedge_cache_stale_served_total",
			Help: "Stale cached responses served, by edge host and reason (stale-if-error, stale-while-revalidate).",
		}, []string{"host", "reason"}),
		bytesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icpedge_bytes_sent_total",
			Help: "Response body bytes sent to visitors, by Content-Encoding (identity, gzip, br, or other for a coding passed through from the origin).",
		}, []string{"encoding"}),
		savedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icpedge_compression_saved_bytes_total",
			Help: "Bytes the edge's compression kept off the wire: for each complete response it compressed or served compressed, its size without compression less the bytes sent.",
		}),
		compressTime: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icpedge_compress_seconds_total",
			Help: "Time the background compressor spent making the stored br and gzip variants of cached responses.",
		}),
	}
	for i, enc := range sentCodings {
		m.sent[i] = m.bytesSent.WithLabelValues(enc)
	}
	for _, c := range []prometheus.Collector{m.requests, m.originDuration, m.originErrors, m.staleServed, m.bytesSent, m.savedBytes, m.compressTime} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

// observeRequest counts one response: class is its Cache-Status (RFC
// 9211) as cacheClass names it, and swr whether a stale one was served
// while revalidating.
func (m *Metrics) observeRequest(host string, status int, class string, swr bool) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(host, strconv.Itoa(status), class).Inc()
	if class == "stale" {
		reason := "stale-if-error"
		if swr {
			reason = "stale-while-revalidate"
		}
		m.staleServed.WithLabelValues(host, reason).Inc()
	}
}

// Observer is told what a Handler did, request by request. Its methods run
// on the request path: they must be quick and safe for concurrent use.
type Observer interface {
	// Served is called once per response to one of the Handler's Hosts.
	// class is how the cache answered: hit, stale, revalidated, miss or
	// bypass, as in icpedge_requests_total. staleOnError reports a stale
	// copy served because the origin failed (RFC 5861 §4).
	Served(class string, staleOnError bool)
	// Fetched is called once per request to the origin, d after it was
	// sent: err is non-nil when it failed (no response, or a 5xx
	// status, as icpedge_origin_errors_total counts).
	Fetched(d time.Duration, err error)
	// Stored is called once per entry written to the cache, with its
	// body bytes (every stored encoding).
	Stored(bytes int64)
}

// observeFetched tells o about one origin round trip.
func observeFetched(o Observer, d time.Duration, status int, err error) {
	if o == nil {
		return
	}
	if err == nil && status >= 500 {
		err = fmt.Errorf("origin answered %d %s", status, http.StatusText(status))
	}
	o.Fetched(d, err)
}

// observeSent counts n body bytes sent with Content-Encoding coding and,
// for a compressed response sent whole, its size without compression
// (identity; 0 otherwise): what the edge's compression kept off the wire.
func (m *Metrics) observeSent(coding string, n, identity int64) {
	if m == nil {
		return
	}
	i := 3 // whatever the origin chose, passed through: one label, so that origins cannot grow the label set
	switch coding {
	case "", "identity":
		i = 0
	case "gzip":
		i = 1
	case "br":
		i = 2
	}
	if n > 0 {
		m.sent[i].Add(float64(n))
		m.sentBytes[i].Add(n)
	}
	if identity > n {
		m.savedBytes.Add(float64(identity - n))
		m.wholeIdentity.Add(identity)
		m.wholeCoded.Add(n)
	}
}

// observeCompress counts d spent by the background Compressor.
func (m *Metrics) observeCompress(d time.Duration) {
	if m == nil {
		return
	}
	m.compressTime.Add(d.Seconds())
	m.compressNanos.Add(int64(d))
}

// CompressionStats are the figures of the status page: what was sent,
// and what compression saved, since the process started.
type CompressionStats struct {
	// Sent is the response body bytes sent, by Content-Encoding:
	// identity, gzip, br, other.
	Sent map[string]int64
	// Saved is the bytes compression kept off the wire; Ratio is Saved
	// over what the compressed responses sent whole would have taken
	// uncompressed (0 before the first).
	Saved int64
	Ratio float64
	// CompressCPU is the background compressor's CPU time.
	CompressCPU time.Duration
}

// Compression returns the figures of the status page.
func (m *Metrics) Compression() CompressionStats {
	st := CompressionStats{Sent: make(map[string]int64, len(sentCodings))}
	for i, c := range sentCodings {
		st.Sent[c] = m.sentBytes[i].Load()
	}
	identity, coded := m.wholeIdentity.Load(), m.wholeCoded.Load()
	st.Saved = identity - coded
	if identity > 0 {
		st.Ratio = float64(st.Saved) / float64(identity)
	}
	st.CompressCPU = time.Duration(m.compressNanos.Load())
	return st
}

// observeOrigin records one origin round trip that took d: its latency,
// and a failure when err is set or the status is 5xx.
func (m *Metrics) observeOrigin(origin string, d time.Duration, status int, err error) {
	if m == nil {
		return
	}
	switch {
	case err != nil && isTimeout(err):
		m.originErrors.WithLabelValues(origin, "timeout").Inc()
		return
	case err != nil:
		m.originErrors.WithLabelValues(origin, "connect").Inc()
		return
	case status >= 500:
		m.originErrors.WithLabelValues(origin, "status_5xx").Inc()
	}
	m.originDuration.WithLabelValues(origin).Observe(d.Seconds())
}

// cacheClass sorts a Cache-Status value (RFC 9211) into a few classes.
func cacheClass(cs string) string {
	switch {
	case strings.Contains(cs, "detail=stale-if-error"), strings.Contains(cs, "detail=stale-while-revalidate"):
		return "stale"
	case strings.Contains(cs, "; hit"):
		return "hit"
	case strings.Contains(cs, "fwd=stale"):
		return "revalidated"
	case strings.Contains(cs, "fwd=miss"), strings.Contains(cs, "fwd=vary-miss"):
		return "miss"
	}
	return "bypass"
}
