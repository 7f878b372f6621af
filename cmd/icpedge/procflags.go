package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

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

// errAdminOff is adminClient's error for an admin listener turned off;
// each command says what that means for it.
var errAdminOff = errors.New("the admin listener is off")

// adminClient reaches a running edge's admin API.
type adminClient struct {
	addr, token string
}

// newAdminClient returns a client for the admin listener a describes,
// reading its token. The token file is the edge's, readable by the
// user it runs as.
func newAdminClient(a config.Admin) (*adminClient, error) {
	if a.Listen == "" {
		return nil, errAdminOff
	}
	tok, err := os.ReadFile(a.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the admin token: %w (the edge writes it on its first start; run this as root or as the user the edge runs as)", err)
	}
	return &adminClient{addr: dialAddr(a.Listen), token: strings.TrimSpace(string(tok))}, nil
}

// post sends POST path?q with the token, and returns the status and up
// to 1 MiB of the answer.
func (c *adminClient) post(ctx context.Context, path string, q url.Values) (int, []byte, error) {
	u := "http://" + c.addr + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("reaching the edge's admin listener at %s: %w (is the edge running?)", c.addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the admin listener's answer: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return 0, nil, fmt.Errorf("the admin listener at %s refused the token: the edge there reads another token file", c.addr)
	}
	return resp.StatusCode, body, nil
}
