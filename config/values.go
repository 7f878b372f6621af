package config

import (
	"encoding/base64"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// hostName checks a DNS host name and returns it lower-case in ASCII form
// (internationalised names are converted to their xn-- form, which is what
// arrives in the Host header). A non-empty reason says why s was rejected.
// Single-label names such as "localhost" are allowed; IP addresses are not
// host names.
func hostName(s string) (host, reason string) {
	switch {
	case s == "":
		return "", "empty"
	case strings.Contains(s, "://"):
		return "", "has a scheme"
	case strings.ContainsAny(s, "/?#"):
		return "", "has a path"
	case strings.Contains(s, "*"):
		return "", "has a wildcard"
	case strings.ContainsAny(s, " \t"):
		return "", "has a space"
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return "", "is an IP address"
	}
	if strings.Contains(s, ":") {
		return "", "has a port"
	}
	if !isASCII(s) {
		a, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return "", "is not a valid internationalised name"
		}
		s = a
	}
	s = strings.ToLower(s)
	if strings.HasSuffix(s, ".") {
		return "", "ends with a dot"
	}
	if len(s) > 253 {
		return "", "is longer than 253 characters"
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		switch {
		case l == "":
			return "", "has an empty label"
		case len(l) > 63:
			return "", "has a label longer than 63 characters"
		case l[0] == '-' || l[len(l)-1] == '-':
			return "", "has a label that starts or ends with a hyphen"
		}
		for _, c := range []byte(l) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", "has the character " + strconv.QuoteRune(rune(c))
			}
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		return "", "ends in a numeric label"
	}
	return s, ""
}

// hostOrIP accepts a host name or an IP address (without brackets or zone).
func hostOrIP(s string) (string, string) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.String(), ""
	}
	return hostName(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// listenAddr checks a host:port or :port address for net.Listen. Ports are
// numeric, 0 to 65535; port 0 lets the kernel pick a free port, which tests
// use. The host may be empty (all interfaces), an IP address or a host
// name.
func listenAddr(s string) (reason string) {
	if !strings.Contains(s, ":") {
		return "no port"
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "not host:port"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "port " + strconv.Quote(port) + " is not 0-65535"
	}
	if host == "" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if _, r := hostName(host); r != "" {
		return "host " + r
	}
	return ""
}

// sameSocket reports whether two valid listen addresses would bind the same
// port on overlapping interfaces.
func sameSocket(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	wildcard := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wildcard(ha) || wildcard(hb)
}

// isLoopback reports whether host names this machine: localhost, or a
// loopback IP address.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// httpURL parses an absolute http(s) URL with a host and no user info,
// query or fragment, and returns it with the host lower-cased.
func httpURL(s string) (*url.URL, string) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, "does not parse"
	case u.Scheme == "":
		return nil, "has no scheme"
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, "scheme " + u.Scheme
	case u.Opaque != "" || u.Host == "":
		return nil, "has no host"
	case u.User != nil:
		return nil, "has user info"
	}
	if r := urlRest(u, s); r != "" {
		return nil, r
	}
	u.Host = strings.ToLower(u.Host)
	return u, ""
}

// urlRest checks what every URL of a config shares after its scheme and
// user info, given the text s it was parsed from: no query or fragment, a
// host name or IP address, and a port of 1-65535 if any. It returns what
// is wrong, or "".
func urlRest(u *url.URL, s string) string {
	switch {
	case u.RawQuery != "" || u.ForceQuery:
		return "has a query"
	case u.Fragment != "" || strings.HasSuffix(s, "#"):
		return "has a fragment"
	}
	if _, r := hostOrIP(u.Hostname()); r != "" {
		return "host " + r
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return "port " + strconv.Quote(p) + " is not 1-65535"
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "has an empty port"
	}
	return ""
}

// durationRE splits an optional leading day count from the Go duration
// that follows it.
var durationRE = regexp.MustCompile(`^([0-9]+)d(.*)$`)

// maxDays keeps days*24h inside time.Duration.
const maxDays = int64(1<<63-1) / int64(24*time.Hour)

// parseDuration accepts Go durations ("90s", "1h30m") with an optional
// leading day count ("7d", "1d12h"). Negative durations are rejected.
func parseDuration(s string) (time.Duration, bool) {
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, false
	}
	var days time.Duration
	if m := durationRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > maxDays {
			return 0, false
		}
		days = time.Duration(n) * 24 * time.Hour
		s = m[2]
		if s == "" {
			return days, true
		}
		if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
			return 0, false
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || days+d < days {
		return 0, false
	}
	return days + d, true
}

// sizeRE is a whole number with an optional unit.
var sizeRE = regexp.MustCompile(`^([0-9]+) ?([A-Za-z]*)$`)

// sizeUnits are the units a size may carry: decimal KB, MB, GB and binary
// KiB, MiB, GiB (IEC 80000-13).
var sizeUnits = map[string]int64{
	"":    1,
	"B":   1,
	"KB":  1000,
	"MB":  1000 * 1000,
	"GB":  1000 * 1000 * 1000,
	"KiB": 1 << 10,
	"MiB": 1 << 20,
	"GiB": 1 << 30,
}

// ParseSize parses a size the way the config file writes one: a whole
// number of bytes, or a whole number with KB, MB, GB (powers of 1000) or
// KiB, MiB, GiB (powers of 1024), e.g. 64MiB. For flags that set what a
// key would.
func ParseSize(s string) (int64, bool) { return parseSize(s) }

// FormatSize writes a byte count the way the config file would, in the
// largest binary unit that divides it: the inverse of ParseSize.
func FormatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// parseSize parses a byte count such as 1048576, 64MiB or 1 GB.
func parseSize(s string) (int64, bool) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	unit, ok := sizeUnits[m[2]]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > (1<<63-1)/unit {
		return 0, false
	}
	return n * unit, true
}

// isEmail accepts a bare address such as ops@client.com, without a display
// name or angle brackets.
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// isBase64URL reports whether s is non-empty base64url (RFC 4648 §5),
// padded or not. RFC 8555 §7.3.4 gives EAB keys in this alphabet.
func isBase64URL(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	return err == nil && len(b) > 0
}
