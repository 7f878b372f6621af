package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// metricValue returns the value of the counter name whose labels include
// labels (name, value pairs), 0 when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// The bytes sent are counted by coding, and what compression kept off
// the wire: for each compressed response sent whole, its identity size
// less the bytes sent. The background compressor's time is counted.
func TestCompressionMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	o := newSafetyOrigin(t)
	o.set("/a", articlePage(60<<10))
	e := newSafetyEdge(t, o, func(opts *Options) { opts.Metrics = m })

	miss := e.get("/a", "Accept-Encoding", "gzip") // fast gzip, compressed for this visitor
	e.waitCompressed(t)
	plain := e.get("/a")
	br := e.get("/a", "Accept-Encoding", "br")
	gz := e.get("/a", "Accept-Encoding", "gzip")
	head := e.do("HEAD", "/a", nil, "Accept-Encoding", "br")
	if miss.Header().Get("Content-Encoding") != "gzip" || br.Header().Get("Content-Encoding") != "br" || gz.Header().Get("Content-Encoding") != "gzip" || head.Body.Len() != 0 {
		t.Fatalf("Content-Encoding: miss %q, br %q, gzip %q; HEAD %d bytes; want gzip, br, gzip, 0",
			miss.Header().Get("Content-Encoding"), br.Header().Get("Content-Encoding"), gz.Header().Get("Content-Encoding"), head.Body.Len())
	}
	identity := float64(plain.Body.Len())
	for _, tc := range []struct {
		encoding string
		want     float64
	}{
		{"identity", identity},
		{"gzip", float64(miss.Body.Len() + gz.Body.Len())},
		{"br", float64(br.Body.Len())},
		{"other", 0},
	} {
		if got := metricValue(t, reg, "icpedge_bytes_sent_total", "encoding", tc.encoding); got != tc.want {
			t.Errorf("icpedge_bytes_sent_total{encoding=%q}: got %v; want %v", tc.encoding, got, tc.want)
		}
	}
	wantSaved := 3*identity - float64(miss.Body.Len()+gz.Body.Len()+br.Body.Len())
	if got := metricValue(t, reg, "icpedge_compression_saved_bytes_total"); got != wantSaved {
		t.Errorf("icpedge_compression_saved_bytes_total: got %v; want %v", got, wantSaved)
	}
	if got := metricValue(t, reg, "icpedge_compress_seconds_total"); got <= 0 {
		t.Errorf("icpedge_compress_seconds_total: got %v; want the time of one compression, above 0", got)
	}

	// The status page shows the same figures, and the ratio, to the
	// token's holder only.
	admin := e.h.Admin(AdminOptions{Token: "secret", Stats: m})
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/status", nil)
	noToken := httptest.NewRecorder()
	admin.ServeHTTP(noToken, req)
	if noToken.Code != http.StatusUnauthorized || strings.Contains(noToken.Body.String(), "bytes sent") {
		t.Errorf("GET /status without the token: status %d; want 401, no figures", noToken.Code)
	}
	req.Header.Set("Authorization", "Bearer secret")
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, req)
	sent := int64(identity) + int64(miss.Body.Len()+gz.Body.Len()+br.Body.Len())
	ratio := wantSaved / (3 * identity)
	for _, want := range []string{
		fmt.Sprintf("bytes sent: %d (identity %d, gzip %d, br %d, other 0)\n", sent, plain.Body.Len(), miss.Body.Len()+gz.Body.Len(), br.Body.Len()),
		fmt.Sprintf("compression saved: %d bytes, %.1f%% of what the compressed responses would have taken uncompressed\n", int64(wantSaved), 100*ratio),
		"background compression: ",
	} {
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET /status: %d\n%s\nwant 200 with %q", w.Code, w.Body.String(), want)
		}
	}
	if st := m.Compression(); st.Ratio <= 0.5 || st.Ratio >= 1 {
		t.Errorf("saving ratio of a compressible page: got %.3f; want between 0.5 and 1", st.Ratio)
	}
}
