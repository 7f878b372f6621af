package compliance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const (
	testICP    = "京ICP备12345678号-1"
	testPolice = "京公网安备11010502012345号"
	siteHost   = "icp.example.test"
	edgeIP     = "192.0.2.10"
)

// notice is the block icpedge injects, written as it writes it.
const notice = `<div id="icpedge-notice" class="icpedge-notice" style="display:block!important;visibility:visible!important;font:12px/1.6 sans-serif!important">` +
	`<a href="https://beian.miit.gov.cn/" target="_blank" style="font-size:12px!important">&#20140;ICP&#22791;12345678&#21495;-1</a>` +
	`<a href="https://beian.mps.gov.cn/#/query/webSearch?code=11010502012345" style="font-size:12px!important">&#20140;&#20844;&#32593;&#23433;&#22791;11010502012345&#21495;</a></div>`

func page(title, body string) string {
	return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>` + title + `</title></head><body>` +
		`<h1>` + title + `</h1><p>Welcome to the company site, with products and news.</p>` + body + `</body></html>`
}

// dnsServer answers A and AAAA queries on loopback UDP from a table, and
// NXDOMAIN for names it does not know.
type dnsServer struct {
	conn    net.PacketConn
	mu      sync.Mutex
	records map[string][]netip.Addr // lower-case name without the final dot
}

func startDNS(t *testing.T, records map[string][]netip.Addr) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: pc, records: records}
	done := make(chan struct{})
	go s.serve(done)
	t.Cleanup(func() { pc.Close(); <-done })
	return s
}

func (s *dnsServer) serve(done chan struct{}) {
	defer close(done)
	buf := make([]byte, 1500)
	for {
		n, addr, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n]); resp != nil {
			s.conn.WriteTo(resp, addr)
		}
	}
}

func (s *dnsServer) answer(req []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
	s.mu.Lock()
	addrs, known := s.records[name]
	s.mu.Unlock()
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			b.AResource(hdr, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

// resolver returns a resolver that asks only s.
func (s *dnsServer) resolver() *net.Resolver {
	addr := s.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// pki is a test CA and the certificates it issues.
type pki struct {
	ca    *x509.Certificate
	key   *ecdsa.PrivateKey
	roots *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "icpedge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &pki{ca: ca, key: key, roots: roots}
}

func (p *pki) leaf(t *testing.T, name string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// site is an httptest server with pages by path, reached as host.
type site struct {
	srv  *httptest.Server
	host string
}

func (s site) url() *url.URL {
	u, _ := url.Parse(s.srv.URL)
	u.Host = net.JoinHostPort(s.host, u.Port())
	u.Path = "/"
	return u
}

func (s site) resolve() string {
	u, _ := url.Parse(s.srv.URL)
	return s.host + ":" + u.Port() + ":127.0.0.1"
}

// startSite serves pages; a nil cert serves plain HTTP.
func startSite(t *testing.T, host string, pages map[string]string, cert *tls.Certificate) site {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		switch {
		case strings.HasPrefix(body, "status:"):
			code := 0
			for _, c := range strings.TrimPrefix(body, "status:") {
				code = code*10 + int(c-'0')
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(code)
			io.WriteString(w, "<html><body>error</body></html>")
			return
		case strings.HasPrefix(body, "type:"):
			ctype, _, _ := strings.Cut(strings.TrimPrefix(body, "type:"), " ")
			w.Header().Set("Content-Type", ctype)
			w.Write(make([]byte, 100))
			return
		case !ok:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, body)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if cert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return site{srv: srv, host: host}
}

// compliantPages is a site that keeps its filing.
func compliantPages() map[string]string {
	return map[string]string{
		"/":             page("Home", `<a href="/about">About</a> <a href="/news/1.html#top">News</a> <a href="/brochure.pdf">Brochure</a> <a href="https://other.example/">x</a><footer>`+notice+`</footer>`),
		"/about":        page("About", `<footer>`+notice+`</footer>`),
		"/news/1.html":  page("News", `<footer><p>© Client</p>`+notice+`</footer>`),
		"/brochure.pdf": "type:application/pdf",
	}
}

type env struct {
	dns   *dnsServer
	pki   *pki
	sites []site
}

func (e *env) checker(t *testing.T, opts Options) *Checker {
	t.Helper()
	var resolve []string
	for _, s := range e.sites {
		resolve = append(resolve, s.resolve())
	}
	dial, err := ResolveDialer(resolve, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	opts.Dial = dial
	opts.Resolver = e.dns.resolver()
	opts.RootCAs = e.pki.roots
	opts.Timeout = 5 * time.Second
	if opts.Blocked == nil {
		opts.Blocked = func(p, ctype string, size int64) (string, bool) {
			if strings.HasSuffix(p, ".torrent") || ctype == "application/x-bittorrent" {
				return "default:torrent", true
			}
			return "", false
		}
	}
	return New(opts)
}

func newEnv(t *testing.T) *env {
	return &env{
		dns: startDNS(t, map[string][]netip.Addr{
			siteHost:       {netip.MustParseAddr(edgeIP)},
			"example.test": {netip.MustParseAddr(edgeIP)},
		}),
		pki: newPKI(t),
	}
}

func (e *env) site(t *testing.T, host string, pages map[string]string) site {
	t.Helper()
	now := time.Now()
	cert := e.pki.leaf(t, host, now.Add(-time.Hour), now.Add(60*24*time.Hour))
	s := startSite(t, host, pages, &cert)
	e.sites = append(e.sites, s)
	return s
}

func defaultOpts() Options {
	return Options{ICP: testICP, Police: testPolice, ExpectIPs: []netip.Addr{netip.MustParseAddr(edgeIP)}, ExpectFrom: "check.expect_ips"}
}

// results indexes a site's results by check.
func byCheck(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Check] = r
	}
	return m
}

func TestCompliant(t *testing.T) {
	e := newEnv(t)
	s := e.site(t, siteHost, compliantPages())
	rep := e.checker(t, defaultOpts()).Run(context.Background(), []Site{{URL: s.url()}})
	if !rep.OK {
		var b strings.Builder
		rep.WriteTable(&b)
		t.Fatalf("got problems; want none:\n%s", b.String())
	}
	got := byCheck(rep.Results)
	for _, c := range []string{CheckReachable, CheckICP, CheckICPConflict, CheckVisible, CheckPolice, CheckDeadLinks, CheckPolicy, CheckDNS, CheckTLS} {
		if got[c].Status != OK {
			t.Errorf("%s: %s %q; want ok", c, got[c].Status, got[c].Detail)
		}
	}
	if got[CheckApex].Status != Skip {
		t.Errorf("apex: %s; want skip without an apex", got[CheckApex].Status)
	}
	if d := got[CheckReachable].Detail; !strings.Contains(d, "2 linked pages checked") {
		t.Errorf("reachable detail %q; want 2 linked pages (the PDF and the foreign link are not pages)", d)
	}
	if tl := got[CheckTLS]; tl.DaysLeft == nil || *tl.DaysLeft < 58 || *tl.DaysLeft > 60 {
		t.Errorf("tls days left %v; want about 59", tl.DaysLeft)
	}
}

// TestFailures has one site per failure that costs a filing, and checks
// that exactly the expected check fails, saying what is wrong.
func TestFailures(t *testing.T) {
	hiddenNotice := func(wrap string) map[string]string {
		return map[string]string{"/": page("Home", strings.Replace(wrap, "NOTICE", notice, 1))}
	}
	tests := []struct {
		name   string
		pages  map[string]string
		check  string
		detail string
	}{
		{"no notice", map[string]string{"/": page("Home", "<footer>© Client</footer>")}, CheckICP, "/: no ICP number"},
		{"wrong number", map[string]string{"/": page("Home", `<a href="https://beian.miit.gov.cn/">京ICP备87654321号-1</a>`)},
			CheckICP, "shows 京ICP备87654321号-1, not the configured 京ICP备12345678号-1"},
		{"number without its site suffix", map[string]string{"/": page("Home", `<a href="https://beian.miit.gov.cn/">京ICP备12345678号</a>`)},
			CheckICP, "shows 京ICP备12345678号, not the configured"},
		{"number not linked", map[string]string{"/": page("Home", `<p>京ICP备12345678号-1</p>`)},
			CheckICP, "/: 京ICP备12345678号-1 is not linked to https://beian.miit.gov.cn/"},
		{"wrong number on a linked page", map[string]string{
			"/":      page("Home", `<a href="/about">About</a>`+notice),
			"/about": page("About", `<a href="https://beian.miit.gov.cn/">京ICP备87654321号-1</a>`)},
			CheckICP, "/about: shows 京ICP备87654321号-1"},
		{"dead MIIT link", map[string]string{"/": page("Home", notice+`<a href="http://www.miitbeian.gov.cn/">备案</a>`)},
			CheckDeadLinks, "http://www.miitbeian.gov.cn/"},
		{"MIIT over http", map[string]string{"/": page("Home", notice+`<a href="http://beian.miit.gov.cn/">备案</a>`)},
			CheckDeadLinks, "http://beian.miit.gov.cn/"},
		{"number linked to a dead host", map[string]string{"/": page("Home", `<a href="http://miibeian.gov.cn/">京ICP备12345678号-1</a>`)},
			CheckICP, "is linked to http://miibeian.gov.cn/, not https://beian.miit.gov.cn/"},
		{"hidden attribute", hiddenNotice(`<footer hidden>NOTICE</footer>`), CheckVisible, "the hidden attribute on <footer>"},
		{"display none", hiddenNotice(`<div id="f" style="color:red; DISPLAY: none !important">NOTICE</div>`), CheckVisible, `display:none on <div id="f">`},
		{"visibility hidden", map[string]string{"/": page("Home", `<footer style="visibility:hidden"><p style="visibility:collapse"><a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></p></footer>`)},
			CheckVisible, "visibility:collapse on <p>"},
		{"noscript", hiddenNotice(`<noscript>NOTICE</noscript>`), CheckVisible, "inside <noscript>"},
		{"template", hiddenNotice(`<template>NOTICE</template>`), CheckVisible, "inside <template>"},
		{"comment", hiddenNotice(`<!-- NOTICE -->`), CheckVisible, "inside an HTML comment"},
		{"font size zero", map[string]string{"/": page("Home", `<p style="font-size:0"><a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></p>`)},
			CheckVisible, "font-size:0 on <p>"},
		{"font shorthand", map[string]string{"/": page("Home", `<p style="font:0/0 a"><a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></p>`)},
			CheckVisible, "font-size:0 on <p>"},
		{"tiny font", map[string]string{"/": page("Home", `<a style="font-size:1px" href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a>`)},
			CheckVisible, "font-size:1px on <a>"},
		{"opacity", hiddenNotice(`<div style="opacity:0">NOTICE</div>`), CheckVisible, "opacity:0 on <div>"},
		{"clipped", hiddenNotice(`<div style="height:0;overflow:hidden">NOTICE</div>`), CheckVisible, "height:0 with overflow:hidden"},
		{"off-screen", hiddenNotice(`<div style="position:absolute;left:-9999px">NOTICE</div>`), CheckVisible, "left:-9999px (off-screen)"},
		{"police missing", map[string]string{"/": page("Home", `<a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a>`)},
			CheckPolice, "/: no public-security number"},
		{"police old link", map[string]string{"/": page("Home", `<a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a>`+
			`<a href="http://www.beian.gov.cn/portal/registerSystemInfo?recordcode=11010502012345">京公网安备11010502012345号</a>`)},
			CheckPolice, "is linked to http://www.beian.gov.cn/portal/registerSystemInfo"},
		{"torrent link", map[string]string{"/": page("Home", notice+`<a href="/films/x.torrent">x</a>`)},
			CheckPolicy, "links to /films/x.torrent (rule default:torrent)"},
		{"torrent by type", map[string]string{"/": page("Home", notice+`<a href="/get.bin">x</a>`), "/get.bin": "type:application/x-bittorrent"},
			CheckPolicy, "links to /get.bin (application/x-bittorrent, 100 bytes; rule default:torrent)"},
		{"magnet", map[string]string{"/": page("Home", notice+`<a href="magnet:?xt=urn:btih:abc">film</a>`)},
			CheckPolicy, "P2P download link magnet:?xt=urn:btih:abc"},
		{"home page error", map[string]string{"/": "status:502"}, CheckReachable, "answered 502 Bad Gateway"},
		{"second number", map[string]string{"/": page("Home", `<p>沪ICP备87654321号-2</p>`+notice)},
			CheckICPConflict, "/: shows 沪ICP备87654321号-2 besides 京ICP备12345678号-1"},
		{"second number linked, on a linked page", map[string]string{
			"/":      page("Home", `<a href="/about">About</a>`+notice),
			"/about": page("About", notice+`<a href="https://beian.miit.gov.cn/">京ICP备87654321号</a>`)},
			CheckICPConflict, "/about: shows 京ICP备87654321号 besides 京ICP备12345678号-1 (1 of 2 pages)"},
		{"second licence", map[string]string{"/": page("Home", `<p>京ICP证123456号 京ICP证654321号</p>`+notice)},
			CheckICPConflict, "/: shows 京ICP证123456号 and 京ICP证654321号"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.site(t, siteHost, tt.pages)
			rep := e.checker(t, defaultOpts()).Run(context.Background(), []Site{{URL: s.url()}})
			got := byCheck(rep.Results)
			r := got[tt.check]
			if r.Status != Fail || !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("%s: %s %q; want fail with %q", tt.check, r.Status, r.Detail, tt.detail)
			}
			if r.Fix == "" {
				t.Errorf("%s: no fix given", tt.check)
			}
			if rep.OK {
				t.Errorf("report OK; want problems")
			}
			for _, other := range rep.Results {
				if other.Status == Fail && other.Check != tt.check && tt.check != CheckReachable && !(tt.check == CheckICP && other.Check == CheckPolice) &&
					!(tt.check == CheckVisible && other.Check == CheckPolice) && !(tt.name == "number linked to a dead host" && other.Check == CheckDeadLinks) {
					t.Errorf("%s also failed: %q", other.Check, other.Detail)
				}
			}
		})
	}
}

// TestNoConflict: what a compliant site may show besides its number.
func TestNoConflict(t *testing.T) {
	for name, body := range map[string]string{
		"the number twice":                   notice + notice,
		"the filing without its site suffix": `<p>京ICP备12345678号</p>` + notice,
		"a commercial licence beside it":     `<p>京ICP证123456号</p>` + notice,
		"an old number in a comment":         `<!-- 沪ICP备87654321号-2 -->` + notice,
		"an old number hidden":               `<p style="display:none">沪ICP备87654321号-2</p>` + notice,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			s := e.site(t, siteHost, map[string]string{"/": page("Home", body)})
			for _, opts := range []Options{{ICP: testICP}, {}} {
				rep := e.checker(t, opts).Run(context.Background(), []Site{{URL: s.url()}})
				if r := byCheck(rep.Results)[CheckICPConflict]; r.Status != OK {
					t.Errorf("ICP %q: %s %q; want ok", opts.ICP, r.Status, r.Detail)
				}
			}
		})
	}
}

func TestVisibleOverrides(t *testing.T) {
	for name, body := range map[string]string{
		"visibility restored":  `<div style="visibility:hidden"><a style="visibility:visible" href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></div>`,
		"font size restored":   `<div style="font-size:0"><a style="font-size:12px" href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></div>`,
		"hidden with display":  `<div hidden style="display:block"><a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a></div>`,
		"one hidden, one seen": `<!-- <a href="https://beian.miit.gov.cn/">京ICP备12345678号-1</a> -->` + notice,
		"the injected block":   `<footer style="font-size:0;visibility:hidden">` + notice + `</footer>`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			s := e.site(t, siteHost, map[string]string{"/": page("Home", body)})
			rep := e.checker(t, Options{ICP: testICP}).Run(context.Background(), []Site{{URL: s.url()}})
			if r := byCheck(rep.Results)[CheckVisible]; r.Status != OK {
				t.Errorf("visible: %s %q; want ok", r.Status, r.Detail)
			}
		})
	}
}

func TestApex(t *testing.T) {
	tests := []struct {
		name   string
		pages  map[string]string
		status Status
		detail string
	}{
		{"landing", map[string]string{"/": page("示例公司", `<a href="https://icp.example.test/">icp.example.test</a>`+notice)}, OK, `"示例公司"`},
		{"error", map[string]string{"/": "status:503"}, Fail, "the root domain answers 503 Service Unavailable"},
		{"not found", map[string]string{}, Fail, "the root domain answers 404"},
		{"parking", map[string]string{"/": "<html><title>example.test</title><body>This domain is for sale! Contact us.</body></html>"}, Fail, `parking or default server page ("domain is for sale")`},
		{"nginx default", map[string]string{"/": "<html><title>Welcome to nginx!</title><body><h1>Welcome to nginx!</h1></body></html>"}, Fail, "welcome to nginx!"},
		{"empty", map[string]string{"/": "<html><body> </body></html>"}, Fail, "nearly empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.site(t, "example.test", tt.pages)
			rep := e.checker(t, defaultOpts()).Run(context.Background(), []Site{{URL: s.url(), Apex: true}})
			r := byCheck(rep.Results)[CheckApex]
			if r.Status != tt.status || !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("apex: %s %q; want %s with %q", r.Status, r.Detail, tt.status, tt.detail)
			}
		})
	}
}

func TestDNS(t *testing.T) {
	tests := []struct {
		name    string
		records []netip.Addr
		status  Status
		detail  string
	}{
		{"edge only", []netip.Addr{netip.MustParseAddr(edgeIP)}, OK, "resolves to " + edgeIP},
		{"elsewhere", []netip.Addr{netip.MustParseAddr("198.51.100.7")}, Fail, "resolves to 198.51.100.7; 198.51.100.7 not this edge (check.expect_ips: " + edgeIP + ")"},
		{"extra AAAA", []netip.Addr{netip.MustParseAddr(edgeIP), netip.MustParseAddr("2001:db8::7")}, Fail, "2001:db8::7 not this edge"},
		{"no record", nil, Fail, "no A or AAAA record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.site(t, siteHost, compliantPages())
			e.dns.mu.Lock()
			if tt.records == nil {
				delete(e.dns.records, siteHost)
			} else {
				e.dns.records[siteHost] = tt.records
			}
			e.dns.mu.Unlock()
			rep := e.checker(t, defaultOpts()).Run(context.Background(), []Site{{URL: s.url()}})
			r := byCheck(rep.Results)[CheckDNS]
			if r.Status != tt.status || !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("dns: %s %q; want %s with %q", r.Status, r.Detail, tt.status, tt.detail)
			}
			if tt.status == Fail && !strings.Contains(r.Fix, "set the A record of icp.example.test to "+edgeIP) {
				t.Errorf("dns fix %q; want it to name the record and the address", r.Fix)
			}
		})
	}
	t.Run("guessed from the interfaces", func(t *testing.T) {
		e := newEnv(t)
		s := e.site(t, siteHost, compliantPages())
		e.dns.mu.Lock()
		e.dns.records[siteHost] = []netip.Addr{netip.MustParseAddr("198.51.100.7")}
		e.dns.mu.Unlock()
		o := defaultOpts()
		o.ExpectFrom, o.ExpectGuessed = "this host's public addresses", true
		r := byCheck(e.checker(t, o).Run(context.Background(), []Site{{URL: s.url()}}).Results)[CheckDNS]
		if r.Status != Fail || strings.Contains(r.Fix, "to "+edgeIP+" only") || !strings.Contains(r.Fix, "set check.expect_ips") {
			t.Errorf("dns against a guess: %s, fix %q; want a failure that does not give the guess as the answer and says to set check.expect_ips", r.Status, r.Fix)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		e := newEnv(t)
		s := e.site(t, siteHost, compliantPages())
		rep := e.checker(t, Options{ICP: testICP, DNSSkip: "no config: expected addresses unknown"}).Run(context.Background(), []Site{{URL: s.url()}})
		if r := byCheck(rep.Results)[CheckDNS]; r.Status != Skip || r.Detail != "no config: expected addresses unknown" {
			t.Errorf("dns: %s %q; want skip with the reason", r.Status, r.Detail)
		}
	})
}

func TestTLS(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		certName string
		from, to time.Time
		status   Status
		detail   string
	}{
		{"valid", siteHost, now.Add(-time.Hour), now.Add(90 * 24 * time.Hour), OK, "valid for icp.example.test, 89 days left"},
		{"expired", siteHost, now.Add(-100 * 24 * time.Hour), now.Add(-10 * 24 * time.Hour), Fail, "the certificate expired on " + now.Add(-10*24*time.Hour).UTC().Format(time.DateOnly)},
		{"wrong name", "other.example.test", now.Add(-time.Hour), now.Add(90 * 24 * time.Hour), Fail, "the certificate is for other.example.test, not icp.example.test"},
		{"expiring", siteHost, now.Add(-80 * 24 * time.Hour), now.Add(5*24*time.Hour + time.Hour), Fail, "expires in 5 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cert := e.pki.leaf(t, tt.certName, tt.from, tt.to)
			s := startSite(t, siteHost, compliantPages(), &cert)
			e.sites = append(e.sites, s)
			rep := e.checker(t, defaultOpts()).Run(context.Background(), []Site{{URL: s.url()}})
			r := byCheck(rep.Results)[CheckTLS]
			if r.Status != tt.status || !strings.Contains(r.Detail, tt.detail) {
				t.Errorf("tls: %s %q; want %s with %q", r.Status, r.Detail, tt.status, tt.detail)
			}
		})
	}
	t.Run("untrusted", func(t *testing.T) {
		e := newEnv(t)
		other := newPKI(t)
		cert := other.leaf(t, siteHost, now.Add(-time.Hour), now.Add(90*24*time.Hour))
		s := startSite(t, siteHost, compliantPages(), &cert)
		e.sites = append(e.sites, s)
		rep := e.checker(t, defaultOpts()).Run(context.Background(), []Site{{URL: s.url()}})
		if r := byCheck(rep.Results)[CheckTLS]; r.Status != Fail || !strings.Contains(r.Detail, "not signed by a trusted CA") {
			t.Errorf("tls: %s %q; want fail: untrusted", r.Status, r.Detail)
		}
	})
	t.Run("http", func(t *testing.T) {
		e := newEnv(t)
		s := startSite(t, siteHost, compliantPages(), nil)
		e.sites = append(e.sites, s)
		rep := e.checker(t, defaultOpts()).Run(context.Background(), []Site{{URL: s.url()}})
		got := byCheck(rep.Results)
		if r := got[CheckTLS]; r.Status != Skip {
			t.Errorf("tls: %s %q; want skip over http", r.Status, r.Detail)
		}
		if !rep.OK {
			t.Errorf("report has problems; want none")
		}
	})
}

func TestUnreachable(t *testing.T) {
	e := newEnv(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dial, _ := ResolveDialer([]string{siteHost + ":" + itoa(port) + ":127.0.0.1"}, time.Second)
	c := New(Options{ICP: testICP, Dial: dial, Resolver: e.dns.resolver(), Timeout: 2 * time.Second})
	u, _ := url.Parse("http://" + siteHost + ":" + itoa(port) + "/")
	rep := c.Run(context.Background(), []Site{{URL: u}})
	got := byCheck(rep.Results)
	if r := got[CheckReachable]; r.Status != Fail || !strings.Contains(r.Detail, "connection refused") {
		t.Errorf("reachable: %s %q; want fail: connection refused", r.Status, r.Detail)
	}
	if r := got[CheckICP]; r.Status != Skip {
		t.Errorf("icp: %s; want skip when the page could not be read", r.Status)
	}
}

func TestResolveDialerErrors(t *testing.T) {
	for _, bad := range []string{"host", "host:80", "host:x:127.0.0.1", "host:80:nope", ":80:127.0.0.1"} {
		if _, err := ResolveDialer([]string{bad}, time.Second); err == nil {
			t.Errorf("ResolveDialer(%q): no error; want one", bad)
		}
	}
	if _, err := ResolveDialer([]string{"h:443:[::1],127.0.0.1"}, time.Second); err != nil {
		t.Errorf("ResolveDialer(IPv6 list): %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
