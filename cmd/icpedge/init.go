package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/config"
)

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
	if !config.ValidName(*name) {
		fmt.Fprintf(stderr, "icpedge init: --name %q: expected lower-case letters, digits, - and _, starting with a letter or digit\n", *name)
		return 2
	}
	if *out == "" {
		*out = filepath.Join("/etc/icpedge", *name+".yaml")
	}
	starter := config.Starter{
		Name: *name, Hosts: hosts, Origin: *origin, ICP: *icp, Company: *company, Police: *police,
		Email: *email, HTTP: *httpAddr, HTTPS: *httpsAddr, Admin: *admin,
	}
	data := starter.YAML()
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
	} else if err := config.WriteNew(*out, data, *force); err != nil {
		fmt.Fprintf(stderr, "icpedge init: %v\n", err)
		return 1
	} else {
		fmt.Fprintf(steps, "wrote %s\n", *out)
	}
	starter.NextSteps(steps, *out)
	return 0
}
