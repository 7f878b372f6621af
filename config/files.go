package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// What each named file should hold, for messages.
const (
	expectRoots     = "a PEM file of one or more CA certificates (-----BEGIN CERTIFICATE-----)"
	expectCertChain = "a PEM file with the certificate chain, leaf first (-----BEGIN CERTIFICATE-----)"
	expectKey       = "a PEM file with the private key of the certificate in tls.cert_file"
	expectLogDir    = "a path in an existing directory that the user icpedge runs as can write to"
	expectToken     = "a regular file readable by the user icpedge runs as, or no file (one is created)"
	expectDir       = "a directory, or a path where one can be created"
)

// CheckFiles opens and parses every file the config names, as serve uses
// them: the PEM roots of origin_ca and tls.ca_root, the pair of
// tls.cert_file and tls.key_file (which must match), the directory of
// log.access_file, an existing admin.token_file, and state_dir and
// cache.dir where they exist. Like Load it reports every problem at once,
// each a *Problem pointing at the key's line.
//
// Load does not do this: it reads the config file alone, so that a config
// can be parsed and validated away from the edge that will run it.
// Permissions are judged for the user calling CheckFiles.
func (c *Config) CheckFiles() error {
	var probs []*Problem
	add := func(key, path, format string, args ...any) {
		probs = append(probs, &Problem{File: c.File, Line: c.Line(key), Key: key,
			Message: fmt.Sprintf("%q ", path) + fmt.Sprintf(format, args...)})
	}
	if c.OriginCA != "" {
		if msg := checkRoots(c.OriginCA); msg != "" {
			add("origin_ca", c.OriginCA, "%s; expected %s", msg, expectRoots)
		}
	}
	if c.TLS.Mode == "acme" && c.TLS.CARoot != "" {
		if msg := checkRoots(c.TLS.CARoot); msg != "" {
			add("tls.ca_root", c.TLS.CARoot, "%s; expected %s", msg, expectRoots)
		}
	}
	if c.TLS.Mode == "manual" && c.TLS.CertFile != "" && c.TLS.KeyFile != "" {
		certPEM, certMsg := readChain(c.TLS.CertFile)
		if certMsg != "" {
			add("tls.cert_file", c.TLS.CertFile, "%s; expected %s", certMsg, expectCertChain)
		}
		keyPEM, err := os.ReadFile(c.TLS.KeyFile)
		switch {
		case err != nil:
			add("tls.key_file", c.TLS.KeyFile, "can't be read (%s); expected %s", pathErr(err), expectKey)
		case certMsg == "":
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				add("tls.key_file", c.TLS.KeyFile, "%s; expected %s", keyProblem(err), expectKey)
			}
		}
	}
	if c.Log.AccessFile != "" {
		if msg := checkLogFile(c.Log.AccessFile); msg != "" {
			add("log.access_file", c.Log.AccessFile, "%s; expected %s", msg, expectLogDir)
		}
	}
	stateBad := false
	if fi, err := os.Stat(c.StateDir); err == nil && !fi.IsDir() {
		add("state_dir", c.StateDir, "is not a directory; expected %s", expectDir)
		stateBad = true
	}
	// A token file under a state_dir that is not a directory is that
	// problem again.
	underState := strings.HasPrefix(c.Admin.TokenFile, c.StateDir+string(filepath.Separator))
	if c.Admin.Listen != "" && c.Admin.TokenFile != "" && !(stateBad && underState) {
		if msg := checkToken(c.Admin.TokenFile); msg != "" {
			add("admin.token_file", c.Admin.TokenFile, "%s; expected %s", msg, expectToken)
		}
	}
	if c.Cache.Enabled && c.Cache.Dir != "" {
		if fi, err := os.Stat(c.Cache.Dir); err == nil && !fi.IsDir() {
			add("cache.dir", c.Cache.Dir, "is not a directory; expected %s", expectDir)
		}
	}
	return joinProblems(probs)
}

// Warnings lists settings that are valid but probably a mistake, each a
// *Problem: an admin listener other hosts can reach, and a tls.cert_file
// that has expired at now or does not cover every host. A tls.cert_file
// that can't be read is CheckFiles' to report, not a warning.
func (c *Config) Warnings(now time.Time) []*Problem {
	var out []*Problem
	add := func(key, format string, args ...any) {
		out = append(out, &Problem{File: c.File, Line: c.Line(key), Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if c.Admin.Listen != "" {
		host, _, err := net.SplitHostPort(c.Admin.Listen)
		switch {
		case err != nil:
		case host == "" || host == "0.0.0.0" || host == "::":
			add("admin.listen", "%q listens on every interface, so other hosts can reach the admin API (purge, metrics) with only the token to stop them; expected a loopback address, e.g. \"127.0.0.1:9080\"", c.Admin.Listen)
		case !isLoopback(strings.ToLower(host)):
			add("admin.listen", "%q is not a loopback address, so other hosts can reach the admin API (purge, metrics) with only the token to stop them; expected a loopback address, e.g. \"127.0.0.1:9080\"", c.Admin.Listen)
		}
	}
	if c.TLS.Mode == "manual" && c.TLS.CertFile != "" {
		if certPEM, msg := readChain(c.TLS.CertFile); msg == "" {
			leaf := leafOf(certPEM)
			var uncovered []string
			for _, h := range c.Hosts {
				if leaf.VerifyHostname(h) != nil {
					uncovered = append(uncovered, h)
				}
			}
			if len(uncovered) > 0 {
				add("tls.cert_file", "%q does not cover %s (it names %s); expected a certificate for every host, or browsers refuse those hosts", c.TLS.CertFile, strings.Join(uncovered, ", "), certNames(leaf))
			}
			if now.After(leaf.NotAfter) {
				add("tls.cert_file", "%q expired on %s; expected a current certificate, or browsers refuse it", c.TLS.CertFile, leaf.NotAfter.UTC().Format(time.DateOnly))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *Problem) int { return a.Line - b.Line })
	return out
}

// checkRoots says what is wrong with a PEM file of root certificates, or
// "".
func checkRoots(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "can't be read (" + pathErr(err) + ")"
	}
	n := 0
	for off := 0; ; {
		block, after := pem.Decode(data[off:])
		if block == nil {
			break
		}
		begin := off + max(bytes.Index(data[off:], []byte("-----BEGIN")), 0)
		off = len(data) - len(after)
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			line := 1 + bytes.Count(data[:begin], []byte("\n"))
			return fmt.Sprintf("has a certificate on line %d that does not parse (%v)", line, err)
		}
		n++
	}
	if n == 0 {
		return "holds no PEM certificate"
	}
	return ""
}

// readChain reads a certificate chain and says what is wrong with it, or
// "".
func readChain(path string) ([]byte, string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "can't be read (" + pathErr(err) + ")"
	}
	var certs int
	for rest := data; ; {
		block, after := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = after
		switch {
		case block.Type == "CERTIFICATE":
			if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				return nil, fmt.Sprintf("has certificate %d that does not parse (%v)", certs+1, err)
			}
			certs++
		case strings.Contains(block.Type, "PRIVATE KEY") && certs == 0:
			return nil, "holds a private key before any certificate (tls.cert_file and tls.key_file swapped?)"
		}
	}
	if certs == 0 {
		return nil, "holds no PEM certificate"
	}
	return data, ""
}

// leafOf returns the first certificate of a chain readChain accepted.
func leafOf(chain []byte) *x509.Certificate {
	for rest := chain; ; {
		block, after := pem.Decode(rest)
		if block == nil {
			return nil
		}
		rest = after
		if block.Type == "CERTIFICATE" {
			c, _ := x509.ParseCertificate(block.Bytes)
			return c
		}
	}
}

func certNames(c *x509.Certificate) string {
	names := slices.Clone(c.DNSNames)
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = []string{c.Subject.CommonName}
	}
	if len(names) == 0 {
		return "no host name"
	}
	return strings.Join(names, ", ")
}

// keyProblem words an error of tls.X509KeyPair about the key.
func keyProblem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "tls: ")
	switch {
	case strings.Contains(msg, "does not match"):
		return "is not the key of the certificate in tls.cert_file (" + msg + ")"
	case strings.Contains(msg, "failed to find any PEM data"):
		return "holds no PEM data"
	}
	return "holds no usable private key (" + msg + ")"
}

// checkLogFile says why the access log could not be opened for
// appending, or "". The file itself may be missing: serve creates it.
func checkLogFile(path string) string {
	dir := filepath.Dir(path)
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return "is not a regular file"
	case err == nil:
		if err := unix.Access(path, unix.W_OK); err != nil {
			return "is not writable (" + err.Error() + ")"
		}
		return ""
	case !errors.Is(err, fs.ErrNotExist):
		return "can't be reached (" + pathErr(err) + ")"
	}
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "is in " + dir + ", which does not exist"
	case err != nil:
		return "is in " + dir + ", which can't be reached (" + pathErr(err) + ")"
	case !di.IsDir():
		return "is in " + dir + ", which is not a directory"
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return "is in " + dir + ", where the file can't be created (" + err.Error() + ")"
	}
	return ""
}

// checkToken says why an existing admin token file can't be read, or "".
func checkToken(path string) string {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ""
	case err != nil:
		return "can't be reached (" + pathErr(err) + ")"
	case !fi.Mode().IsRegular():
		return "is not a regular file"
	}
	f, err := os.Open(path)
	if err != nil {
		return "can't be read (" + pathErr(err) + ")"
	}
	f.Close()
	return ""
}

// pathErr is the reason of a file error without the path, which the
// problem already shows.
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// joinProblems sorts problems by line and joins them, as Load does.
func joinProblems(probs []*Problem) error {
	if len(probs) == 0 {
		return nil
	}
	slices.SortStableFunc(probs, func(a, b *Problem) int { return a.Line - b.Line })
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p
	}
	return errors.Join(errs...)
}
