package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/config"
)

// nameRE is what a client's name may be: it names the config file, the
// systemd instance (icpedge@NAME) and the state and cache directories.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func initMain(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("init", "init --name NAME --host HOST --origin URL --icp NUMBER [flags]", stdout, stderr)
	name := fs.String("name", "", "the client's short `name`: lower-case letters, digits, - and _ (required); names the file and the systemd instance")
	var hosts cli.CommaList
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
	if ok, code := fs.ParseFlagsOnly(args); !ok {
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
	data := config.Starter{
		Name: *name, Hosts: hosts, Origin: *origin, ICP: *icp, Company: *company, Police: *police,
		Email: *email, HTTP: *httpAddr, HTTPS: *httpsAddr, Admin: *admin,
	}.YAML()
	// Validated under the name it will have, so the defaults it reports
	// (state_dir, from the file's name) are the ones the instance will use.
	file := *name + ".yaml"
	if *out != "-" {
		file = filepath.Base(*out)
	}
	if _, err := config.Parse(file, data); err != nil {
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
	nextSteps(steps, *out, *name, hosts, *admin != "")
	return 0
}

// Where the packaged units read configs: icpedge@NAME.service serves
// unitDir/NAME.yaml, icpedge.service every *.yaml in sitesDir.
const (
	unitDir  = "/etc/icpedge"
	sitesDir = "/etc/icpedge/sites"
)

// nextSteps prints what is left to do once init has written the config
// to out ("-": stdout), with the commands that fit where it went: the
// one-client unit for a file in /etc/icpedge, the shared process for one
// in /etc/icpedge/sites, and anywhere else how to run it by hand or
// install it where a unit reads it.
func nextSteps(w io.Writer, out, name string, hosts []string, admin bool) {
	path := out
	if out == "-" {
		path = filepath.Join(unitDir, name+".yaml")
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
	for _, h := range hosts {
		fmt.Fprintf(w, "       %s.  A  <this host's public IPv4 address>\n", strings.ToLower(h))
	}
	switch filepath.Dir(path) {
	case unitDir:
		step("Start it:      systemctl enable --now icpedge@%s", stem)
		if stem != name {
			fmt.Fprintf(w, "     (the instance is named after the file: icpedge@%s, its state in /var/lib/icpedge/%s)\n", stem, stem)
		}
		step("After a change: icpedge reload --config %s   (what systemctl reload icpedge@%s runs)", path, stem)
	case sitesDir:
		step("Check the set: icpedge validate --config-dir %s", sitesDir)
		step("Serve it:      systemctl reload icpedge   (systemctl enable --now icpedge if the shared process is not running yet)")
		if admin {
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
	if fi, serr := os.Stat(filepath.Dir(path)); err == nil && serr == nil {
		// The group of its directory, as a setgid directory would give:
		// /etc/icpedge is root:icpedge 0750, so the service, which runs
		// as icpedge, reads a file init wrote there as root. Where that
		// is not allowed (not root, not in the group), the file keeps
		// the writer's group.
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			_ = tmp.Chown(-1, int(st.Gid))
		}
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
