package config

import (
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// nameRE is what a client's name may be: it names the config file, the
// systemd instance (icpedge@NAME) and the state and cache directories.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidName reports whether name may name a client: lower-case letters,
// digits, - and _, starting with a letter or digit, at most 63 long.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Starter is what "icpedge init" asks for a new client: its name (the
// file's, without .yaml), hosts, origin, notice, listeners, ACME email and
// admin listener. Empty optional values are left as commented examples.
type Starter struct {
	Name, Origin, ICP, Company, Police, Email, HTTP, HTTPS, Admin string
	Hosts                                                         []string
}

// YAML is the commented config file for a new client. Values are quoted
// as YAML strings; the comments say what each key does.
func (v Starter) YAML() []byte {
	q := strconv.Quote
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# icpedge config for client %s, written by icpedge init.\n", v.Name)
	w("# Every key is described in config/example.yaml and the README's configuration\n")
	w("# reference. Check it with: icpedge validate --config <this file>\n\n")
	w("# Host names covered by the filing, pointed at this host by an A record.\n")
	w("hosts:\n")
	for _, h := range v.Hosts {
		w("  - %s\n", q(strings.ToLower(h)))
	}
	w("\n# The client's own site, overseas or behind a CDN.\n")
	w("origin: %s\n", q(v.Origin))
	w("\n# The ICP notice put on every page.\n")
	w("notice:\n")
	w("  icp: %s\n", q(v.ICP))
	if v.Company != "" {
		w("  company: %s\n", q(v.Company))
	} else {
		w("  # company: 客户科技有限公司\n")
	}
	if v.Police != "" {
		w("  police: %s\n", q(v.Police))
	} else {
		w("  # police: 京公网安备11010502012345号\n")
	}
	w("  # selector: \"#footer .copyright\"   # where to put it; default: the last <footer> or the end of <body>\n")
	w("\n# Where visitors connect. With --config-dir every file must name the\n")
	w("# process's own addresses (or leave one out).\n")
	w("listen:\n")
	w("  http: %s\n", q(v.HTTP))
	if v.HTTPS != "" {
		w("  https: %s\n", q(v.HTTPS))
	}
	w("\n# Certificates, the admin token and, by default, the cache live here.\n")
	w("# Default: /var/lib/icpedge/%s (the systemd unit's StateDirectory).\n", v.Name)
	w("# state_dir: /var/lib/icpedge/%s\n", v.Name)
	if v.HTTPS != "" {
		w("\n# HTTPS certificates from Let's Encrypt, obtained and renewed automatically.\n")
		w("tls:\n")
		w("  mode: acme\n")
		if v.Email != "" {
			w("  email: %s\n", q(v.Email))
		} else {
			w("  # email: ops@agency.example\n")
		}
		w("  # hsts: 180d\n")
	}
	w("\n# Cached pages keep the site up when the origin or the border link fails.\n")
	w("cache:\n")
	w("  max_size: 1GiB\n")
	w("  # rules:               # force a TTL where the origin sends no-cache\n")
	w("  #   - path: /\n")
	w("  #     ttl: 5m\n")
	w("\n# Purge, health and /metrics, on loopback. \"\" turns it off.\n")
	w("admin:\n")
	w("  listen: %s\n", q(v.Admin))
	w("\nlog:\n")
	w("  format: text\n")
	w("  # access_file: /var/log/icpedge/%s.access.log\n", v.Name)
	return []byte(b.String())
}

// Where the packaged units read configs: icpedge@NAME.service serves
// unitDir/NAME.yaml, icpedge.service every *.yaml in sitesDir.
const (
	unitDir  = "/etc/icpedge"
	sitesDir = "/etc/icpedge/sites"
)

// NextSteps prints what is left to do once the starter file is written
// to out ("-": stdout), with the commands that fit where it went: the
// one-client unit for a file in /etc/icpedge, the shared process for one
// in /etc/icpedge/sites, and anywhere else how to run it by hand or
// install it where a unit reads it.
func (v Starter) NextSteps(w io.Writer, out string) {
	path := out
	if out == "-" {
		path = filepath.Join(unitDir, v.Name+".yaml")
	} else if abs, err := filepath.Abs(out); err == nil {
		path = abs
	}
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	n := 0
	step := func(format string, a ...any) {
		n++
		fmt.Fprintf(w, "  %d. "+format+"\n", append([]any{n}, a...)...)
	}
	fmt.Fprintf(w, "\nNext steps:\n")
	step("The client adds one DNS record for each host:")
	for _, h := range v.Hosts {
		fmt.Fprintf(w, "       %s.  A  <this host's public IPv4 address>\n", strings.ToLower(h))
	}
	switch filepath.Dir(path) {
	case unitDir:
		step("Start it:      systemctl enable --now icpedge@%s", stem)
		if stem != v.Name {
			fmt.Fprintf(w, "     (the instance is named after the file: icpedge@%s, its state in /var/lib/icpedge/%s)\n", stem, stem)
		}
		step("After a change: icpedge reload --config %s   (what systemctl reload icpedge@%s runs)", path, stem)
	case sitesDir:
		step("Check the set: icpedge validate --config-dir %s", sitesDir)
		step("Serve it:      systemctl reload icpedge   (systemctl enable --now icpedge if the shared process is not running yet)")
		if v.Admin != "" {
			fmt.Fprintf(w, "     (the file's admin keys are not used here: the process's --admin is; init --admin \"\" leaves them out)\n")
		}
	default:
		step("Try it here:   icpedge serve --config %s   (as root for ports 80 and 443 and /var/lib/icpedge/%s)", path, stem)
		step("Run it under systemd, from where a unit reads it: one of")
		fmt.Fprintf(w, "       install -m 0640 %s %s/%s.yaml && systemctl enable --now icpedge@%s\n", path, unitDir, stem, stem)
		fmt.Fprintf(w, "       install -m 0640 %s %s/%s.yaml && systemctl reload icpedge   (the shared process)\n", path, sitesDir, stem)
	}
	step("Check it:      icpedge check --config %s", path)
}
