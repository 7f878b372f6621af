package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/testredis"
)

// The cluster tests run two icpedge processes against a real redis-server
// the test starts on a free loopback port, and stops by its PID.

// clusterNodeConfig is a client's config on one node: plain HTTP, the
// cache, the admin listener on a port of its own (icpedge purge reads it
// from the file), and the cluster block.
func clusterNodeConfig(t *testing.T, originURL, icp string, redisAddr, node, extra string) string {
	return withAdmin(reloadConfig(originURL, icp, fmt.Sprintf(`cluster:
  redis: redis://%s/0
  node: %s
  prefix: "e2e:"
%s`, redisAddr, node, extra)), freePort(t))
}

// startClusterNode starts a node from the config at path and waits for
// its HTTP and admin listeners.
func startClusterNode(t *testing.T, path string) *edgeProc {
	t.Helper()
	e := startEdgeArgs(t, filepath.Dir(path), 2, []string{"serve", "--config", path})
	e.config = path
	return e
}

// adminDo sends an admin request with the node's token.
func adminDo(t *testing.T, e *edgeProc, method, path string) (int, string) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(e.dir, "state", "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, "http://"+e.Addr("admin")+path, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := clientFor(e.Addr("admin")).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pageStatus fetches path from the node and returns the status and the
// Cache-Status header; err when the request failed.
func pageStatus(e *edgeProc, path string) (int, string, error) {
	resp, err := clientFor(e.Addr("http")).Get("http://" + testHost + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("Cache-Status"), nil
}

// warmUp fetches path until the node answers it from its cache.
func warmUp(t *testing.T, e *edgeProc, path string) {
	t.Helper()
	waitFor(t, 30*time.Second, path+" to be a cache hit", func() bool {
		code, cs, err := pageStatus(e, path)
		return err == nil && code == 200 && strings.HasPrefix(cs, "icpedge; hit")
	})
}

func wantHit(t *testing.T, e *edgeProc, name, path string, hit bool) {
	t.Helper()
	code, cs, err := pageStatus(e, path)
	if err != nil || code != 200 {
		t.Fatalf("%s GET %s: %d, %v; want 200", name, path, code, err)
	}
	if got := strings.HasPrefix(cs, "icpedge; hit"); got != hit {
		t.Errorf("%s GET %s: Cache-Status %q; want hit %v", name, path, cs, hit)
	}
}

// twoNodes starts redis-server, an origin and two nodes, edge-a and
// edge-b, each with its own config, state and cache.
func twoNodes(t *testing.T, extraA string) (r *testredis.Server, a, b *edgeProc) {
	t.Helper()
	r = testredis.Start(t)
	origin, _ := reloadOrigin(t)
	a = startClusterNode(t, writeConfig(t, clusterNodeConfig(t, origin.URL, testICP, r.Addr(), "edge-a", extraA)))
	b = startClusterNode(t, writeConfig(t, clusterNodeConfig(t, origin.URL, testICP, r.Addr(), "edge-b", "")))
	return r, a, b
}

type purgeAnswer struct {
	Purged int      `json:"purged"`
	Nodes  []string `json:"nodes"`
	Error  string   `json:"error"`
}

// TestClusterPurgeE2E: a purge given to one node, through the admin API
// or icpedge purge, makes the other miss, and the answer lists both.
func TestClusterPurgeE2E(t *testing.T) {
	_, a, b := twoNodes(t, "")
	for _, p := range []string{"/p", "/q"} {
		warmUp(t, a, p)
		warmUp(t, b, p)
	}

	code, body := adminDo(t, a, "POST", "/purge?url=/p")
	var ans purgeAnswer
	if err := json.Unmarshal([]byte(body), &ans); err != nil || code != 200 {
		t.Fatalf("purge on edge-a: %d %q; want 200 with JSON", code, body)
	}
	if ans.Purged != 1 || strings.Join(ans.Nodes, ",") != "edge-a,edge-b" {
		t.Errorf("purge on edge-a answered %+v; want purged 1 on edge-a,edge-b", ans)
	}
	// The answer came once edge-b had applied it: no wait here.
	wantHit(t, b, "edge-b", "/p", false)
	wantHit(t, b, "edge-b", "/q", true)
	wantHit(t, a, "edge-a", "/p", false)
	waitLog(t, b, `msg="cluster purge applied"`, 10*time.Second)

	// icpedge purge, given to edge-b, reaches edge-a.
	out, err := exec.Command(binPath, "purge", "--config", b.config, "/q").CombinedOutput()
	if err != nil {
		t.Fatalf("icpedge purge: %v\n%s", err, out)
	}
	mustContain(t, string(out), "purged 1 entry for /q; applied by edge-b, edge-a")
	wantHit(t, a, "edge-a", "/q", false)
}

// TestClusterRedisDownE2E: Redis killed while both nodes serve: no
// request for a cached page fails, /readyz and icpedge_cluster_up say
// why, and when Redis returns the nodes are back up.
func TestClusterRedisDownE2E(t *testing.T) {
	r, a, b := twoNodes(t, "")
	nodes := map[string]*edgeProc{"edge-a": a, "edge-b": b}
	for _, e := range nodes {
		warmUp(t, e, "/p")
	}
	for name, e := range nodes {
		mustContain(t, scrapeMetrics(t, e, filepath.Join(e.dir, "state")), `icpedge_cluster_up{client="site",node="`+name+`"} 1`)
	}

	// Requests run throughout, on both nodes.
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		total    atomic.Int64
		failMu   sync.Mutex
		failures []string
	)
	for name, e := range nodes {
		wg.Go(func() {
			for !stop.Load() {
				code, cs, err := pageStatus(e, "/p")
				total.Add(1)
				if err != nil || code != 200 || !strings.HasPrefix(cs, "icpedge; hit") {
					failMu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %d %q %v", name, code, cs, err))
					failMu.Unlock()
				}
			}
		})
	}
	r.Kill()
	for name, e := range nodes {
		waitFor(t, 60*time.Second, name+"'s /readyz to say Redis is down", func() bool {
			resp, err := clientFor(e.Addr("admin")).Get("http://" + e.Addr("admin") + "/readyz")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode == 200 && strings.Contains(string(body), "ready, degraded: cluster: redis unreachable")
		})
		mustContain(t, scrapeMetrics(t, e, filepath.Join(e.dir, "state")), `icpedge_cluster_up{client="site",node="`+name+`"} 0`)
	}
	// A purge now is applied here and said to be so.
	code, body := adminDo(t, a, "POST", "/purge?url=/other")
	if code != 503 || !strings.Contains(body, "applied on this node only") {
		t.Errorf("purge with Redis down: %d %q; want 503 saying it was applied here only", code, body)
	}
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 || total.Load() == 0 {
		t.Errorf("%d of %d requests failed while Redis was down; first: %v", len(failures), total.Load(), failures[:min(3, len(failures))])
	}

	r.Run()
	for name, e := range nodes {
		waitFor(t, 60*time.Second, name+" back up", func() bool {
			return strings.Contains(scrapeMetrics(t, e, filepath.Join(e.dir, "state")), `icpedge_cluster_up{client="site",node="`+name+`"} 1`)
		})
	}
	code, body = adminDo(t, a, "POST", "/purge?url=/p")
	if code != 200 || !strings.Contains(body, `"nodes":["edge-a","edge-b"]`) {
		t.Errorf("purge after Redis returned: %d %q; want both nodes", code, body)
	}
}

// TestClusterReplayE2E: purges made while a node was away are applied
// when it returns, from the stream; a page not purged stays cached.
func TestClusterReplayE2E(t *testing.T) {
	_, a, b := twoNodes(t, "")
	warmUp(t, b, "/p")
	warmUp(t, b, "/q")
	b.stop()

	code, body := adminDo(t, a, "POST", "/purge?prefix=/p")
	if code != 200 || !strings.Contains(body, `"nodes":["edge-a"]`) {
		t.Fatalf("purge while edge-b is away: %d %q; want it applied by edge-a alone", code, body)
	}

	b2 := startClusterNode(t, b.config)
	waitLog(t, b2, `msg="cluster purge applied"`, 60*time.Second)
	mustContain(t, b2.Log(), `from=edge-a url="" prefix=/p`)
	wantHit(t, b2, "edge-b", "/p", false)
	wantHit(t, b2, "edge-b", "/q", true)
}

// TestClusterDriftE2E: after one node's notice changes, /cluster shows
// two fingerprints for the host, and icpedge check and the self-audit
// report cluster-drift.
func TestClusterDriftE2E(t *testing.T) {
	r := testredis.Start(t)
	origin, _ := reloadOrigin(t)
	audit := "check:\n  interval: 1s\n  pages: 0\n  expect_ips: [127.0.0.1]\n  rdap_bootstrap: http://" + freePort(t) + "/dns.json\n"
	a := startClusterNode(t, writeConfig(t, clusterNodeConfig(t, origin.URL, testICP, r.Addr(), "edge-a", audit)))
	bPath := writeConfig(t, clusterNodeConfig(t, origin.URL, testICP, r.Addr(), "edge-b", ""))
	b := startClusterNode(t, bPath)

	type view struct {
		Clusters []struct {
			Node  string `json:"node"`
			Nodes []struct {
				Name, Address, Version, Fingerprint string
				LastSeen                            time.Time `json:"last_seen"`
			} `json:"nodes"`
			Drift []struct {
				Host         string              `json:"host"`
				Fingerprints map[string][]string `json:"fingerprints"`
			} `json:"drift"`
		} `json:"clusters"`
	}
	clusterView := func() view {
		code, body := adminDo(t, a, "GET", "/cluster")
		var v view
		if err := json.Unmarshal([]byte(body), &v); err != nil || code != 200 || len(v.Clusters) != 1 {
			t.Fatalf("GET /cluster: %d %q; want one cluster", code, body)
		}
		return v
	}
	v := clusterView()
	c := v.Clusters[0]
	if c.Node != "edge-a" || len(c.Nodes) != 2 || c.Nodes[0].Name != "edge-a" || c.Nodes[1].Name != "edge-b" || len(c.Drift) != 0 {
		t.Fatalf("/cluster before the change: %+v; want edge-a and edge-b, no drift", c)
	}
	for _, n := range c.Nodes {
		if n.Address == "" || n.Version == "" || n.Fingerprint == "" || n.LastSeen.IsZero() || n.Fingerprint != c.Nodes[0].Fingerprint {
			t.Errorf("/cluster node %+v; want address, version, last seen and the same fingerprint", n)
		}
	}

	dns := startTestDNS(t, map[string]string{testHost: "127.0.0.1"})
	port := portOf(a.Addr("http"))
	check := func() checkReport {
		out, _ := runCheck(t, "--json", "--config", a.config, "--dns", dns, "--pages", "0",
			"--resolve", testHost+":"+port+":127.0.0.1", "http://"+testHost+":"+port+"/")
		var rep checkReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("check --json: %v\n%s", err, out)
		}
		return rep
	}
	if got := check().status(testHost, "cluster-drift"); got != "ok" {
		t.Errorf("check cluster-drift before the change: %q; want ok", got)
	}

	// edge-b gets another notice.
	rewriteConfig(t, bPath, clusterNodeConfig(t, origin.URL, "京ICP备87654321号-1", r.Addr(), "edge-b", ""))
	b.signal(syscall.SIGHUP)
	waitFor(t, 30*time.Second, "/cluster to show the drift", func() bool {
		return len(clusterView().Clusters[0].Drift) == 1
	})
	d := clusterView().Clusters[0].Drift[0]
	if d.Host != testHost || len(d.Fingerprints) != 2 {
		t.Errorf("drift: %+v; want %s with two fingerprints", d, testHost)
	}
	rep := check()
	if got := rep.status(testHost, "cluster-drift"); got != "fail" {
		t.Errorf("check cluster-drift after the change: %q; want fail", got)
	}
	if rep.OK {
		t.Error("check report OK with drift")
	}
	waitFor(t, 60*time.Second, "the self-audit to report the drift", func() bool {
		return strings.Contains(scrapeMetrics(t, a, filepath.Join(a.dir, "state")), `icpedge_compliance_ok{check="cluster-drift",host="`+testHost+`"} 0`)
	})
	waitLog(t, a, `msg="compliance check failed" host=`+testHost+` check=cluster-drift`, 30*time.Second)
}

// TestClusterValidateE2E: validate shows the cluster settings, and names
// a missing password file.
func TestClusterValidateE2E(t *testing.T) {
	path := writeConfig(t, clusterNodeConfig(t, "http://127.0.0.1:1", testICP, "127.0.0.1:6390", "edge-a", ""))
	out, err := exec.Command(binPath, "validate", "--config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	mustContain(t, string(out), `cluster: node edge-a, redis redis://127.0.0.1:6390/0 (no password), key prefix "e2e:"`)

	b, _ := os.ReadFile(path)
	rewriteConfig(t, path, strings.Replace(string(b), "  node: edge-a\n", "  node: edge-a\n  password_file: redis.pass\n", 1))
	out, err = exec.Command(binPath, "validate", "--config", path).CombinedOutput()
	if err == nil {
		t.Fatalf("validate with a missing password file succeeded:\n%s", out)
	}
	mustContain(t, string(out), "cluster.password_file")
	mustContain(t, string(out), "redis.pass")

	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "redis.pass"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(binPath, "validate", "--config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("validate with a password file: %v\n%s", err, out)
	}
	mustContain(t, string(out), "(password from "+filepath.Join(filepath.Dir(path), "redis.pass")+")")
	if strings.Contains(string(out), "s3cret") {
		t.Errorf("validate shows the password:\n%s", out)
	}
}

// --- certificates, with Pebble ---

// clusterACME is Pebble and its DNS, pointing the test host at dnsIP,
// validating on the ports both nodes listen on: node a on 127.0.0.1 and
// node b on 127.0.0.2, each a separate process as two hosts would be.
type clusterACME struct {
	*acmeEnv
	redis *testredis.Server
}

func newClusterACME(t *testing.T, dnsIP string, redisUp bool) *clusterACME {
	t.Helper()
	pebbleBin, challBin := pebbleTools(t)
	env := &acmeEnv{pebbleBin: pebbleBin, challBin: challBin, dir: t.TempDir()}
	env.caFile, env.pebbleCert, env.pebbleKey, env.caPool = writeServerCA(t, env.dir)
	env.pebbleAddr, env.mgmtAddr = freePort(t), freePort(t)
	env.edgeHTTP, env.edgeHTTPS = freePort(t), freePort(t)
	env.origin = newHTMLOrigin(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Pebble and challtestsrv log:\n%s", env.pebbleLog())
		}
	})
	env.dnsAddr = freePort(t)
	env.startProc(t, exec.Command(env.challBin,
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "",
		"-dnsserver", env.dnsAddr, "-management", freePort(t),
		"-defaultIPv4", dnsIP, "-defaultIPv6", ""))
	c := &clusterACME{acmeEnv: env}
	if redisUp {
		c.redis = testredis.Start(t)
	} else {
		c.redis = testredis.New(t)
	}
	return c
}

// nodeAt writes node name's config, listening on ip at the ports Pebble
// validates on, with the cluster block and an admin listener.
func (c *clusterACME) nodeAt(t *testing.T, name, ip string) string {
	t.Helper()
	onIP := func(addr string) string { return net.JoinHostPort(ip, portOf(addr)) }
	yaml := tlsEdgeConfig(c.origin.URL, onIP(c.edgeHTTP), onIP(c.edgeHTTPS), fmt.Sprintf(`log:
  level: debug
tls:
  mode: acme
  email: ops@client.test
  ca: https://%s/dir
  ca_root: %s
  challenges: [http-01]
cluster:
  redis: redis://%s/0
  node: %s
  prefix: "e2e:"
`, c.pebbleAddr, c.caFile, c.redis.Addr(), name))
	return writeConfig(t, withAdmin(yaml, freePort(t)))
}

// startTLSNode starts a node and waits for its three listeners.
func startTLSNode(t *testing.T, path string) *edgeProc {
	t.Helper()
	e := startEdgeArgs(t, filepath.Dir(path), 3, []string{"serve", "--config", path})
	e.config = path
	return e
}

// servesHTTPS waits until e serves a page with the notice over HTTPS
// with a certificate Pebble issued.
func (c *clusterACME) servesHTTPS(t *testing.T, name string, e *edgeProc) {
	t.Helper()
	roots := c.pebbleRoot(t)
	waitFor(t, 90*time.Second, name+" to serve HTTPS with Pebble's certificate", func() bool {
		resp, body, err := tryHTTPSGet(e.Addr("https"), roots, "/page")
		return err == nil && resp.StatusCode == 200 && hasNotice(body)
	})
}

// TestClusterOneOrderE2E: two nodes started together for one host place
// one order with the CA between them, and both serve its certificate.
func TestClusterOneOrderE2E(t *testing.T) {
	c := newClusterACME(t, "127.0.0.1", true)
	c.startPebble(t)
	a := startTLSNode(t, c.nodeAt(t, "edge-a", "127.0.0.1"))
	b := startTLSNode(t, c.nodeAt(t, "edge-b", "127.0.0.2"))
	c.servesHTTPS(t, "edge-a", a)
	c.servesHTTPS(t, "edge-b", b)
	if got := strings.Count(c.pebbleLog(), "Added order "); got != 1 {
		t.Errorf("orders the CA received: %d; want 1", got)
	}
	obtained := strings.Count(a.Log(), `msg="certificate obtained"`) + strings.Count(b.Log(), `msg="certificate obtained"`)
	if obtained != 1 {
		t.Errorf("nodes that obtained the certificate: %d; want 1 (the other loads it from Redis)", obtained)
	}
}

// TestClusterChallengeOtherNodeE2E: node b is up but does not order (it
// started while Redis was down, so its attempt found no lock); node a
// orders, the host points at node b, and b answers the CA's challenge
// from what a put in Redis.
func TestClusterChallengeOtherNodeE2E(t *testing.T) {
	c := newClusterACME(t, "127.0.0.2", false)
	b := startTLSNode(t, c.nodeAt(t, "edge-b", "127.0.0.2"))
	waitLog(t, b, "unable to acquire lock", 60*time.Second)
	c.redis.Run()
	waitFor(t, 60*time.Second, "edge-b to reach Redis", func() bool {
		return strings.Contains(scrapeMetrics(t, b, filepath.Join(b.dir, "state")), `icpedge_cluster_up{client="site",node="edge-b"} 1`)
	})
	c.startPebble(t)
	a := startTLSNode(t, c.nodeAt(t, "edge-a", "127.0.0.1"))
	waitLog(t, a, `msg="certificate obtained" host=`+tlsTestHost, 90*time.Second)
	waitLog(t, b, `served key authentication`, 30*time.Second)
	if got := strings.Count(c.pebbleLog(), "Added order "); got != 1 {
		t.Errorf("orders the CA received: %d; want 1", got)
	}
	if strings.Contains(a.Log(), "served key authentication") {
		t.Error("edge-a answered a challenge; want edge-b alone: the host points at it")
	}
	if strings.Contains(b.Log(), `msg="obtaining certificate"`) {
		t.Error("edge-b placed an order; want edge-a's alone")
	}
	c.servesHTTPS(t, "edge-a", a)
}

// TestClusterCertsRedisDownE2E: with Redis killed, both nodes keep
// serving HTTPS with no failed request, and a node restarted while Redis
// is still down serves HTTPS from its mirror of the certificates.
func TestClusterCertsRedisDownE2E(t *testing.T) {
	c := newClusterACME(t, "127.0.0.1", true)
	c.startPebble(t)
	a := startTLSNode(t, c.nodeAt(t, "edge-a", "127.0.0.1"))
	bPath := c.nodeAt(t, "edge-b", "127.0.0.2")
	b := startTLSNode(t, bPath)
	c.servesHTTPS(t, "edge-a", a)
	c.servesHTTPS(t, "edge-b", b)
	roots := c.pebbleRoot(t)

	c.redis.Kill()
	for name, e := range map[string]*edgeProc{"edge-a": a, "edge-b": b} {
		waitFor(t, 60*time.Second, name+" to see Redis down", func() bool {
			return strings.Contains(scrapeMetrics(t, e, filepath.Join(e.dir, "state")), `icpedge_cluster_up{client="site",node="`+name+`"} 0`)
		})
		for i := range 20 {
			resp, body, err := tryHTTPSGet(e.Addr("https"), roots, "/page")
			if err != nil || resp.StatusCode != 200 || !hasNotice(body) {
				t.Fatalf("%s HTTPS request %d with Redis down: %v; want 200 with the notice", name, i, err)
			}
		}
	}

	// edge-b restarts while Redis is still down: its certificate comes
	// from the mirror in its state directory.
	b.stop()
	b2 := startTLSNode(t, bPath)
	waitLog(t, b2, "cluster joined while redis is unreachable", 30*time.Second)
	c.servesHTTPS(t, "edge-b restarted", b2)
	if strings.Contains(b2.Log(), `msg="obtaining certificate"`) {
		t.Error("edge-b ordered a certificate after restarting; want the mirrored one")
	}
}

// TestClusterConfigDirE2E: with --config-dir, each client joins its own
// cluster, and two clients under one prefix of one Redis are refused
// (they would take each other's purges): the second is skipped, naming
// the first.
func TestClusterConfigDirE2E(t *testing.T) {
	r := testredis.Start(t)
	origin, _ := reloadOrigin(t)
	root := t.TempDir()
	dir := filepath.Join(root, "sites")
	os.Mkdir(dir, 0o755)
	httpAddr := freePort(t)
	block := func(prefix string) string {
		return fmt.Sprintf("listen:\n  http: %s\n  https: \"\"\ntls:\n  mode: off\ncluster:\n  redis: redis://%s/0\n  node: edge-a\n  prefix: %q\n", httpAddr, r.Addr(), prefix)
	}
	file := func(host, state, prefix string) string {
		return fmt.Sprintf("hosts: [%s]\norigin: %s\nstate_dir: %s\nnotice:\n  icp: %s\n%s", host, origin.URL, filepath.Join(root, state), testICP, block(prefix))
	}
	rewriteConfig(t, filepath.Join(dir, "a.yaml"), file("a.example.test", "a", "icpedge:a:"))
	rewriteConfig(t, filepath.Join(dir, "b.yaml"), file("b.example.test", "b", "icpedge:b:"))
	rewriteConfig(t, filepath.Join(dir, "c.yaml"), file("c.example.test", "c", "icpedge:a:"))
	e := startEdgeArgs(t, dir, 2, []string{"serve", "--config-dir", dir,
		"--listen-http", httpAddr, "--listen-https", "",
		"--admin", "127.0.0.1:0", "--admin-token-file", filepath.Join(root, "admin.token")})
	mustContain(t, e.Log(), `msg="client skipped" client=c problem=`)
	mustContain(t, e.Log(), `is also client a's; expected one prefix per client`)

	e.dir = root // adminDo reads root/state/admin.token
	os.MkdirAll(filepath.Join(root, "state"), 0o700)
	tok, _ := os.ReadFile(filepath.Join(root, "admin.token"))
	os.WriteFile(filepath.Join(root, "state", "admin.token"), tok, 0o600)
	code, body := adminDo(t, e, "GET", "/cluster")
	if code != 200 || !strings.Contains(body, `"client": "a"`) || !strings.Contains(body, `"client": "b"`) || strings.Contains(body, `"client": "c"`) {
		t.Errorf("/cluster: %d %s; want clients a and b", code, body)
	}
}

// TestClusterAuditOneAtATimeE2E: two nodes audit themselves every
// second; the home page takes longer than that, so their audits would
// overlap: the one that finds the other holding the cluster's lock skips
// its round.
func TestClusterAuditOneAtATimeE2E(t *testing.T) {
	r := testredis.Start(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/" {
			// Slower than check.interval, so that audits overlap.
			select {
			case <-time.After(1500 * time.Millisecond):
			case <-req.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, "<!DOCTYPE html><html><head><title>p</title></head><body><p>home</p></body></html>")
	}))
	t.Cleanup(origin.Close)
	audit := "check:\n  interval: 1s\n  pages: 0\n  expect_ips: [127.0.0.1]\n  rdap_bootstrap: http://" + freePort(t) + "/dns.json\n"
	a := startClusterNode(t, writeConfig(t, clusterNodeConfig(t, origin.URL, testICP, r.Addr(), "edge-a", audit)))
	b := startClusterNode(t, writeConfig(t, clusterNodeConfig(t, origin.URL, testICP, r.Addr(), "edge-b", audit)))
	const skipped = `msg="self-audit skipped: another node of the cluster is running it"`
	waitFor(t, 90*time.Second, "a node to skip its audit while the other runs it", func() bool {
		return strings.Contains(a.Log(), skipped) || strings.Contains(b.Log(), skipped)
	})
	// The lock is released after each audit: the cluster keeps auditing.
	// Which node gets each round is not fixed, so only the cluster's
	// rounds are counted.
	done := func() int {
		return strings.Count(a.Log(), `msg="compliance audit done"`) + strings.Count(b.Log(), `msg="compliance audit done"`)
	}
	before := done()
	waitFor(t, 60*time.Second, "further audits after the skip", func() bool { return done() >= before+2 })
}
