package cluster

// Two edge nodes obtaining certificates from Pebble through one Redis.
//
// Each node is a separate process (this test binary, re-executed with
// nodeEnv set; see TestMain), as two hosts would be: certmagic keeps the
// challenges it presents in package-level memory, so two nodes in one
// process would answer each other's challenges without ever reading the
// shared storage, and the test would prove nothing about it.
//
// The nodes listen on two loopback addresses (127.0.0.1 and 127.0.0.2) at
// the same ports, the ones Pebble validates on; challtestsrv's DNS points
// the certificate's name at one of them.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// nodeEnv, when set, makes the test binary run one edge node (see
// runNode) instead of the tests. Its value is the node's nodeSpec as JSON.
const nodeEnv = "ICPEDGE_CLUSTER_TEST_NODE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(nodeEnv); spec != "" {
		os.Exit(runNode(spec))
	}
	os.Exit(m.Run())
}

const (
	ipA = "127.0.0.1"
	ipB = "127.0.0.2"

	// acmeWait bounds a wait on an ACME exchange: an order, its
	// validation and issuance take a few seconds on an idle machine.
	acmeWait = 120 * time.Second
)

// TestClusterOneOrderForTwoNodes: two nodes asked at the same time for a
// certificate for the same name place one order with the CA between
// them, and both serve the certificate it issued.
func TestClusterOneOrderForTwoNodes(t *testing.T) {
	const name = "icp.client.test"
	r := startRedis(t)
	env := startACME(t, ipA)
	a, b := env.startNodes(t, r, "http-01")

	// "At the same time", made certain: the test holds certmagic's
	// issuance lock for the name until both nodes are waiting for it.
	// Each logs "acquiring lock" after finding no certificate in storage,
	// so both are past the point where they could have found the other's.
	gate := openNode(t, r, "gate", "", nil)
	lock := "issue_cert_" + name
	if err := gate.Storage().Lock(context.Background(), lock); err != nil {
		t.Fatal(err)
	}
	a.send(t, "obtain "+name)
	b.send(t, "obtain "+name)
	for _, n := range []*nodeProc{a, b} {
		n.waitLine(t, "waiting for the issuance lock", waitFor, func(l logLine) bool {
			return l.Msg == "acquiring lock" && l.Identifier == name
		})
	}
	if err := gate.Storage().Unlock(context.Background(), lock); err != nil {
		t.Fatal(err)
	}
	okA, okB := a.waitObtain(t, name), b.waitObtain(t, name)

	// Pebble logs an order and an issuance before answering for them;
	// its output reaches the test through a pipe, maybe later than the
	// nodes' lines.
	env.waitLog(t, "Added order ")
	env.waitLog(t, "Issued certificate serial ")
	if got := env.countLog("Added order "); got != 1 {
		t.Errorf("orders the CA received: %d; want 1", got)
	}
	if got := env.countLog("Issued certificate serial "); got != 1 {
		t.Errorf("certificates the CA issued: %d; want 1", got)
	}
	if !okA || !okB {
		t.Fatalf("obtained: node a %v, node b %v; want both", okA, okB)
	}
	// One node ordered; the other, once it had the lock, found the
	// certificate in the shared storage.
	ordered := a.count("obtaining certificate", name) + b.count("obtaining certificate", name)
	found := a.count("certificate already exists in storage", name) + b.count("certificate already exists in storage", name)
	if ordered != 1 || found != 1 {
		t.Errorf("nodes that ordered: %d, that found the certificate in storage: %d; want 1 and 1", ordered, found)
	}

	roots := env.issuedRoots(t)
	certA := servedCert(t, ipA, env.tlsPort, name, roots)
	certB := servedCert(t, ipB, env.tlsPort, name, roots)
	if !certA.Equal(certB) {
		t.Errorf("node a serves serial %s, node b serial %s; want the same certificate", certA.SerialNumber, certB.SerialNumber)
	}
}

// TestClusterChallengeAnsweredByOtherNode: node a orders a certificate;
// the name points at node b, which never saw the order, and b answers
// the CA's challenge from what a put in the shared storage.
func TestClusterChallengeAnsweredByOtherNode(t *testing.T) {
	for _, tc := range []struct {
		challenge, served, pebbleSays string
	}{
		{"http-01", "served key authentication", "Attempting to validate w/ HTTP: http://icp.client.test:"},
		{"tls-alpn-01", "served key authentication certificate", "set VALID by completed challenge"},
	} {
		t.Run(tc.challenge, func(t *testing.T) {
			const name = "icp.client.test"
			r := startRedis(t)
			env := startACME(t, ipB)
			a, b := env.startNodes(t, r, tc.challenge)

			a.send(t, "obtain "+name)
			if !a.waitObtain(t, name) {
				t.Fatalf("node a did not obtain %s", name)
			}

			env.waitLog(t, tc.pebbleSays)
			env.waitLog(t, "set VALID by completed challenge")
			if got := env.countLog("Added order "); got != 1 {
				t.Errorf("orders the CA received: %d; want 1", got)
			}
			answered := func(l logLine) bool {
				return l.Msg == tc.served && l.Challenge == tc.challenge && (l.Identifier == name || l.ServerName == name)
			}
			// b logs its answer after sending it: the line may come
			// after a's.
			b.waitLine(t, "node b answers the "+tc.challenge+" challenge", waitFor, answered)
			if n := b.countFunc(func(l logLine) bool { return answered(l) && !l.Distributed }); n != 0 {
				t.Errorf("node b answered %d challenges from its own memory; want all from the shared storage", n)
			}
			if n := a.countFunc(answered); n != 0 {
				t.Errorf("node a answered %d challenges; want none: the name points at node b", n)
			}
			if n := b.count("obtaining certificate", name); n != 0 {
				t.Errorf("node b started %d orders; want none", n)
			}
			servedCert(t, ipA, env.tlsPort, name, env.issuedRoots(t))
		})
	}
}

// --- the ACME environment ---

// acmeEnv is Pebble and challtestsrv's DNS, on loopback, validating
// challenges on httpPort and tlsPort of whatever address the DNS gives.
type acmeEnv struct {
	dir               string
	caFile            string         // signs Pebble's own HTTPS certificate
	caPool            *x509.CertPool // the same
	dirURL            string         // the ACME directory
	mgmtAddr          string
	dnsAddr           string
	httpPort, tlsPort int
	lnHTTP, lnTLS     map[string]*net.TCPListener // the nodes' listeners, by address

	mu   sync.Mutex
	plog strings.Builder
}

// startACME starts challtestsrv's DNS answering ip for every name, and
// Pebble, and takes the ports the nodes will answer challenges on.
func startACME(t *testing.T, ip string) *acmeEnv {
	t.Helper()
	pebbleBin, challBin := findTool(t, "pebble"), findTool(t, "pebble-challtestsrv")
	env := &acmeEnv{dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Pebble and challtestsrv log:\n%s", env.log())
		}
	})
	env.lnHTTP, env.httpPort = listenPair(t)
	env.lnTLS, env.tlsPort = listenPair(t)

	env.dnsAddr = freeAddr(t, "udp")
	env.startProc(t, exec.Command(challBin,
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "",
		"-dnsserver", env.dnsAddr, "-management", freeAddr(t, "tcp"),
		"-defaultIPv4", ip, "-defaultIPv6", ""))
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", env.dnsAddr)
	}}
	waitUntil(t, "challtestsrv's DNS answers", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		addrs, err := resolver.LookupHost(ctx, "probe.test")
		return err == nil && len(addrs) == 1 && addrs[0] == ip
	})

	var certFile, keyFile string
	env.caFile, certFile, keyFile, env.caPool = writeLocalhostCA(t, env.dir)
	apiAddr := freeAddr(t, "tcp")
	env.mgmtAddr = freeAddr(t, "tcp")
	env.dirURL = "https://" + apiAddr + "/dir"
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":           apiAddr,
		"managementListenAddress": env.mgmtAddr,
		"certificate":             certFile,
		"privateKey":              keyFile,
		"httpPort":                env.httpPort,
		"tlsPort":                 env.tlsPort,
		"ocspResponderURL":        "",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
	}})
	confFile := filepath.Join(env.dir, "pebble.json")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pebbleBin, "-config", confFile, "-dnsserver", env.dnsAddr)
	// No random validation delays, no nonces rejected at random, and a
	// new authorization for every order, so each order is validated.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	env.startProc(t, cmd)
	c := env.client()
	waitUntil(t, "Pebble serves its directory", func() bool {
		resp, err := c.Get(env.dirURL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return env
}

func (env *acmeEnv) client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.caPool}}}
}

// startProc runs cmd until the test ends, collecting its output; it is
// killed by its own PID, nothing else.
func (env *acmeEnv) startProc(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = env, env
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// Write collects Pebble's and challtestsrv's output.
func (env *acmeEnv) Write(p []byte) (int, error) {
	env.mu.Lock()
	defer env.mu.Unlock()
	return env.plog.Write(p)
}

func (env *acmeEnv) log() string {
	env.mu.Lock()
	defer env.mu.Unlock()
	return env.plog.String()
}

// waitLog waits until Pebble or challtestsrv has logged s.
func (env *acmeEnv) waitLog(t *testing.T, s string) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("Pebble logs %q", s), func() bool { return env.countLog(s) > 0 })
}

// countLog counts the lines of Pebble's log containing s.
func (env *acmeEnv) countLog(s string) int { return strings.Count(env.log(), s) }

// issuedRoots is the root Pebble signs certificates with; a new one each
// time it starts.
func (env *acmeEnv) issuedRoots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := env.client().Get("https://" + env.mgmtAddr + "/roots/0")
	if err != nil {
		t.Fatalf("fetching Pebble's root: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	pool := x509.NewCertPool()
	if resp.StatusCode != http.StatusOK || !pool.AppendCertsFromPEM(data) {
		t.Fatalf("Pebble's root: got %d %q; want a PEM certificate", resp.StatusCode, data)
	}
	return pool
}

// startNodes starts node a on ipA and node b on ipB, sharing r, both
// offering only challenge.
func (env *acmeEnv) startNodes(t *testing.T, r *redisServer, challenge string) (a, b *nodeProc) {
	t.Helper()
	a = env.startNode(t, r, "a", ipA, challenge)
	b = env.startNode(t, r, "b", ipB, challenge)
	return a, b
}

func (env *acmeEnv) startNode(t *testing.T, r *redisServer, name, ip, challenge string) *nodeProc {
	t.Helper()
	spec, _ := json.Marshal(nodeSpec{
		Name: name, Redis: r.url().String(), Prefix: "test:", Dir: t.TempDir(),
		CA: env.dirURL, CARoot: env.caFile, Challenge: challenge,
		IP: ip, HTTPPort: env.httpPort, TLSPort: env.tlsPort,
	})
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(spec))
	for _, ln := range []*net.TCPListener{env.lnHTTP[ip], env.lnTLS[ip]} {
		f, err := ln.File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, f) // fd 3: HTTP, fd 4: TLS
	}
	n := &nodeProc{name: name, cmd: cmd, exited: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = n
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node %s: %v", name, err)
	}
	// The node process has the sockets now; the test's copies go.
	env.lnHTTP[ip].Close()
	env.lnTLS[ip].Close()
	n.stdin = stdin
	go func() {
		defer close(n.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			n.Write(append(sc.Bytes(), '\n'))
		}
		cmd.Wait()
	}()
	t.Cleanup(func() { n.stop(t) })
	n.waitLine(t, "node "+name+" is ready", waitFor, func(l logLine) bool { return l.Msg == "node ready" })
	return n
}

// listenPair listens on ipA and ipB at one port, for the two nodes.
func listenPair(t *testing.T) (map[string]*net.TCPListener, int) {
	t.Helper()
	for range 50 {
		la, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(ipA)})
		if err != nil {
			t.Fatal(err)
		}
		port := la.Addr().(*net.TCPAddr).Port
		lb, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(ipB), Port: port})
		if err != nil {
			la.Close() // taken on ipB; try another
			continue
		}
		return map[string]*net.TCPListener{ipA: la, ipB: lb}, port
	}
	t.Fatalf("no port free on both %s and %s", ipA, ipB)
	return nil, 0
}

// freeAddr is a loopback address with a port free for network, for a
// server the test starts.
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// findTool finds a Pebble binary on PATH or in $(go env GOPATH)/bin.
func findTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(dir, "bin", name); fileExists(p) {
				return p
			}
		}
	}
	t.Fatalf("%s not found on PATH or in $(go env GOPATH)/bin; install it with: go install github.com/letsencrypt/pebble/v2/cmd/%s@v2.10.3", name, name)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// writeLocalhostCA writes a CA, and a certificate it signs for 127.0.0.1
// with its key, for Pebble's own HTTPS listeners.
func writeLocalhostCA(t *testing.T, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cluster test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{
		caFile: {Type: "CERTIFICATE", Bytes: caDER}, certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, certFile, keyFile, pool
}

// servedCert is the certificate a node at ip serves for name, verified
// against roots.
func servedCert(t *testing.T, ip string, port int, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{ServerName: name, RootCAs: roots}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("TLS to the node at %s for %s: %v", ip, name, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
}

// --- a node process, seen from the test ---

// nodeProc is a node process the test started; it logs JSON lines.
type nodeProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}

	mu    sync.Mutex
	raw   strings.Builder
	lines []logLine
}

// logLine holds the fields of a node's log lines the tests look at.
type logLine struct {
	Msg         string `json:"msg"`
	Identifier  string `json:"identifier"`
	ServerName  string `json:"server_name"`
	Challenge   string `json:"challenge"`
	Distributed bool   `json:"distributed"`
	Err         string `json:"error"`
}

// Write takes the node's output, stdout by lines and stderr as it comes.
func (n *nodeProc) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.raw.Write(p)
	var l logLine
	if json.Unmarshal(p, &l) == nil && l.Msg != "" {
		n.lines = append(n.lines, l)
	}
	return len(p), nil
}

func (n *nodeProc) countFunc(match func(logLine) bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, l := range n.lines {
		if match(l) {
			c++
		}
	}
	return c
}

func (n *nodeProc) count(msg, identifier string) int {
	return n.countFunc(func(l logLine) bool { return l.Msg == msg && l.Identifier == identifier })
}

// waitLine waits until the node has logged a line matching match.
func (n *nodeProc) waitLine(t *testing.T, what string, limit time.Duration, match func(logLine) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	wait := time.Millisecond
	for n.countFunc(match) == 0 {
		select {
		case <-n.exited:
			t.Fatalf("node %s exited while waiting for: %s", n.name, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for node %s: %s", limit, n.name, what)
		}
		time.Sleep(wait) // polling the log, not waiting for a goroutine
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// waitObtain waits until the node has tried to obtain a certificate for
// name, and reports whether it did.
func (n *nodeProc) waitObtain(t *testing.T, name string) bool {
	t.Helper()
	n.waitLine(t, "obtaining "+name+" ends", acmeWait, func(l logLine) bool {
		return (l.Msg == "obtained" || l.Msg == "not obtained") && l.Identifier == name
	})
	return n.count("not obtained", name) == 0
}

func (n *nodeProc) send(t *testing.T, cmd string) {
	t.Helper()
	if _, err := io.WriteString(n.stdin, cmd+"\n"); err != nil {
		t.Fatalf("node %s: %v", n.name, err)
	}
}

// stop closes the node's input, which makes it close its cluster node
// and exit; it is killed, by its PID, if it has not exited in time.
func (n *nodeProc) stop(t *testing.T) {
	n.stdin.Close()
	select {
	case <-n.exited:
	case <-time.After(waitFor):
		n.cmd.Process.Kill()
		<-n.exited
		t.Errorf("node %s did not exit after its input closed; killed", n.name)
	}
	if t.Failed() {
		n.mu.Lock()
		t.Logf("node %s log:\n%s", n.name, n.raw.String())
		n.mu.Unlock()
	}
}

// --- a node process, from the inside ---

// nodeSpec is what a node process is told through nodeEnv. Its HTTP and
// TLS listeners, on IP, are file descriptors 3 and 4.
type nodeSpec struct {
	Name, Redis, Prefix, Dir string
	CA, CARoot, Challenge    string
	IP                       string
	HTTPPort, TLSPort        int
}

// runNode is one edge node as far as certificates go: a cluster node on
// Redis, certmagic with the cluster's storage, an HTTP listener answering
// HTTP-01 challenges and a TLS listener answering TLS-ALPN-01 challenges
// and serving the certificates. It logs JSON lines on its standard
// output, obeys "obtain NAME" lines on its standard input, and exits when
// that closes.
func runNode(specJSON string) int {
	var spec nodeSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "node spec:", err)
		return 2
	}
	out := &lockedWriter{w: os.Stdout}
	zl := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(out), zap.DebugLevel))
	fail := func(what string, err error) int {
		zl.Error(what, zap.Error(err))
		return 1
	}
	LogTo(slog.New(slog.NewJSONHandler(out, nil)))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u, err := url.Parse(spec.Redis)
	if err != nil {
		return fail("redis url", err)
	}
	node, err := Open(ctx, Options{
		URL: u, Node: spec.Name, Prefix: spec.Prefix, Dir: spec.Dir,
		Logger: slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		return fail("cluster open", err)
	}
	defer node.Close()

	pemRoot, err := os.ReadFile(spec.CARoot)
	if err != nil {
		return fail("ca root", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemRoot)
	var magic *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		Logger:           zl,
	})
	defer cache.Stop()
	magic = certmagic.New(cache, certmagic.Config{Storage: node.Storage(), Logger: zl})
	issuer := certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA: spec.CA, Email: "ops@client.test", Agreed: true, TrustedRoots: roots,
		DisableHTTPChallenge:    spec.Challenge != "http-01",
		DisableTLSALPNChallenge: spec.Challenge != "tls-alpn-01",
		// The solvers find these ports taken by the listeners below, and
		// leave the challenges to them, as in the edge.
		ListenHost: spec.IP, AltHTTPPort: spec.HTTPPort, AltTLSALPNPort: spec.TLSPort,
		Logger: zl,
	})
	magic.Issuers = []certmagic.Issuer{issuer}

	lnHTTP, err := net.FileListener(os.NewFile(3, "http"))
	if err != nil {
		return fail("http listener", err)
	}
	lnTLS, err := net.FileListener(os.NewFile(4, "tls"))
	if err != nil {
		return fail("tls listener", err)
	}
	httpSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !issuer.HandleHTTPChallenge(w, r) {
			http.NotFound(w, r)
		}
	})}
	tlsConf := magic.TLSConfig()
	tlsConf.NextProtos = append([]string{"http/1.1"}, tlsConf.NextProtos...)
	tlsSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, spec.Name)
	})}
	go httpSrv.Serve(lnHTTP)
	go tlsSrv.Serve(tls.NewListener(lnTLS, tlsConf))
	defer httpSrv.Close()
	defer tlsSrv.Close()

	zl.Info("node ready")
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // ends the obtains still running when input closes
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		name, ok := strings.CutPrefix(sc.Text(), "obtain ")
		if !ok {
			return fail("command", errors.New("unknown command "+sc.Text()))
		}
		wg.Go(func() {
			if err := magic.ManageSync(ctx, []string{name}); err != nil {
				zl.Error("not obtained", zap.String("identifier", name), zap.Error(err))
				return
			}
			zl.Info("obtained", zap.String("identifier", name))
		})
	}
	return 0
}

// lockedWriter serialises the writes of the node's loggers, so that each
// JSON line arrives whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
