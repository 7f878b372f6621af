package edge

import (
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/icpedge/icpedge/proxy"
)

// newRegistry makes the process's metrics registry (not the global
// default one): the proxy's request and origin metrics, the caches and
// certificates of the current clients, reloads, build info, and the Go
// runtime and process collectors.
func (e *Edge) newRegistry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	m, err := proxy.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	e.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "icpedge_config_reloads_total",
		Help: "Config reloads (SIGHUP), by result: applied or rejected.",
	}, []string{"result"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "icpedge_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(e.version, runtime.Version()).Set(1)
	for _, c := range []prometheus.Collector{
		e.reloads, build, siteCollector{e},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// metricsHandler serves reg in the Prometheus text format.
func metricsHandler(reg *prometheus.Registry, logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		Registry: reg,
	})
}

var (
	descClients = prometheus.NewDesc("icpedge_clients",
		"Clients being served.", nil, nil)
	descCacheEntries = prometheus.NewDesc("icpedge_cache_entries",
		"Responses stored on disk.", []string{"client"}, nil)
	descCacheBytes = prometheus.NewDesc("icpedge_cache_bytes",
		"Disk bytes used by stored responses (4 KiB blocks).", []string{"client"}, nil)
	descCacheMaxBytes = prometheus.NewDesc("icpedge_cache_max_bytes",
		"cache.max_size: the disk bytes the cache may use.", []string{"client"}, nil)
	descCacheMemEntries = prometheus.NewDesc("icpedge_cache_memory_entries",
		"Stored responses also held in memory.", []string{"client"}, nil)
	descCacheMemBytes = prometheus.NewDesc("icpedge_cache_memory_bytes",
		"Bytes of stored responses held in memory (estimated).", []string{"client"}, nil)
	descCacheEvictions = prometheus.NewDesc("icpedge_cache_evictions_total",
		"Stored responses evicted from disk to make room.", []string{"client"}, nil)
	descCacheHits = prometheus.NewDesc("icpedge_cache_lookups_total",
		"Cache lookups, by result: hit or miss.", []string{"client", "result"}, nil)
	descCacheCorrupt = prometheus.NewDesc("icpedge_cache_corrupt_total",
		"Damaged cache files found and removed.", []string{"client"}, nil)
	descCertExpiry = prometheus.NewDesc("icpedge_certificate_expiry_timestamp_seconds",
		"When the certificate served for a host expires (Unix time); absent until one is obtained.", []string{"client", "host"}, nil)
	descClusterUp = prometheus.NewDesc("icpedge_cluster_up",
		"1 while this node reaches its cluster's Redis, 0 while it does not (it then serves from its own cache and certificates; /readyz says why). Absent without a cluster block.", []string{"client", "node"}, nil)
	descCertMissing = prometheus.NewDesc("icpedge_certificate_missing",
		"1 while no valid certificate covers a host, so plain HTTP serves it instead of redirecting to HTTPS; 0 once one does. Absent without HTTPS.", []string{"client", "host"}, nil)
)

// siteCollector reads the current clients' caches and certificates at
// each scrape. The cache counters start over when a cache is reopened.
type siteCollector struct{ e *Edge }

func (c siteCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descCacheEntries, descCacheBytes, descCacheMaxBytes,
		descCacheMemEntries, descCacheMemBytes, descCacheEvictions, descCacheHits, descCacheCorrupt, descCertExpiry, descCertMissing, descClusterUp} {
		ch <- d
	}
}

func (c siteCollector) Collect(ch chan<- prometheus.Metric) {
	rt := c.e.cur.Load()
	if rt == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(len(rt.sites)))
	for _, s := range rt.sites {
		if s.store != nil {
			st := s.store.Stats()
			gauge := func(d *prometheus.Desc, v float64, labels ...string) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{s.name}, labels...)...)
			}
			counter := func(d *prometheus.Desc, v float64, labels ...string) {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{s.name}, labels...)...)
			}
			gauge(descCacheEntries, float64(st.Entries))
			gauge(descCacheBytes, float64(st.Bytes))
			gauge(descCacheMaxBytes, float64(s.cfg.Cache.MaxSize))
			gauge(descCacheMemEntries, float64(st.MemoryEntries))
			gauge(descCacheMemBytes, float64(st.MemoryBytes))
			counter(descCacheEvictions, float64(st.Evictions))
			counter(descCacheHits, float64(st.Hits), "hit")
			counter(descCacheHits, float64(st.Misses), "miss")
			counter(descCacheCorrupt, float64(st.Corrupt))
		}
		if s.node != nil {
			up := 0.0
			if ok, _ := s.node.Up(); ok {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descClusterUp, prometheus.GaugeValue, up, s.name, s.node.Name())
		}
		for host, notAfter := range s.tls.expiries(s.cfg.Hosts) {
			ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue,
				float64(notAfter.Unix()), s.name, host)
		}
		if s.tls != nil && s.tls.Config != nil {
			for _, host := range s.cfg.Hosts {
				missing := 0.0
				if !s.tls.hasCert(host) {
					missing = 1
				}
				ch <- prometheus.MustNewConstMetric(descCertMissing, prometheus.GaugeValue, missing, s.name, host)
			}
		}
	}
}

// expiries returns, per host, when the certificate now served for it
// expires: the manual pair's when it covers the host, or the latest of
// certmagic's cached certificates for it.
func (t *edgeTLS) expiries(hosts []string) map[string]time.Time {
	out := map[string]time.Time{}
	for h, c := range t.leaves(hosts) {
		out[h] = c.NotAfter
	}
	return out
}
