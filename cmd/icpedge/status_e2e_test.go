package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testpki"
	"golang.org/x/net/html"
)

// TestStatusPageE2E: the admin listener's / shows every client of a
// --config-dir process, with the self-audit's failing check marked
// failing, behind the token or the cookie the sign-in form sets; a file
// the process refused, and a reload that refused a client's new file,
// show there too.
func TestStatusPageE2E(t *testing.T) {
	const hostA, hostB = "a.example.test", "b.example.test"
	root := t.TempDir()
	dir := filepath.Join(root, "sites")
	os.Mkdir(dir, 0o755)
	httpAddr, httpsAddr := freePort(t), freePort(t)
	for i, h := range []string{hostA, hostB} {
		testpki.WritePairTo(t, filepath.Join(dir, h+".crt"), filepath.Join(dir, h+".key"), h, int64(30+i))
	}
	// a's origin shows a second, old filing number on /old: the audit's
	// icp-conflict check fails.
	audited := clientFile(hostA, ownNoticeOrigin(t).URL, testICP, httpAddr, httpsAddr, dir) + "check:\n  interval: 1s\n  pages: 5\n"
	rewriteConfig(t, filepath.Join(dir, "a.yaml"), audited)
	rewriteConfig(t, filepath.Join(dir, "b.yaml"), clientFile(hostB, namedOrigin(t, "B").URL, otherICP, httpAddr, httpsAddr, dir))
	rewriteConfig(t, filepath.Join(dir, "broken.yaml"), "hosts: [broken.example.test]\norigin: ftp://nope\n")
	tokenFile := filepath.Join(root, "admin.token")
	e := startEdgeArgs(t, dir, 3, []string{"serve", "--config-dir", dir,
		"--listen-http", httpAddr, "--listen-https", httpsAddr,
		"--admin", "127.0.0.1:0", "--admin-token-file", tokenFile,
		"--cache-root", filepath.Join(root, "cache")})
	admin := "http://" + e.Addr("admin") + "/"
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))

	// A request through b, for its origin figures.
	roots := x509.NewCertPool()
	roots.AddCert(testpki.Cert(t, hostB, 31))
	c := clientFor(e.Addr("https"))
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: hostB}
	if resp, err := c.Get("https://" + hostB + "/x"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}

	fetch := func(req *http.Request) (*http.Response, string) {
		t.Helper()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	withToken := func() *html.Node {
		t.Helper()
		req, _ := http.NewRequest("GET", admin, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, body := fetch(req)
		if resp.StatusCode != 200 {
			t.Fatalf("GET / with the token: %d\n%s", resp.StatusCode, body)
		}
		doc, err := html.Parse(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}

	t.Run("sign-in", func(t *testing.T) {
		req, _ := http.NewRequest("GET", admin, nil)
		resp, body := fetch(req)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `name="token"`) || strings.Contains(body, hostA) {
			t.Fatalf("GET / without a token: %d; want 401 and the form only\n%s", resp.StatusCode, body)
		}
		req, _ = http.NewRequest("POST", admin, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", strings.TrimSuffix(admin, "/"))
		resp, _ = fetch(req)
		cookies := resp.Cookies()
		if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
			t.Fatalf("POST / with the token: %d, cookies %v; want 303 and an HttpOnly SameSite=Strict cookie", resp.StatusCode, cookies)
		}
		req, _ = http.NewRequest("GET", admin, nil)
		req.AddCookie(&http.Cookie{Name: cookies[0].Name, Value: cookies[0].Value})
		if resp, body := fetch(req); resp.StatusCode != 200 || !strings.Contains(body, hostA) {
			t.Errorf("GET / with the cookie: %d; want 200 and the page", resp.StatusCode)
		}
		// Another site's form can't sign a browser in.
		req, _ = http.NewRequest("POST", admin, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://evil.example")
		if resp, _ := fetch(req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST: %d; want 403", resp.StatusCode)
		}
	})

	// The audit runs every second; wait for its failing check to show.
	var row *html.Node
	deadline := time.Now().Add(60 * time.Second)
	for row == nil {
		doc := withToken()
		for _, n := range elements(doc, "tr") {
			if attrOf(n, "data-check") == "icp-conflict" && inSite(n) == "a" {
				row = n
			}
		}
		if row == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no icp-conflict check on a's status after 60 s; page:\n%s", textOf(doc))
			}
			e.waitLog("compliance audit done", 30*time.Second)
		}
	}
	if cls := attrOf(row, "class"); cls != "check fail" {
		t.Errorf("a's icp-conflict row has class %q; want check fail", cls)
	}
	if txt := textOf(row); !strings.Contains(txt, "fail") || !strings.Contains(txt, oldICP) {
		t.Errorf("a's icp-conflict row reads %q; want fail and the old number", txt)
	}

	doc := withToken()
	sites := map[string]*html.Node{}
	for _, n := range elements(doc, "section") {
		if name := attrOf(n, "data-site"); name != "" {
			sites[name] = n
		}
	}
	if len(sites) != 2 || sites["a"] == nil || sites["b"] == nil {
		t.Fatalf("sites on the page: %v; want a and b", keysOf(sites))
	}
	if !strings.Contains(attrOf(sites["a"], "class"), "fail") {
		t.Errorf("a's section class %q; want fail", attrOf(sites["a"], "class"))
	}
	for name, host := range map[string]string{"a": hostA, "b": hostB} {
		txt := textOf(sites[name])
		// The test pairs are self-signed for a day.
		for _, want := range []string{host, "Issuer" + host, "0 days"} {
			if !strings.Contains(txt, want) {
				t.Errorf("%s's section lacks %q:\n%s", name, want, txt)
			}
		}
	}
	if txt := textOf(sites["b"]); !strings.Contains(txt, "Fetches1") && !strings.Contains(txt, "Fetches2") {
		t.Errorf("b's section does not count its origin fetch:\n%s", txt)
	}
	if txt := textOf(doc); !strings.Contains(txt, "broken") || !strings.Contains(txt, "ftp://nope") {
		t.Errorf("the page does not show the refused broken.yaml:\n%s", txt)
	}
	// The audits' requests went through the edge: the bandwidth line
	// counts them.
	if txt := textOf(doc); !strings.Contains(txt, "Compression saved") || !strings.Contains(txt, "identity") && !strings.Contains(txt, "gzip") && !strings.Contains(txt, "br ") {
		t.Errorf("the page has no compression line for the bytes sent:\n%s", txt)
	}

	// A reload that refuses a's new file: a keeps serving, and says so.
	rewriteConfig(t, filepath.Join(dir, "a.yaml"), strings.Replace(audited, "origin: ", "origin: gopher://", 1))
	e.signal(syscall.SIGHUP)
	e.waitLog("client config not reloaded; keeping the current one", 30*time.Second)
	// The page has the outcome once the reload is over: poll for it.
	var reload *html.Node
	for deadline := time.Now().Add(30 * time.Second); ; {
		reload = nil
		for _, n := range elements(withToken(), "div") {
			if strings.Contains(attrOf(n, "class"), "reload") && inSite(n) == "a" {
				reload = n
			}
		}
		if strings.Contains(attrOf(reload, "class"), "fail") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the page, not waiting for a goroutine
	}
	if !strings.Contains(attrOf(reload, "class"), "fail") || !strings.Contains(textOf(reload), "gopher") {
		t.Errorf("a's last reload: %q; want refused, naming the bad origin", textOf(reload))
	}
	// b's file was fine: its reload applied.
	for _, n := range elements(withToken(), "div") {
		if strings.Contains(attrOf(n, "class"), "reload") && inSite(n) == "b" && !strings.Contains(textOf(n), "applied") {
			t.Errorf("b's last reload: %q; want applied", textOf(n))
		}
	}
}

func elements(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && d.Data == tag {
			out = append(out, d)
		}
	}
	return out
}

func attrOf(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// inSite is the data-site of the section n is in.
func inSite(n *html.Node) string {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Data == "section" {
			return attrOf(p, "data-site")
		}
	}
	return ""
}

func keysOf(m map[string]*html.Node) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
