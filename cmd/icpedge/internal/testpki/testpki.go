// Package testpki makes the self-signed certificates the edge's tests
// give it as manual TLS pairs: one key per test binary, and for each host
// and serial the same certificate every time, so that a test can tell
// which pair an edge serves.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// key is the one key every certificate is made for.
var key = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

var ders sync.Map // "host/serial" → DER

// der is the self-signed certificate for host with serial, in DER.
func der(t testing.TB, host string, serial int64) []byte {
	t.Helper()
	k := fmt.Sprintf("%s/%d", host, serial)
	if der, ok := ders.Load(k); ok {
		return der.([]byte)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key().PublicKey, key())
	if err != nil {
		t.Fatal(err)
	}
	actual, _ := ders.LoadOrStore(k, der)
	return actual.([]byte)
}

// Cert is the self-signed certificate for host with serial, parsed.
func Cert(t testing.TB, host string, serial int64) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der(t, host, serial))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// WritePair writes the pair for host and serial into dir as cert.pem and
// key.pem.
func WritePair(t testing.TB, dir, host string, serial int64) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	WritePairTo(t, certFile, keyFile, host, serial)
	return certFile, keyFile
}

// WritePairTo replaces the files the way an operator's tooling would:
// write beside, then rename over.
func WritePairTo(t testing.TB, certFile, keyFile, host string, serial int64) {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(key())
	if err != nil {
		t.Fatal(err)
	}
	write := func(path string, block *pem.Block) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(keyFile, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	write(certFile, &pem.Block{Type: "CERTIFICATE", Bytes: der(t, host, serial)})
}
