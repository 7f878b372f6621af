// Package rdaptest serves RDAP for tests, on loopback: a bootstrap file
// for domain names (RFC 9224) and the RDAP servers (RFC 9082, RFC 9083) of
// two registries and a registrar, answering from the documents in its
// testdata directory, with dates relative to now.
//
// The bootstrap file, /bootstrap/dns.json, names these servers:
//
//	cn, com.cn  /cnnic/      client.com.cn (healthy), expiring.cn (10 days
//	                         left), held.cn (clientHold)
//	com, net    /verisign/   client-global.com, thin, whose related link
//	                         leads to /registrar/ (a registrar in the US)
//	org         /slow/       never answers
//	xyz         /broken/     answers with something that is not RDAP
//
// and no server for .hk, whose registry answers at /hkirc/ (client.hk, at
// a registrar in Hong Kong) for a client that is told so. Unknown domains
// are answered 404 with an RDAP error document (RFC 9083 §6).
package rdaptest

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

//go:embed testdata
var fixtures embed.FS

// Server is an RDAP test server.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests map[string]int // path → requests
	tmpl     *template.Template
	quit     chan struct{} // closed when the test ends: /slow/ gives up
	bootDown bool          // the bootstrap file is answered 503
}

// NewServer starts a plain-HTTP RDAP server, closed when the test ends.
func NewServer(t testing.TB) *Server {
	s := newServer(t)
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.stop)
	return s
}

// NewTLSServer starts an HTTPS RDAP server, closed when the test ends. Its
// certificate is s.Certificate(), for 127.0.0.1.
func NewTLSServer(t testing.TB) *Server {
	s := newServer(t)
	s.Server = httptest.NewTLSServer(s)
	t.Cleanup(s.stop)
	return s
}

func newServer(t testing.TB) *Server {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := template.New("").Funcs(template.FuncMap{
		// days is the RFC 3339 time n days from now, and half a day
		// more: the whole days left are n while a test runs.
		"days": func(n int) string {
			return now.Add(time.Duration(n)*24*time.Hour + 12*time.Hour).Format(time.RFC3339)
		},
	})
	err := fs.WalkDir(fixtures, "testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fixtures.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = tmpl.New(strings.TrimPrefix(p, "testdata/")).Parse(string(b))
		return err
	})
	if err != nil {
		t.Fatalf("rdaptest: %v", err)
	}
	return &Server{requests: map[string]int{}, tmpl: tmpl, quit: make(chan struct{})}
}

func (s *Server) stop() {
	close(s.quit)
	s.Close()
}

// BootstrapURL is the URL of the server's bootstrap file.
func (s *Server) BootstrapURL() string { return s.URL + "/bootstrap/dns.json" }

// Requests returns how many requests asked for path, e.g.
// "/bootstrap/dns.json" or "/cnnic/domain/held.cn".
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// SetBootstrapDown makes the bootstrap file answer 503 Service
// Unavailable, or answer again.
func (s *Server) SetBootstrapDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bootDown = down
}

// Total returns how many requests the server has had.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.requests {
		n += c
	}
	return n
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	bootDown := s.bootDown
	s.mu.Unlock()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rdapError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if r.URL.Path == "/bootstrap/dns.json" {
		if bootDown {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		s.render(w, "application/json", "bootstrap.json")
		return
	}
	server, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	name, ok := strings.CutPrefix(rest, "domain/")
	if !ok || name == "" || strings.Contains(name, "/") {
		rdapError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	// RFC 7480 §4.2: clients ask for application/rdap+json.
	if !strings.Contains(r.Header.Get("Accept"), "application/rdap+json") {
		rdapError(w, http.StatusNotAcceptable, "Not Acceptable")
		return
	}
	switch server {
	case "slow":
		select {
		case <-r.Context().Done():
		case <-s.quit:
		}
		return
	case "broken":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html><body>Service temporarily unavailable</body></html>"))
		return
	}
	file := server + "/" + strings.ToLower(name) + ".json"
	if s.tmpl.Lookup(file) == nil {
		rdapError(w, http.StatusNotFound, "Not Found")
		return
	}
	s.render(w, "application/rdap+json", file)
}

func (s *Server) render(w http.ResponseWriter, ctype, name string) {
	u, _ := url.Parse(s.URL)
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, name, map[string]string{"Base": s.URL, "Host": u.Host}); err != nil {
		rdapError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Write(b.Bytes())
}

// rdapError answers with an RDAP error document (RFC 9083 §6).
func rdapError(w http.ResponseWriter, code int, title string) {
	w.Header().Set("Content-Type", "application/rdap+json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{
		"rdapConformance": []string{"rdap_level_0"},
		"errorCode":       code,
		"title":           title,
	})
}
