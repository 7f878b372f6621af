package main

import (
	"github.com/icpedge/icpedge/cmd/icpedge/internal/cli"
	"github.com/icpedge/icpedge/config"
)

// The flags that describe a serve --config-dir process to the commands
// that check its files or reach it (validate, reload, purge, warm): with
// --config the file says these things itself. Their defaults are serve's,
// and the packaged icpedge.service's.

// listenFlags are the process's --listen-http and --listen-https.
type listenFlags struct {
	fs          *cli.FlagSet
	http, https *string
}

func procListenFlags(fs *cli.FlagSet) listenFlags {
	return listenFlags{
		fs:    fs,
		http:  fs.String("listen-http", ":80", "with --config-dir: the process's --listen-http"),
		https: fs.String("listen-https", ":443", "with --config-dir: the process's --listen-https"),
	}
}

func (l listenFlags) value() config.Listen { return config.Listen{HTTP: *l.http, HTTPS: *l.https} }

// given reports whether either flag was on the command line.
func (l listenFlags) given() bool { return l.fs.Given("listen-http", "listen-https") }

// adminFlags are the process's --admin and --admin-token-file.
type adminFlags struct {
	fs              *cli.FlagSet
	addr, tokenFile *string
}

func procAdminFlags(fs *cli.FlagSet) adminFlags {
	return adminFlags{
		fs:        fs,
		addr:      fs.String("admin", "127.0.0.1:9080", "with --config-dir: the process's admin listener"),
		tokenFile: fs.String("admin-token-file", "/var/lib/icpedge/admin.token", "with --config-dir: the process's admin token `file`"),
	}
}

func (a adminFlags) value() config.Admin {
	return config.Admin{Listen: *a.addr, TokenFile: *a.tokenFile}
}

func (a adminFlags) given() bool { return a.fs.Given("admin", "admin-token-file") }
