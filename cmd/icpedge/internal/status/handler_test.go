package status

import (
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

const testToken = "Zx7QeT0kS9rL2mV4bN8cH1gF6dA3wY5u"

// samplePage is two sites, one of them failing one check and with a
// refused reload, with Chinese text where real pages have it.
func samplePage(now time.Time) Page {
	c := &clock{t: now.Add(-20 * time.Minute)}
	w := NewWindow(c.Now)
	for range 47 {
		w.Served("hit", false)
	}
	for range 3 {
		w.Served("miss", false)
	}
	w.Stored(3 << 20)
	w.Fetched(180*time.Millisecond, nil)
	w.Fetched(210*time.Millisecond, nil)
	w.Fetched(30*time.Second, errors.New("fetching origin: dial tcp 203.0.113.7:443: i/o timeout"))
	w.Served("stale", true)
	w.Served("stale", true)
	c.Advance(20 * time.Minute)
	// The other site has been up for the whole hour, and healthy.
	cb := &clock{t: now.Add(-time.Hour)}
	wb := NewWindow(cb.Now)
	cb.Advance(time.Hour)
	for range 1180 {
		wb.Served("hit", false)
	}
	for range 20 {
		wb.Served("miss", false)
		wb.Fetched(96*time.Millisecond, nil)
	}
	wb.Stored(640 << 10)
	return Page{
		Started: now.Add(-26 * time.Hour),
		Version: "v1.4.0",
		Sites: []Site{
			{
				Name:  "client-a.yaml",
				Hosts: []string{"icp.client-a.com", "client-a.com"},
				Checks: []Check{
					{Name: "reachable", Result: OK, At: now.Add(-4 * time.Minute), Reason: "200 in 412 ms"},
					{Name: "notice", Result: Fail, At: now.Add(-4 * time.Minute), Reason: "the page shows no 京ICP备12345678号-1", Fix: "check notice.icp and that the page is HTML"},
					{Name: "tls", Result: Warn, At: now.Add(-4 * time.Minute), Reason: "certificate expires in 18 days"},
					{Name: "dns", Result: Skip, At: now.Add(-4 * time.Minute), Reason: "check.expect_ips is not set"},
					{Name: "domain-expiry", Target: "client-a.com", Result: OK, At: now.Add(-5 * time.Hour), Reason: "expires 2027-08-14 (255 days)"},
				},
				Certs:      []Cert{{Host: "icp.client-a.com", Issuer: "Let's Encrypt R11", NotAfter: now.Add(18*24*time.Hour + time.Hour)}},
				Traffic:    w.Traffic(),
				CacheBytes: 812 << 20,
				Reload:     Reload{At: now.Add(-2 * time.Hour), Err: "client-a.yaml:7: origin: \"htp://x\" is not an http or https URL"},
			},
			{
				Name:  "client-b.yaml",
				Hosts: []string{"www.client-b.cn"},
				Checks: []Check{
					{Name: "reachable", Result: OK, At: now.Add(-90 * time.Second), Reason: "200 in 96 ms"},
					{Name: "notice", Result: OK, At: now.Add(-90 * time.Second), Reason: "沪ICP备2023000001号 linked to https://beian.miit.gov.cn/"},
				},
				Certs:      []Cert{{Host: "www.client-b.cn", Issuer: "ZeroSSL ECC Domain Secure Site CA", NotAfter: now.Add(71 * 24 * time.Hour)}},
				Traffic:    wb.Traffic(),
				CacheBytes: 57 << 20,
				Reload:     Reload{At: now.Add(-2 * time.Hour)},
			},
		},
	}
}

func newTestHandler(c *clock, p func() Page) *Handler {
	if p == nil {
		p = func() Page { return samplePage(c.Now()) }
	}
	return New(Options{Token: testToken, Data: p, Now: c.Now})
}

func serve(h http.Handler, r *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func signInRequest(token string) *http.Request {
	r := httptest.NewRequest("POST", "http://127.0.0.1:9080/", strings.NewReader(url.Values{"token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://127.0.0.1:9080")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return r
}

func TestNoTokenGetsTheForm(t *testing.T) {
	h := newTestHandler(newClock(), nil)
	resp := serve(h, httptest.NewRequest("GET", "http://127.0.0.1:9080/", nil))
	b := body(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d; want 401", resp.StatusCode)
	}
	if !strings.Contains(b, `<input id="token" name="token" type="password"`) {
		t.Errorf("no token form in:\n%s", b)
	}
	if strings.Contains(b, "client-a") || strings.Contains(b, "icp.client-a.com") {
		t.Error("the sign-in form shows a site's data")
	}
	if got := resp.Header.Get("Set-Cookie"); got != "" {
		t.Errorf("Set-Cookie %q without a token", got)
	}
}

func TestBearerToken(t *testing.T) {
	h := newTestHandler(newClock(), nil)
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"Bearer " + testToken, 200},
		{"bearer  " + testToken, 200},
		{"Bearer " + testToken[:len(testToken)-1], 401},
		{"Bearer " + testToken + "x", 401},
		{"Basic " + testToken, 401},
		{"Bearer ", 401},
	} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:9080/", nil)
		r.Header.Set("Authorization", tc.auth)
		resp := serve(h, r)
		b := body(t, resp)
		if resp.StatusCode != tc.want {
			t.Errorf("Authorization %q: status %d; want %d", tc.auth, resp.StatusCode, tc.want)
		}
		if shows := strings.Contains(b, "icp.client-a.com"); shows != (tc.want == 200) {
			t.Errorf("Authorization %q: page shows the sites: %v; want %v", tc.auth, shows, tc.want == 200)
		}
	}
}

func TestEmptyTokenRefusesEverything(t *testing.T) {
	h := New(Options{Data: func() Page { return samplePage(time.Now()) }})
	r := httptest.NewRequest("GET", "http://127.0.0.1:9080/", nil)
	r.Header.Set("Authorization", "Bearer ")
	if resp := serve(h, r); resp.StatusCode != 401 {
		t.Errorf("GET: status %d; want 401", resp.StatusCode)
	}
	if resp := serve(h, signInRequest("")); resp.StatusCode != 401 || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("sign-in with an empty token: status %d, Set-Cookie %q; want 401 and none", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}

func TestWrongTokenInTheForm(t *testing.T) {
	h := newTestHandler(newClock(), nil)
	resp := serve(h, signInRequest("not-the-token"))
	b := body(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d; want 401", resp.StatusCode)
	}
	if !strings.Contains(b, `class="problem"`) || !strings.Contains(b, "not the admin token") {
		t.Errorf("no error on the form:\n%s", b)
	}
	if !strings.Contains(b, `name="token"`) {
		t.Error("the form is not shown again")
	}
	if got := resp.Header.Get("Set-Cookie"); got != "" {
		t.Errorf("Set-Cookie %q for a wrong token", got)
	}
}

func TestSignInSetsACookieThatWorks(t *testing.T) {
	c := newClock()
	h := newTestHandler(c, nil)
	resp := serve(h, signInRequest(" "+testToken+"\n")) // pasted with the file's newline
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("status %d, Location %q; want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("got %d cookies; want 1", len(cookies))
	}
	ck := cookies[0]
	if ck.Name != CookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure {
		t.Errorf("cookie %s; want %s, HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", ck, CookieName)
	}
	if ck.MaxAge != int((12 * time.Hour).Seconds()) {
		t.Errorf("cookie Max-Age %d; want 12 h", ck.MaxAge)
	}
	if strings.Contains(ck.Value, testToken) {
		t.Error("the cookie holds the token itself")
	}

	get := func() *http.Response {
		r := httptest.NewRequest("GET", "http://127.0.0.1:9080/", nil)
		r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		return serve(h, r)
	}
	resp = get()
	if b := body(t, resp); resp.StatusCode != 200 || !strings.Contains(b, "icp.client-a.com") {
		t.Fatalf("with the cookie: status %d; want 200 and the page", resp.StatusCode)
	}

	// The session ends after 12 h.
	c.Advance(12*time.Hour - time.Second)
	if resp := get(); resp.StatusCode != 200 {
		t.Errorf("just before expiry: status %d; want 200", resp.StatusCode)
	}
	c.Advance(time.Second)
	if resp := get(); resp.StatusCode != 401 {
		t.Errorf("after expiry: status %d; want 401", resp.StatusCode)
	}
}

func TestForgedCookies(t *testing.T) {
	c := newClock()
	h := newTestHandler(c, nil)
	valid := h.session(c.Now().Add(time.Hour))
	exp, sig, _ := strings.Cut(valid, ".")
	other := New(Options{Token: "another-token-after-rotation-000", Now: c.Now}).session(c.Now().Add(time.Hour))
	for _, v := range []string{
		"",
		testToken,
		exp,
		exp + ".",
		"9999999999." + sig,              // a later expiry under the old MAC
		exp + "." + strings.ToUpper(sig), // hex is decoded, so same bytes: must still be accepted below
		exp + "." + sig[:len(sig)-2],
		other, // signed with a different token: rotating it ends sessions
		"-1." + sig,
	} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:9080/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: v})
		got := serve(h, r).StatusCode
		want := 401
		if v == exp+"."+strings.ToUpper(sig) {
			want = 200
		}
		if got != want {
			t.Errorf("cookie %q: status %d; want %d", v, got, want)
		}
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	h := newTestHandler(newClock(), nil)
	r := signInRequest(testToken)
	r.Header.Set("Origin", "https://127.0.0.1:9080")
	r.TLS = &tls.ConnectionState{}
	resp := serve(h, r)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d; want 303", resp.StatusCode)
	}
	if ck := resp.Cookies(); len(ck) != 1 || !ck[0].Secure {
		t.Errorf("cookies %v; want one, Secure", ck)
	}
}

func TestCrossSitePostsRefused(t *testing.T) {
	h := newTestHandler(newClock(), nil)
	for _, tc := range []struct {
		name, origin, fetchSite string
	}{
		{"another site", "http://evil.example", ""},
		{"another port", "http://127.0.0.1:8080", ""},
		{"https origin over http", "https://127.0.0.1:9080", ""},
		{"opaque origin", "null", ""},
		{"fetch metadata", "", "cross-site"},
		{"same-site is not same-origin", "http://127.0.0.1:9080", "same-site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := signInRequest(testToken)
			r.Header.Del("Origin")
			r.Header.Del("Sec-Fetch-Site")
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if tc.fetchSite != "" {
				r.Header.Set("Sec-Fetch-Site", tc.fetchSite)
			}
			resp := serve(h, r)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d; want 403", resp.StatusCode)
			}
			if got := resp.Header.Get("Set-Cookie"); got != "" {
				t.Errorf("Set-Cookie %q on a cross-site request", got)
			}
		})
	}
	// curl and scripts send neither header: they are no browser, and
	// carry no ambient cookie to abuse.
	r := signInRequest(testToken)
	r.Header.Del("Origin")
	r.Header.Del("Sec-Fetch-Site")
	if resp := serve(h, r); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("no Origin: status %d; want 303", resp.StatusCode)
	}
}

func TestSignOut(t *testing.T) {
	h := newTestHandler(newClock(), nil)
	r := httptest.NewRequest("POST", "http://127.0.0.1:9080/", strings.NewReader("logout=1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://127.0.0.1:9080")
	resp := serve(h, r)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d; want 303", resp.StatusCode)
	}
	if got := resp.Header.Get("Set-Cookie"); !strings.Contains(got, CookieName+"=;") || !strings.Contains(got, "Max-Age=0") {
		t.Errorf("Set-Cookie %q; want the cookie deleted", got)
	}
}

func TestOversizedFormAndOtherMethods(t *testing.T) {
	h := newTestHandler(newClock(), nil)
	r := signInRequest(strings.Repeat("a", 10<<10))
	if resp := serve(h, r); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("10 KiB form: status %d; want 400", resp.StatusCode)
	}
	resp := serve(h, httptest.NewRequest("PUT", "http://127.0.0.1:9080/", nil))
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT: status %d, Allow %q; want 405, GET, HEAD, POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// authGet fetches the page with the bearer token and parses it.
func authGet(t *testing.T, h http.Handler) (*http.Response, *html.Node, string) {
	t.Helper()
	r := httptest.NewRequest("GET", "http://127.0.0.1:9080/", nil)
	r.Header.Set("Authorization", "Bearer "+testToken)
	resp := serve(h, r)
	b := body(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d; want 200", resp.StatusCode)
	}
	doc, err := html.Parse(strings.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return resp, doc, b
}

func TestPageShowsEachSite(t *testing.T) {
	_, doc, b := authGet(t, newTestHandler(newClock(), nil))

	sections := findAll(doc, func(n *html.Node) bool { return n.Data == "section" && hasClass(n, "site") })
	if len(sections) != 2 {
		t.Fatalf("got %d site sections; want 2", len(sections))
	}
	a, bSite := sections[0], sections[1]
	if attr(a, "data-site") != "client-a.yaml" || !hasClass(a, "fail") {
		t.Errorf("first section: data-site %q class %q; want client-a.yaml, fail", attr(a, "data-site"), attr(a, "class"))
	}
	if attr(bSite, "data-site") != "client-b.yaml" || !hasClass(bSite, "ok") {
		t.Errorf("second section: data-site %q class %q; want client-b.yaml, ok", attr(bSite, "data-site"), attr(bSite, "class"))
	}

	rows := map[string]*html.Node{}
	for _, n := range findAll(a, func(n *html.Node) bool { return n.Data == "tr" && hasClass(n, "check") }) {
		rows[attr(n, "data-check")] = n
	}
	for check, want := range map[string]string{"reachable": "ok", "notice": "fail", "tls": "warn", "dns": "skip"} {
		row := rows[check]
		if row == nil {
			t.Errorf("no row for check %s", check)
			continue
		}
		if !hasClass(row, want) {
			t.Errorf("check %s: row class %q; want %s", check, attr(row, "class"), want)
		}
		if txt := text(row); !strings.Contains(txt, want) || !strings.Contains(txt, "4 min ago") {
			t.Errorf("check %s: row reads %q; want its result %q in words and the time", check, txt, want)
		}
	}
	if txt := text(rows["notice"]); !strings.Contains(txt, "the page shows no 京ICP备12345678号-1") || !strings.Contains(txt, "Fix: check notice.icp") {
		t.Errorf("failing check reads %q; want its reason and fix", txt)
	}

	for _, want := range []string{
		"Let's Encrypt R11", "18 days", // issuer and days left
		"94.2% (49 of 52)", "3.0 MiB", "812.0 MiB", // hit ratio, stored, on disk
		"since start (20 min)",
		"i/o timeout", "20 min ago", // last origin error
		durationText(bucketMiddle(fetchBucket(210 * time.Millisecond))), // p50 of 180, 210, 30 000 ms
		"refused", "is not an http or https URL", // last reload
		"The previous config is still serving.",
		"ZeroSSL ECC Domain Secure Site CA", "71 days", "applied",
	} {
		if !strings.Contains(text(doc), want) {
			t.Errorf("page does not read %q", want)
		}
	}
	if !strings.Contains(b, `<meta name="viewport" content="width=device-width, initial-scale=1">`) {
		t.Error("no viewport meta")
	}
	if !strings.Contains(b, `<meta http-equiv="refresh" content="30">`) {
		t.Error("no meta refresh every 30 s")
	}
	if title := text(findAll(doc, func(n *html.Node) bool { return n.Data == "title" })[0]); !strings.Contains(title, "1 failing") {
		t.Errorf("title %q; want the failing count", title)
	}
}

// TestPageIsSelfContained: the edge is in China, so the page must load
// nothing from anywhere, and it runs no script.
func TestPageIsSelfContained(t *testing.T) {
	resp, doc, _ := authGet(t, newTestHandler(newClock(), nil))
	for _, n := range findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		switch n.Data {
		case "script", "link", "img", "iframe", "object", "embed":
			t.Errorf("page has a <%s>", n.Data)
		}
		for _, a := range n.Attr {
			if (a.Key == "href" || a.Key == "src" || a.Key == "action") && !strings.HasPrefix(a.Val, "#") && a.Val != "/" {
				t.Errorf("<%s %s=%q> points elsewhere", n.Data, a.Key, a.Val)
			}
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has an event handler %s", n.Data, a.Key)
			}
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q; want default-src 'none' and the stylesheet by hash", csp)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Type": "text/html; charset=utf-8"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q; want %q", k, got, want)
		}
	}
}

// TestHostileStringsAreEscaped: check reasons quote what a page said,
// errors what an origin sent, and host names what a config holds.
func TestHostileStringsAreEscaped(t *testing.T) {
	const (
		script = `<script>alert("x")</script>`
		attrJS = `"><img src=x onerror=alert(1)>`
		style  = `</style><style>body{display:none}</style>`
	)
	c := newClock()
	now := c.Now()
	w := NewWindow(c.Now)
	w.Fetched(time.Second, errors.New("origin said "+script))
	p := Page{Version: attrJS, Sites: []Site{{
		Name:    attrJS,
		Hosts:   []string{script},
		Checks:  []Check{{Name: attrJS, Result: Result(attrJS), At: now, Reason: script + style, Fix: attrJS}},
		Certs:   []Cert{{Host: script, Issuer: attrJS, NotAfter: now.Add(40 * 24 * time.Hour), Err: style}},
		Traffic: w.Traffic(),
		Reload:  Reload{At: now, Err: script},
	}}}
	h := newTestHandler(c, func() Page { return p })
	_, doc, b := authGet(t, h)
	for _, n := range findAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		switch n.Data {
		case "script", "img":
			t.Errorf("a hostile string became a <%s>", n.Data)
		}
		for _, a := range n.Attr {
			if a.Key == "onerror" {
				t.Errorf("a hostile string became an attribute on <%s>", n.Data)
			}
		}
	}
	if got := len(findAll(doc, func(n *html.Node) bool { return n.Data == "style" })); got != 1 {
		t.Errorf("page has %d <style> elements; want 1", got)
	}
	// The text still reads as it was given, once decoded.
	if !strings.Contains(text(doc), script+style) {
		t.Error("the hostile reason does not read as given")
	}
	// An unknown result is shown, grey, not trusted as a class.
	row := findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && hasClass(n, "check") })[0]
	if attr(row, "class") != "check skip" {
		t.Errorf("row class %q for an unknown result; want check skip", attr(row, "class"))
	}
	if strings.Contains(b, "<script>") {
		t.Error("raw <script> in the body")
	}
}

func TestEmptyPage(t *testing.T) {
	_, doc, _ := authGet(t, newTestHandler(newClock(), func() Page { return Page{} }))
	if !strings.Contains(text(doc), "This process serves no site.") {
		t.Error("an empty process does not say so")
	}
}

func TestCertStates(t *testing.T) {
	now := newClock().Now()
	for _, tc := range []struct {
		name     string
		c        Cert
		days, st string
	}{
		{"fresh", Cert{NotAfter: now.Add(80 * 24 * time.Hour)}, "80 days", "ok"},
		{"renewal due", Cert{NotAfter: now.Add(20*24*time.Hour + time.Hour)}, "20 days", "warn"},
		{"renewal failing", Cert{NotAfter: now.Add(60 * 24 * time.Hour), Err: "acme: rate limited"}, "60 days", "warn"},
		{"a week", Cert{NotAfter: now.Add(6*24*time.Hour + time.Hour)}, "6 days", "fail"},
		{"one day", Cert{NotAfter: now.Add(36 * time.Hour)}, "1 day", "fail"},
		{"expired", Cert{NotAfter: now.Add(-time.Minute)}, "expired", "fail"},
		{"being obtained", Cert{}, "no certificate", "warn"},
		{"not obtained", Cert{Err: "acme: challenge failed"}, "no certificate", "fail"},
	} {
		got := cert(tc.c, now)
		if got.DaysLeft != tc.days || got.State != tc.st {
			t.Errorf("%s: got %q, %s; want %q, %s", tc.name, got.DaysLeft, got.State, tc.days, tc.st)
		}
	}
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// The page shows what compression saved, for the whole process, and no
// line at all before anything was sent.
func TestPageShowsCompression(t *testing.T) {
	c := newClock()
	p := samplePage(c.Now())
	p.Compression = Compression{Sent: map[string]int64{"br": 3 << 20, "gzip": 1 << 20, "identity": 512 << 10, "zstd": 0}, Saved: 6 << 20, Ratio: 0.6}
	_, doc, _ := authGet(t, newTestHandler(c, func() Page { return p }))
	lines := findAll(doc, func(n *html.Node) bool { return n.Data == "p" && hasClass(n, "compression") })
	if len(lines) != 1 {
		t.Fatalf("got %d compression lines; want 1", len(lines))
	}
	got := text(lines[0])
	for _, want := range []string{"saved 6.0 MiB", "60%", "sent 4.5 MiB", "br 3.0 MiB, gzip 1.0 MiB, identity 512.0 KiB"} {
		if !strings.Contains(got, want) {
			t.Errorf("compression line %q; want it to hold %q", got, want)
		}
	}
	if strings.Contains(got, "zstd") {
		t.Errorf("compression line %q names an encoding nothing was sent in", got)
	}

	_, doc, _ = authGet(t, newTestHandler(c, func() Page { return samplePage(c.Now()) }))
	if n := len(findAll(doc, func(n *html.Node) bool { return n.Data == "p" && hasClass(n, "compression") })); n != 0 {
		t.Errorf("got %d compression lines with nothing sent; want none", n)
	}
}
