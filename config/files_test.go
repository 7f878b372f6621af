package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testPair writes a self-signed certificate for host, valid until
// notAfter, and its key into dir, and returns their PEM texts.
func testPair(t *testing.T, host string, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    notAfter.Add(-48 * time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	later := time.Now().Add(24 * time.Hour)
	cert, key := testPair(t, "icp.client.com", later)
	_, otherKey := testPair(t, "icp.client.com", later)
	write("cert.pem", cert)
	write("key.pem", key)
	write("other.key", otherKey)
	write("roots.pem", append([]byte("# the client's private CA\n"), cert...))
	write("garbage.pem", []byte("not PEM at all\n"))
	write("badcert.pem", append(append([]byte{}, cert...), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"...))
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("afile", []byte("x"))
	https := map[int]string{4: `  https: ":443"`}

	tests := []struct {
		name string
		data []byte
		want []string // each a whole problem line; none when the files are good
	}{
		{"good files", file(https, "origin_ca: roots.pem", "log:", "  access_file: access.log",
			"tls:", "  mode: manual", "  cert_file: cert.pem", "  key_file: key.pem", "state_dir: .", "admin:", "  token_file: roots.pem"), nil},
		{"missing origin_ca", file(nil, "origin_ca: missing.pem"),
			[]string{`site.yaml:7: origin_ca: "` + filepath.Join(dir, "missing.pem") + `" can't be read (no such file or directory); expected ` + expectRoots}},
		{"origin_ca without a certificate", file(nil, "origin_ca: garbage.pem"),
			[]string{`site.yaml:7: origin_ca: "` + filepath.Join(dir, "garbage.pem") + `" holds no PEM certificate; expected ` + expectRoots}},
		{"origin_ca with a broken certificate", file(nil, "origin_ca: badcert.pem"),
			[]string{`site.yaml:7: origin_ca: "` + filepath.Join(dir, "badcert.pem") + `" has a certificate on line ` + lineOfSecondBlock(cert) + ` that does not parse (`}},
		{"missing tls.ca_root", file(https, "tls:", "  ca_root: missing.pem"),
			[]string{`site.yaml:8: tls.ca_root: "` + filepath.Join(dir, "missing.pem") + `" can't be read (no such file or directory)`}},
		{"missing cert_file", file(https, "tls:", "  mode: manual", "  cert_file: missing.pem", "  key_file: key.pem"),
			[]string{`site.yaml:9: tls.cert_file: "` + filepath.Join(dir, "missing.pem") + `" can't be read (no such file or directory); expected ` + expectCertChain}},
		{"missing key_file", file(https, "tls:", "  mode: manual", "  cert_file: cert.pem", "  key_file: missing.key"),
			[]string{`site.yaml:10: tls.key_file: "` + filepath.Join(dir, "missing.key") + `" can't be read (no such file or directory); expected ` + expectKey}},
		{"key of another certificate", file(https, "tls:", "  mode: manual", "  cert_file: cert.pem", "  key_file: other.key"),
			[]string{`site.yaml:10: tls.key_file: "` + filepath.Join(dir, "other.key") + `" is not the key of the certificate in tls.cert_file (private key does not match public key); expected ` + expectKey}},
		{"pair swapped", file(https, "tls:", "  mode: manual", "  cert_file: key.pem", "  key_file: cert.pem"),
			[]string{`site.yaml:9: tls.cert_file: "` + filepath.Join(dir, "key.pem") + `" holds a private key before any certificate (tls.cert_file and tls.key_file swapped?)`}},
		{"access log in a missing directory", file(nil, "log:", "  access_file: nowhere/access.log"),
			[]string{`site.yaml:8: log.access_file: "` + filepath.Join(dir, "nowhere/access.log") + `" is in ` + filepath.Join(dir, "nowhere") + `, which does not exist; expected ` + expectLogDir}},
		{"access log is a directory", file(nil, "log:", "  access_file: adir"),
			[]string{`site.yaml:8: log.access_file: "` + filepath.Join(dir, "adir") + `" is not a regular file`}},
		{"access log under a file", file(nil, "log:", "  access_file: afile/access.log"),
			[]string{`site.yaml:8: log.access_file: "` + filepath.Join(dir, "afile/access.log") + `" can't be reached (not a directory)`}},
		{"token file is a directory", file(nil, "admin:", "  token_file: adir"),
			[]string{`site.yaml:8: admin.token_file: "` + filepath.Join(dir, "adir") + `" is not a regular file; expected ` + expectToken}},
		{"token file of an instance without admin", file(nil, "admin:", `  listen: ""`, "  token_file: adir"), nil},
		{"state_dir is a file", file(nil, "state_dir: afile"),
			[]string{`site.yaml:7: state_dir: "` + filepath.Join(dir, "afile") + `" is not a directory; expected ` + expectDir}},
		{"several at once, by line", file(nil, "log:", "  access_file: nowhere/access.log", "origin_ca: garbage.pem"),
			[]string{`site.yaml:8: log.access_file: `, `site.yaml:9: origin_ca: `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(write("site.yaml", tt.data))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			err = c.CheckFiles()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckFiles: got %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckFiles: got nil; want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d problems:\n%s\nwant %d", len(lines), err, len(tt.want))
			}
			for i, want := range tt.want {
				got := strings.TrimPrefix(lines[i], dir+string(filepath.Separator))
				if !strings.HasPrefix(got, want) {
					t.Errorf("problem %d:\ngot  %s\nwant %s…", i, got, want)
				}
			}
			var p *Problem
			if !errors.As(err, &p) || p.Key == "" {
				t.Errorf("got %T; want a *Problem with its key", err)
			}
		})
	}
}

// lineOfSecondBlock is the line on which a second PEM block starts when
// it follows cert and a comment line.
func lineOfSecondBlock(cert []byte) string {
	return strconv.Itoa(strings.Count(string(cert), "\n") + 1)
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	good, goodKey := testPair(t, "icp.client.com", now.Add(24*time.Hour))
	other, otherKey := testPair(t, "www.other.com", now.Add(24*time.Hour))
	expired, expiredKey := testPair(t, "icp.client.com", now.Add(-time.Hour))
	for name, data := range map[string][]byte{"good.pem": good, "good.key": goodKey, "other.pem": other,
		"other.key": otherKey, "expired.pem": expired, "expired.key": expiredKey} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	manual := func(name string) []byte {
		return file(map[int]string{4: `  https: ":443"`}, "admin:", `  listen: "127.0.0.1:9080"`,
			"tls:", "  mode: manual", "  cert_file: "+name+".pem", "  key_file: "+name+".key")
	}
	tests := []struct {
		name string
		data []byte
		want string // "" for none
	}{
		{"default admin.listen", file(nil), ""},
		{"loopback", file(nil, "admin:", `  listen: "127.0.0.1:9081"`), ""},
		{"loopback v6", file(nil, "admin:", `  listen: "[::1]:9081"`), ""},
		{"localhost", file(nil, "admin:", `  listen: "localhost:9081"`), ""},
		{"off", file(nil, "admin:", `  listen: ""`), ""},
		{"every interface", file(nil, "admin:", `  listen: ":9081"`),
			`site.yaml:8: admin.listen: ":9081" listens on every interface, so other hosts can reach the admin API (purge, metrics) with only the token to stop them; expected a loopback address, e.g. "127.0.0.1:9080"`},
		{"every v4 interface", file(nil, "admin:", `  listen: "0.0.0.0:9081"`), `site.yaml:8: admin.listen: "0.0.0.0:9081" listens on every interface`},
		{"public address", file(nil, "admin:", `  listen: "203.0.113.7:9081"`), `site.yaml:8: admin.listen: "203.0.113.7:9081" is not a loopback address`},
		{"certificate for the hosts", manual("good"), ""},
		{"certificate for another host", manual("other"),
			`site.yaml:11: tls.cert_file: "` + filepath.Join(dir, "other.pem") + `" does not cover icp.client.com (it names www.other.com); expected a certificate for every host`},
		{"expired certificate", manual("expired"),
			`site.yaml:11: tls.cert_file: "` + filepath.Join(dir, "expired.pem") + `" expired on ` + now.Add(-time.Hour).UTC().Format(time.DateOnly)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "site.yaml")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			ws := c.Warnings(now)
			switch {
			case tt.want == "" && len(ws) > 0:
				t.Fatalf("got %q; want no warning", ws)
			case tt.want == "":
			case len(ws) != 1:
				t.Fatalf("got %d warnings %q; want 1", len(ws), ws)
			case !strings.HasPrefix(strings.TrimPrefix(ws[0].Error(), dir+string(filepath.Separator)), tt.want):
				t.Errorf("got  %s\nwant %s…", ws[0], tt.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	c, err := Parse("site.yaml", file(nil, "log:", "  level: debug", "  access_file: a.log"))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"hosts": 1, "notice.icp": 6, "log": 7, "log.access_file": 9, "origin_ca": 1} {
		if got := c.Line(key); got != want {
			t.Errorf("Line(%q) = %d; want %d", key, got, want)
		}
	}
	if got := (&Config{}).Line("hosts"); got != 1 {
		t.Errorf("Line of a Config not from a file = %d; want 1", got)
	}
}
