package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/icpedge/icpedge/config"
)

// nameRE is what a client's name may be: it names the config file, the
// systemd instance (icpedge@NAME) and the state and cache directories.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// listFlag is a flag that may be given more than once, or with commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func initMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("init", "init --name NAME --host HOST --origin URL --icp NUMBER [flags]", stdout, stderr)
	name := fs.String("name", "", "the client's short `name`: lower-case letters, digits, - and _ (required); names the file and the systemd instance")
	var hosts listFlag
	fs.Var(&hosts, "host", "a filed `host` name to serve, e.g. icp.client.com (required; repeat or separate with commas)")
	origin := fs.String("origin", "", "the client's origin `URL`, e.g. https://www.client.com (required)")
	icp := fs.String("icp", "", "the ICP filing `number`, e.g. 京ICP备12345678号-1 (required)")
	company := fs.String("company", "", "the company `name` shown before the number")
	police := fs.String("police", "", "the public-security filing `number`, e.g. 京公网安备11010502012345号")
	email := fs.String("email", "", "contact `address` given to Let's Encrypt")
	httpAddr := fs.String("listen-http", ":80", "HTTP listener `address`")
	httpsAddr := fs.String("listen-https", ":443", "HTTPS listener `address`; \"\" serves plain HTTP only")
	admin := fs.String("admin", "127.0.0.1:9080", "admin listener `address`; give each instance on a host its own port, \"\" for none")
	out := fs.String("out", "", "where to write the config: a `file`, or - for stdout (default /etc/icpedge/NAME.yaml)")
	force := fs.Bool("force", false, "overwrite an existing file")
	if ok, code := fs.parseAll(args); !ok {
		return code
	}
	var missing []string
	for _, f := range []struct{ flag, val string }{{"--name", *name}, {"--host", hosts.String()}, {"--origin", *origin}, {"--icp", *icp}} {
		if f.val == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "icpedge init: %s required\n", strings.Join(missing, ", "))
		return 2
	}
	if !nameRE.MatchString(*name) {
		fmt.Fprintf(stderr, "icpedge init: --name %q: expected lower-case letters, digits, - and _, starting with a letter or digit\n", *name)
		return 2
	}
	if *out == "" {
		*out = filepath.Join("/etc/icpedge", *name+".yaml")
	}
	data := initYAML(initValues{
		name: *name, hosts: hosts, origin: *origin, icp: *icp, company: *company, police: *police,
		email: *email, http: *httpAddr, https: *httpsAddr, admin: *admin,
	})
	// Validated under the name it will have, so the defaults it reports
	// (state_dir) are the ones the instance will use.
	if _, err := config.Parse(*name+".yaml", data); err != nil {
		fmt.Fprintf(stderr, "icpedge init: the config would not be valid:\n%v\n", err)
		return 1
	}

	steps := stdout
	if *out == "-" {
		stdout.Write(data)
		steps = stderr
	} else if err := writeNewFile(*out, data, *force); err != nil {
		fmt.Fprintf(stderr, "icpedge init: %v\n", err)
		return 1
	} else {
		fmt.Fprintf(steps, "wrote %s\n", *out)
	}
	cfgPath := *out
	if cfgPath == "-" {
		cfgPath = filepath.Join("/etc/icpedge", *name+".yaml")
	}
	fmt.Fprintf(steps, "\nNext steps:\n")
	fmt.Fprintf(steps, "  1. The client adds one DNS record for each host:\n")
	for _, h := range hosts {
		fmt.Fprintf(steps, "       %s.  A  <this host's public IPv4 address>\n", strings.ToLower(h))
	}
	fmt.Fprintf(steps, "  2. Start it:      systemctl enable --now icpedge@%s\n", *name)
	fmt.Fprintf(steps, "     (or, with one process for every client: put the file in /etc/icpedge/sites/ and run systemctl reload icpedge)\n")
	fmt.Fprintf(steps, "  3. Check it:      icpedge check --config %s\n", cfgPath)
	return 0
}

// writeNewFile writes data to path (mode 0640, the directory made if
// needed), refusing to replace an existing file unless force is set. The
// file is written beside and renamed into place, so a running instance
// reloading at that moment reads the old file or the new one.
func writeNewFile(path string, data []byte, force bool) error {
	if _, err := os.Lstat(path); err == nil && !force {
		return fmt.Errorf("%s exists; not overwriting it without --force", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the config directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o640)
	}
	if err := errors.Join(err, tmp.Close()); err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	if !force {
		// Link rather than rename: it fails if the file appeared meanwhile.
		if err := os.Link(tmp.Name(), path); err != nil {
			return fmt.Errorf("writing the config: %w", err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the config: %w", err)
	}
	return nil
}

type initValues struct {
	name, origin, icp, company, police, email, http, https, admin string
	hosts                                                         []string
}

// initYAML is the commented config for a new client. Values are quoted
// as YAML strings; the comments say what each key does.
func initYAML(v initValues) []byte {
	q := strconv.Quote
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# icpedge config for client %s, written by icpedge init.\n", v.name)
	w("# Every key is described in config/example.yaml and the README's configuration\n")
	w("# reference. Check it with: icpedge validate --config <this file>\n\n")
	w("# Host names covered by the filing, pointed at this host by an A record.\n")
	w("hosts:\n")
	for _, h := range v.hosts {
		w("  - %s\n", q(strings.ToLower(h)))
	}
	w("\n# The client's own site, overseas or behind a CDN.\n")
	w("origin: %s\n", q(v.origin))
	w("\n# The ICP notice put on every page.\n")
	w("notice:\n")
	w("  icp: %s\n", q(v.icp))
	if v.company != "" {
		w("  company: %s\n", q(v.company))
	} else {
		w("  # company: 客户科技有限公司\n")
	}
	if v.police != "" {
		w("  police: %s\n", q(v.police))
	} else {
		w("  # police: 京公网安备11010502012345号\n")
	}
	w("  # selector: \"#footer .copyright\"   # where to put it; default: the last <footer> or the end of <body>\n")
	w("\n# Where visitors connect. With --config-dir every file must name the\n")
	w("# process's own addresses (or leave one out).\n")
	w("listen:\n")
	w("  http: %s\n", q(v.http))
	if v.https != "" {
		w("  https: %s\n", q(v.https))
	}
	w("\n# Certificates, the admin token and, by default, the cache live here.\n")
	w("# Default: /var/lib/icpedge/%s (the systemd unit's StateDirectory).\n", v.name)
	w("# state_dir: /var/lib/icpedge/%s\n", v.name)
	if v.https != "" {
		w("\n# HTTPS certificates from Let's Encrypt, obtained and renewed automatically.\n")
		w("tls:\n")
		w("  mode: acme\n")
		if v.email != "" {
			w("  email: %s\n", q(v.email))
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
	w("  listen: %s\n", q(v.admin))
	w("\nlog:\n")
	w("  format: text\n")
	w("  # access_file: /var/log/icpedge/%s.access.log\n", v.name)
	return []byte(b.String())
}
