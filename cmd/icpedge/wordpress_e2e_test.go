package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The WordPress end-to-end test runs a real WordPress from Debian's
// packages (testdata/wordpress/run: MariaDB and php-fpm on sockets, nginx
// on loopback, installed through the web installer) behind the real
// binary, and uses it as visitors, commenters and an editor do.

const (
	wpEdgeHost   = "icp.example.test"
	wpOriginHost = "www.example.test"
	wpICP        = "京ICP备12345678号-1"
)

// wordpressSite is a running WordPress.
type wordpressSite struct {
	addr     string // nginx, 127.0.0.1:port
	dir      string // the script's directory: www/ holds the site
	user     string
	password string
}

var wpReadyRE = regexp.MustCompile(`^ready http://(\S+) host=\S+ user=(\S+) password=(\S+)$`)

// wordpressPackages reports what testdata/wordpress/run needs and is
// missing.
func wordpressPackages() []string {
	var missing []string
	for _, f := range []string{"/usr/share/wordpress/wp-settings.php", "/usr/share/wordpress/wp-content/themes/twentytwentythree/theme.json", "/usr/sbin/nginx"} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	for _, cmd := range []string{"mariadb-install-db", "mariadb", "curl"} {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, cmd)
		}
	}
	if _, err := exec.LookPath("mariadbd"); err != nil {
		if _, err := os.Stat("/usr/sbin/mariadbd"); err != nil {
			missing = append(missing, "mariadbd")
		}
	}
	if fpm, _ := filepath.Glob("/usr/sbin/php-fpm*"); len(fpm) == 0 {
		missing = append(missing, "php-fpm")
	}
	return missing
}

// startWordPress runs testdata/wordpress/run and waits until the site is
// installed. It is stopped, by its PID, when the test ends; the script
// stops its servers by theirs.
func startWordPress(t *testing.T) *wordpressSite {
	t.Helper()
	if missing := wordpressPackages(); len(missing) > 0 {
		msg := "WordPress test needs " + strings.Join(missing, ", ") + "; install them with: apt-get install -y wordpress wordpress-theme-twentytwentythree mariadb-server php-fpm php-mysql nginx curl"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", filepath.Join("testdata", "wordpress", "run"), dir, portOf(freePort(t)), wpOriginHost)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	ready := make(chan *wordpressSite, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := wpReadyRE.FindStringSubmatch(sc.Text()); m != nil {
				ready <- &wordpressSite{addr: m[1], dir: dir, user: m[2], password: m[3]}
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			t.Errorf("the WordPress script did not stop within 60s of SIGTERM; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			for _, f := range []string{"php.log", "php-fpm.log", "nginx-error.log", "mariadb.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, "log", f)); err == nil && len(b) > 0 {
					t.Logf("%s (tail):\n%s", f, tail(string(b), 4<<10))
				}
			}
		}
	})
	select {
	case wp := <-ready:
		return wp
	case <-exited:
		t.Fatalf("the WordPress script exited before the site was ready:\n%s", stderr.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("WordPress was not ready within 5 minutes:\n%s", stderr.String())
	}
	return nil
}

// switchProxy forwards TCP connections to the origin while up; down
// closes its listener and every connection, as an origin that goes away
// does, and up listens again on the same address.
type switchProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	p := &switchProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	return p
}

func (p *switchProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[o] = true, true
			p.mu.Unlock()
			p.wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer p.wg.Done()
				io.Copy(dst, src)
				dst.Close()
				src.Close()
				p.mu.Lock()
				delete(p.conns, dst)
				delete(p.conns, src)
				p.mu.Unlock()
			}
			go pipe(o, c)
			go pipe(c, o)
		}
	}()
}

func (p *switchProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

func (p *switchProxy) up() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("listening again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// wpVisitor is a browser-like client of the edge, with its own cookies.
type wpVisitor struct {
	t    *testing.T
	base string // http://icp.example.test:port
	c    *http.Client
}

// visitorAddrs hands each visitor an address of its own on loopback, so
// that WordPress (behind the edge's X-Real-IP) tells visitors apart, as
// it does on the internet.
var visitorAddrs atomic.Int32

func newVisitor(t *testing.T, e *edgeProc, base string, withCookies bool) *wpVisitor {
	n := 10 + visitorAddrs.Add(1)%240
	d := &net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(n))}}
	edge := e.Addr("http")
	c := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, edge)
			},
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(c.CloseIdleConnections)
	if withCookies {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Jar = jar
	}
	return &wpVisitor{t: t, base: base, c: c}
}

type wpPage struct {
	status int
	cache  string // Cache-Status
	loc    string
	header http.Header
	body   string
	took   time.Duration
	url    string
}

// do sends a request for target (a path, or a URL on the edge) and
// follows redirects on the edge, as a browser does. A redirect to any
// other host is an error: the visitor would have left the edge.
func (v *wpVisitor) do(method, target string, form url.Values, hdr ...string) wpPage {
	v.t.Helper()
	p, err := v.fetch(method, target, form, hdr...)
	if err != nil {
		v.t.Fatal(err)
	}
	return p
}

// fetch is do for other goroutines than the test's: it returns what went
// wrong instead of ending the test.
func (v *wpVisitor) fetch(method, target string, form url.Values, hdr ...string) (wpPage, error) {
	if strings.HasPrefix(target, "/") {
		target = v.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	for range 10 {
		req, err := http.NewRequest(method, target, body)
		if err != nil {
			return wpPage{}, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		start := time.Now()
		resp, err := v.c.Do(req)
		if err != nil {
			return wpPage{}, fmt.Errorf("%s %s: %w", method, target, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return wpPage{}, fmt.Errorf("%s %s: reading the body: %w", method, target, err)
		}
		p := wpPage{status: resp.StatusCode, cache: resp.Header.Get("Cache-Status"), loc: resp.Header.Get("Location"),
			header: resp.Header, body: string(b), took: time.Since(start), url: target}
		if p.status < 300 || p.status > 399 || p.loc == "" {
			return p, nil
		}
		next, err := req.URL.Parse(p.loc)
		if err != nil {
			return wpPage{}, fmt.Errorf("%s %s: Location %q: %w", method, target, p.loc, err)
		}
		if next.Host != req.URL.Host {
			return wpPage{}, fmt.Errorf("%s %s: redirected off the edge to %s", method, target, p.loc)
		}
		target, method, body, form = next.String(), "GET", nil, nil
	}
	return wpPage{}, fmt.Errorf("%s %s: too many redirects", method, target)
}

func (v *wpVisitor) get(target string, hdr ...string) wpPage {
	v.t.Helper()
	return v.do("GET", target, nil, hdr...)
}

// originForms are the ways an origin URL may be written where a browser
// or a script reads it.
var originForms = []string{"//" + wpOriginHost, `\/\/` + wpOriginHost, `\u002F\u002F` + wpOriginHost, `\u002f\u002f` + wpOriginHost}

var htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)

// noOriginURL fails the test when what names a URL in a page (the body,
// Location, Link, Refresh) still points at the origin host. HTML comments
// don't count: no browser reads them (Internet Explorer's conditional
// comments aside).
func noOriginURL(t *testing.T, p wpPage) {
	t.Helper()
	for _, where := range []struct{ name, text string }{
		{"body", htmlComment.ReplaceAllString(p.body, "")}, {"Location", p.loc},
		{"Link", strings.Join(p.header.Values("Link"), ", ")}, {"Refresh", p.header.Get("Refresh")},
	} {
		for _, form := range originForms {
			if i := strings.Index(where.text, form); i >= 0 {
				t.Errorf("%s: %s still names the origin: …%s…", p.url, where.name, where.text[max(0, i-80):min(len(where.text), i+80)])
			}
		}
	}
}

func wpConfig(origin, stateDir, cache string) string {
	return fmt.Sprintf(`hosts: [%s]
origin: http://%s
origin_host: %s
listen:
  http: 127.0.0.1:0
state_dir: %s
notice:
  icp: %s
admin:
  listen: 127.0.0.1:0
%s`, wpEdgeHost, origin, wpOriginHost, stateDir, wpICP, cache)
}

// purgePlugin is the README's one-line mu-plugin, pointed at admin with
// token.
func purgePlugin(t *testing.T, admin, token string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```php\n(<\\?php // wp-content/mu-plugins/icpedge-purge\\.php.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```php block starting <?php // wp-content/mu-plugins/icpedge-purge.php")
	}
	php := string(m[1])
	for _, ph := range []string{"http://203.0.113.10:9080", "PASTE-THE-TOKEN"} {
		if !strings.Contains(php, ph) {
			t.Fatalf("the README's mu-plugin lacks the placeholder %s:\n%s", ph, php)
		}
	}
	php = strings.ReplaceAll(php, "http://203.0.113.10:9080", "http://"+admin)
	return strings.ReplaceAll(php, "PASTE-THE-TOKEN", token)
}

func TestWordPress(t *testing.T) {
	wp := startWordPress(t)
	origin := newSwitchProxy(t, wp.addr)
	stateDir := t.TempDir()
	e := startEdge(t, writeConfig(t, wpConfig(origin.addr, stateDir, "cache:\n  preset: wordpress\n")))
	e.waitListening(2, time.Minute)
	base := "http://" + net.JoinHostPort(wpEdgeHost, portOf(e.Addr("http")))
	token, err := os.ReadFile(filepath.Join(stateDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	plugin := purgePlugin(t, e.Addr("admin"), strings.TrimSpace(string(token)))
	if err := os.WriteFile(filepath.Join(wp.dir, "www", "wp-content", "mu-plugins", "icpedge-purge.php"), []byte(plugin), 0o644); err != nil {
		t.Fatal(err)
	}
	admin := newVisitor(t, e, base, true)

	t.Run("anonymous visit is a hit the second time", func(t *testing.T) {
		v := newVisitor(t, e, base, false)
		first := v.get("/")
		second := v.get("/", "Cookie", "_ga=GA1.1.123.456; _gid=GA1.1.789")
		if first.status != 200 || !strings.HasPrefix(first.cache, "icpedge; fwd=miss") || !strings.HasSuffix(first.cache, "stored") {
			t.Errorf("first visit: %d %q; want 200, a miss, stored", first.status, first.cache)
		}
		if !strings.HasPrefix(second.cache, "icpedge; hit") {
			t.Errorf("second visit (with analytics cookies): Cache-Status %q; want a hit", second.cache)
		}
		if second.body != first.body {
			t.Errorf("the hit differs from the page first served")
		}
		mustContain(t, second.body, `id="icpedge-notice"`)
		mustContain(t, second.body, "ICP&#22791;12345678&#21495;-1")
		mustContain(t, second.body, `concatemoji":"http:\/\/`+wpEdgeHost)
		if l := second.header.Get("Link"); !strings.Contains(l, "<"+base+"/wp-json/>") {
			t.Errorf("Link %q; want the REST API root on the edge", l)
		}
		noOriginURL(t, second)
	})

	t.Run("login ends on the dashboard", func(t *testing.T) {
		admin.get("/wp-login.php") // the test cookie WordPress wants back
		dash := admin.do("POST", "/wp-login.php", url.Values{
			"log": {wp.user}, "pwd": {wp.password}, "wp-submit": {"Log In"}, "testcookie": {"1"},
			"redirect_to": {base + "/wp-admin/"},
		})
		if dash.status != 200 || !strings.HasPrefix(dash.url, base+"/wp-admin/") {
			t.Fatalf("login ended at %s with %d; want the dashboard on the edge", dash.url, dash.status)
		}
		mustContain(t, dash.body, `id="dashboard-widgets-wrap"`)
		mustContain(t, dash.body, `id="wpadminbar"`)
		if !strings.Contains(dash.cache, "fwd=bypass") {
			t.Errorf("dashboard: Cache-Status %q; want a bypass", dash.cache)
		}
		noOriginURL(t, dash)
	})

	t.Run("admin and anonymous at the same moment", func(t *testing.T) {
		anon := newVisitor(t, e, base, false)
		for i := range 50 {
			// Nothing stored: the anonymous request is a miss that runs
			// alongside the admin's, which is where pages once crossed.
			purgeURL(t, e, string(token), "/")
			var wg sync.WaitGroup
			start := make(chan struct{})
			var a, b wpPage
			var errA, errB error
			wg.Add(2)
			go func() { defer wg.Done(); <-start; a, errA = admin.fetch("GET", "/", nil) }()
			go func() { defer wg.Done(); <-start; b, errB = anon.fetch("GET", "/", nil) }()
			close(start)
			wg.Wait()
			if errA != nil || errB != nil {
				t.Fatalf("round %d: admin: %v; anonymous: %v", i, errA, errB)
			}
			if strings.Contains(b.body, "wpadminbar") {
				t.Fatalf("round %d: the anonymous visitor got the admin bar (%s)", i, b.cache)
			}
			if !strings.Contains(a.body, "wpadminbar") || !strings.Contains(a.cache, "detail=session-cookie") {
				t.Fatalf("round %d: the admin got no admin bar (%s)", i, a.cache)
			}
		}
	})

	t.Run("a pending comment never reaches another visitor", func(t *testing.T) {
		other := newVisitor(t, e, base, false)
		if p := other.get("/hello-world/"); p.status != 200 {
			t.Fatalf("post: %d", p.status)
		}
		postID := regexp.MustCompile(`name='comment_post_ID' value='(\d+)'`).FindStringSubmatch(other.get("/hello-world/").body)
		if postID == nil {
			t.Fatal("no comment form on /hello-world/")
		}
		for _, tc := range []struct {
			name    string
			consent bool
		}{{"remembered", true}, {"not remembered", false}} {
			marker := "pending-comment-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			commenter := newVisitor(t, e, base, true)
			form := url.Values{"comment_post_ID": {postID[1]}, "author": {"Ann " + marker}, "email": {marker + "@example.test"},
				"comment": {"I think " + marker}, "submit": {"Post Comment"}}
			if tc.consent {
				form.Set("wp-comment-cookies-consent", "yes")
			}
			mine := commenter.do("POST", "/wp-comments-post.php", form)
			if !strings.Contains(mine.body, marker) || !strings.Contains(mine.body, "awaiting moderation") {
				t.Fatalf("%s: the commenter does not see their pending comment at %s (%d %s)", tc.name, mine.url, mine.status, mine.cache)
			}
			noOriginURL(t, mine)
			check := func(when string) {
				t.Helper()
				for _, target := range []string{"/hello-world/", "/", "/feed/", "/comments/feed/", "/?p=" + postID[1]} {
					if p := other.get(target); strings.Contains(p.body, marker) {
						t.Errorf("%s, %s: another visitor got the pending comment at %s (%d %s)", tc.name, when, target, p.status, p.cache)
					}
				}
				if p := other.get(mine.url); strings.Contains(p.body, marker) && when == "origin down" {
					t.Errorf("%s, origin down: the commenter's own page %s was served to another visitor (%s)", tc.name, mine.url, p.cache)
				}
			}
			check("origin up")
			// The commenter comes back: their page is theirs alone.
			commenter.get("/hello-world/")
			check("after the commenter's visit")
			origin.down()
			check("origin down")
			origin.up()
		}
	})

	t.Run("block editor through the edge, and a purge on publish", func(t *testing.T) {
		blockEditor(t, e, base, wp, admin)
	})

	t.Run("purge plugins' requests", func(t *testing.T) {
		v := newVisitor(t, e, base, false)
		v.get("/sample-page/")
		if p := v.get("/sample-page/"); !strings.HasPrefix(p.cache, "icpedge; hit") {
			t.Fatalf("sample page: %q; want a hit before the purge", p.cache)
		}
		// As Proxy Cache Purge sends it: PURGE to the edge's admin
		// address with the site's own name in Host.
		req, _ := http.NewRequest("PURGE", "http://"+e.Addr("admin")+"/sample-page/", nil)
		req.Host = wpOriginHost
		req.Header.Set("X-Purge-Method", "default")
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"purged":`) || strings.Contains(string(b), `"purged":0`) {
			t.Errorf("PURGE: %d %s; want entries purged", resp.StatusCode, b)
		}
		if p := v.get("/sample-page/"); !strings.Contains(p.cache, "fwd=miss") {
			t.Errorf("sample page after the PURGE: %q; want a miss", p.cache)
		}
	})

	t.Run("hit ratio and page time, preset against none", func(t *testing.T) {
		plain := startEdge(t, writeConfig(t, wpConfig(origin.addr, t.TempDir(), "")))
		plain.waitListening(2, time.Minute)
		withPreset := wpLoad(t, newVisitor(t, e, base, false))
		none := wpLoad(t, newVisitor(t, plain, "http://"+net.JoinHostPort(wpEdgeHost, portOf(plain.Addr("http"))), false))
		t.Logf("wordpress load: preset: %s; no preset: %s", withPreset, none)
		// With the preset only each page's first visit goes to the origin.
		if withPreset.ratio() < 0.8 || none.ratio() > 0.5 {
			t.Errorf("hit ratio %.2f with the preset, %.2f without; want at least 0.8 and at most 0.5", withPreset.ratio(), none.ratio())
		}
	})
}

// purgeURL purges one path through the admin API.
func purgeURL(t *testing.T, e *edgeProc, token, path string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+e.Addr("admin")+"/purge?url="+url.QueryEscape(path), nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("purge %s: %d", path, resp.StatusCode)
	}
}

// loadFigures are the outcome of wpLoad.
type loadFigures struct {
	requests, hits int
	median         time.Duration
}

func (f loadFigures) ratio() float64 { return float64(f.hits) / float64(f.requests) }

func (f loadFigures) String() string {
	return fmt.Sprintf("%d requests, hit ratio %.2f, median page time %v", f.requests, f.ratio(), f.median.Round(10*time.Microsecond))
}

// wpLoad visits the site's public pages the way anonymous visitors do,
// one request at a time, half of them with analytics cookies.
func wpLoad(t *testing.T, v *wpVisitor) loadFigures {
	t.Helper()
	// The HTML pages the preset keeps for preset_ttl. The feed is left
	// out: its freshness is heuristic, a tenth of the time since the post
	// the test just edited, so how often it is a hit depends on how fast
	// the machine runs the requests.
	pages := []string{"/", "/hello-world/", "/sample-page/", "/category/uncategorized/"}
	var f loadFigures
	var times []time.Duration
	for i := range 10 * len(pages) {
		var hdr []string
		if i%2 == 1 {
			hdr = []string{"Cookie", "_ga=GA1.1.123.456"}
		}
		p := v.get(pages[i%len(pages)], hdr...)
		if p.status != 200 {
			t.Fatalf("%s: %d", pages[i%len(pages)], p.status)
		}
		if i < len(pages) && strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
			noOriginURL(t, p)
		}
		f.requests++
		if strings.HasPrefix(p.cache, "icpedge; hit") {
			f.hits++
		}
		times = append(times, p.took)
	}
	slices.Sort(times)
	f.median = times[len(times)/2]
	return f
}

// blockEditor edits a post in the block editor, in Chromium, through the
// edge. Every request the browser makes must go to the edge: the origin's
// name resolves to a trap that fails the test if anything reaches it. The
// anonymous visitor then sees the new version at once: the README's
// mu-plugin purged the cache on publish.
func blockEditor(t *testing.T, e *edgeProc, base string, wp *wordpressSite, admin *wpVisitor) {
	chromium := chromiumPath(t)
	var trapped atomic.Int64
	var trappedURL atomic.Value
	trap := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trapped.Add(1)
		trappedURL.Store(r.Host + r.URL.String())
		http.Error(w, "the origin host was asked directly", http.StatusTeapot)
	})}
	trapLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go trap.Serve(trapLn)
	defer trap.Close()

	anon := newVisitor(t, e, base, false)
	before := anon.get("/hello-world/")
	if p := anon.get("/hello-world/"); !strings.HasPrefix(p.cache, "icpedge; hit") {
		t.Fatalf("post before the edit: %q; want a hit", p.cache)
	}

	tab := startChromium(t, chromium, 4*time.Minute,
		// The edge's name reaches the edge; the origin's reaches the trap.
		chromedp.Flag("host-resolver-rules", "MAP "+wpEdgeHost+" 127.0.0.1, MAP "+wpOriginHost+" "+trapLn.Addr().String()),
		chromedp.WindowSize(1280, 900))
	var mu sync.Mutex
	var requested []string
	if err := chromedp.Listen(tab, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requested = append(requested, r.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	// Log in in the browser, through the edge's login form.
	if err := chromedp.Do(tab,
		chromedp.Navigate(base+"/wp-login.php"),
		chromedp.WaitVisible(chromedp.CSS("#user_login")),
		chromedp.SetValue(chromedp.CSS("#user_login"), wp.user),
		chromedp.SetValue(chromedp.CSS("#user_pass"), wp.password),
		chromedp.Click(chromedp.CSS("#wp-submit")),
		chromedp.WaitVisible(chromedp.CSS("#wpadminbar")),
	); err != nil {
		t.Fatalf("logging in in the browser: %v", err)
	}
	// The post in the block editor.
	postID := regexp.MustCompile(`postid-(\d+)`).FindStringSubmatch(before.body)
	if postID == nil {
		t.Fatal("no post id on /hello-world/")
	}
	editURL := base + "/wp-admin/post.php?post=" + postID[1] + "&action=edit"
	if err := chromedp.Do(tab, chromedp.Navigate(editURL)); err != nil {
		t.Fatalf("opening the editor: %v", err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`!!(window.wp && wp.data && wp.data.select("core/editor") &&
		wp.data.select("core/editor").getCurrentPostId() === `+postID[1]+` && wp.data.select("core/block-editor").getBlocks().length > 0)`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(90*time.Second))); err != nil {
		t.Fatalf("waiting for the block editor: %v", err)
	}
	// What the editor was given: its REST root and the URLs in it.
	settings, err := chromedp.Run(tab, chromedp.Evaluate[map[string]string](`({
		root: (window.wpApiSettings && wpApiSettings.root) || "",
		link: wp.data.select("core/editor").getCurrentPost().link || "",
		origin: location.origin,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(settings["link"], base+"/") {
		t.Errorf("the editor's post link %q; want it on the edge %s", settings["link"], base)
	}
	if r := settings["root"]; r != "" && !strings.HasPrefix(r, base+"/") {
		t.Errorf("the editor's REST root %q; want it on the edge %s", r, base)
	}
	editorPage := admin.get(editURL)
	mustContain(t, editorPage.body, `createRootURLMiddleware( "`+base+`/wp-json/" )`)
	noOriginURL(t, editorPage)

	// Edit: a new title and a paragraph, then the Update button.
	title := "Edited at the edge " + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => {
		wp.data.dispatch("core/editor").editPost({title: `+jsString(title)+`});
		wp.data.dispatch("core/block-editor").insertBlocks(wp.blocks.createBlock("core/paragraph", {content: `+jsString("Paragraph: "+title)+`}));
		return true;
	})()`)); err != nil {
		t.Fatalf("editing: %v", err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => {
		const b = [...document.querySelectorAll("button.editor-post-publish-button, button.editor-post-publish-button__button")].find(b => !b.disabled);
		if (!b) throw new Error("no Update button");
		b.click();
		return true;
	})()`)); err != nil {
		t.Fatalf("clicking Update: %v", err)
	}
	saved, err := chromedp.Run(tab, chromedp.Poll[map[string]bool](`(() => {
		const s = wp.data.select("core/editor");
		return !s.isSavingPost() && !s.isEditedPostDirty() && {ok: s.didPostSaveRequestSucceed()};
	})()`, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil || !saved["ok"] {
		t.Fatalf("saving the post: %v (%v)", err, saved)
	}

	mu.Lock()
	defer mu.Unlock()
	rest := 0
	for _, u := range requested {
		pu, err := url.Parse(u)
		if err != nil || pu.Scheme == "data" || pu.Scheme == "blob" || pu.Scheme == "about" {
			continue
		}
		if pu.Hostname() == wpOriginHost {
			t.Errorf("the browser asked the origin host for %s", u)
		}
		if strings.Contains(u, "/wp-json/") || strings.Contains(u, "rest_route=") {
			rest++
			if pu.Host != strings.TrimPrefix(base, "http://") {
				t.Errorf("a REST call went to %s, not the edge", u)
			}
		}
	}
	if rest == 0 {
		t.Errorf("the editor made no REST call through the edge; requests: %v", requested)
	}
	if n := trapped.Load(); n > 0 {
		t.Errorf("%d requests reached the origin host directly, the last for %v", n, trappedURL.Load())
	}

	// Purge on publish: the anonymous visitor sees the update at once.
	e.waitLog("all=true", time.Minute)
	after := anon.get("/hello-world/")
	if !strings.Contains(after.body, title) || !strings.Contains(after.cache, "fwd=miss") {
		t.Errorf("the post after the update: %q, new title there: %v; want a miss with the new title", after.cache, strings.Contains(after.body, title))
	}
}
