package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
)

// auditTick is how often the audit loop looks for a client whose
// check.interval has passed.
const auditTick = time.Second

// complianceReporter receives the outcome of each check of a self-audit:
// ok is false for a failure. Skipped checks are not reported.
type complianceReporter func(host, check string, ok bool)

// startAudits runs the self-audit of every client whose check.interval is
// set: the checks of icpedge check, through the edge's own handler (no
// network for the pages), the DNS, and the local HTTPS listener for the
// certificate. Outcomes go to icpedge_compliance_ok{host,check} on reg and
// each failed check to one warning line. It runs until ctx is done or
// stop is called; stop waits for it to exit.
func (e *edgeRuntime) startAudits(ctx context.Context, reg prometheus.Registerer, httpsAddr net.Addr) (stop func()) {
	gauge := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "icpedge_compliance_ok",
		Help: "Outcome of the last self-audit check of a host: 1 passed, 0 failed (see icpedge check).",
	}, []string{"host", "check"})
	report := complianceReporter(func(host, check string, ok bool) {
		v := 0.0
		if ok {
			v = 1
		}
		gauge.WithLabelValues(host, check).Set(v)
	})
	if reg != nil {
		if err := reg.Register(gauge); err != nil {
			e.logger.Warn("compliance metrics not registered", "err", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		last := map[string]time.Time{}
		t := time.NewTicker(auditTick)
		defer t.Stop()
		for {
			for _, s := range e.cur.Load().sites {
				every := s.cfg.Check.Interval
				if every <= 0 || time.Since(last[s.name]) < every || ctx.Err() != nil {
					continue
				}
				last[s.name] = time.Now()
				for _, h := range s.cfg.Hosts {
					gauge.DeletePartialMatch(prometheus.Labels{"host": h})
				}
				e.audit(ctx, s, httpsAddr, report)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// audit checks one client once.
func (e *edgeRuntime) audit(ctx context.Context, s *site, httpsAddr net.Addr, report complianceReporter) {
	opts := checkOptions(s.cfg, true)
	opts.Transport = handlerTransport{http: e.handler(false), https: e.handler(true)}
	if httpsAddr != nil {
		addr := httpsAddr.String()
		opts.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	} else {
		opts.SkipTLS = "no HTTPS listener"
	}
	rep := compliance.New(opts).Run(ctx, checkSites(s.cfg))
	if ctx.Err() != nil {
		return // shutting down: the outcome is not the site's
	}
	for _, r := range rep.Results {
		if r.Status == compliance.Skip || r.Site == "-" {
			continue
		}
		report(r.Site, r.Check, r.Status == compliance.OK)
		if r.Status == compliance.Fail {
			s.logger.Warn("compliance check failed", "host", r.Site, "check", r.Check, "detail", r.Detail, "fix", r.Fix)
		}
	}
	s.logger.Info("compliance audit done", "problems", rep.Problems, "skipped", rep.Skipped)
}

// maxAuditBody bounds what the self-audit reads of one response.
const maxAuditBody = 8<<20 + 1

// handlerTransport answers requests by calling the edge's handlers in
// process, as a visitor on the listener of the URL's scheme would reach
// them.
type handlerTransport struct {
	http, https http.Handler
}

func (t handlerTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	in := req.Clone(req.Context())
	in.RemoteAddr = "127.0.0.1:0"
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	h := t.http
	if req.URL.Scheme == "https" {
		h = t.https
		in.TLS = &tls.ConnectionState{ServerName: req.URL.Hostname(), HandshakeComplete: true, Version: tls.VersionTLS13}
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := &auditRecorder{header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			resp, err = nil, errors.New("the edge cut the response")
		}
	}()
	h.ServeHTTP(rec, in)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if req.Method != http.MethodHead {
		rec.header.Del("Content-Length") // the body may be cut short
	}
	return &http.Response{
		Status:        strconv.Itoa(rec.status) + " " + http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: -1,
		Request:       req,
	}, nil
}

// auditRecorder keeps a response's first maxAuditBody bytes.
type auditRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *auditRecorder) Header() http.Header { return r.header }

func (r *auditRecorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
}

func (r *auditRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if room := maxAuditBody - r.body.Len(); room > 0 {
		r.body.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
