package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/icpedge/icpedge/config"
)

// ErrOff is New's error for an admin listener turned off; each command
// says what that means for it.
var ErrOff = errors.New("the admin listener is off")

// maxAnswer bounds what is read of the admin API's answer.
const maxAnswer = 1 << 20

// Client reaches a running edge's admin API.
type Client struct {
	addr, token string
}

// New returns a client for the admin listener a describes, reading its
// token. The token file is the edge's, readable by the user it runs as.
func New(a config.Admin) (*Client, error) {
	if a.Listen == "" {
		return nil, ErrOff
	}
	tok, err := ReadToken(a.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("%w (the edge writes it on its first start; run this as root or as the user the edge runs as)", err)
	}
	return &Client{addr: DialAddr(a.Listen), token: tok}, nil
}

// Listener is the admin listener of the process serving src, whose
// configs are cfgs: the admin block of its one config (serve --config),
// or else proc, the process's own (serve --config-dir, which does not use
// its files' admin blocks).
func Listener(src config.Source, cfgs []*config.Config, proc config.Admin) config.Admin {
	if src.File != "" && len(cfgs) == 1 {
		return cfgs[0].Admin
	}
	return proc
}

// ReadToken reads the admin bearer token from file.
func ReadToken(file string) (string, error) {
	tok, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the admin token: %w", err)
	}
	return strings.TrimSpace(string(tok)), nil
}

// DialAddr turns a listen address into one to dial: an unspecified host
// becomes loopback.
func DialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// post sends POST path?q with the token, and returns the status and up
// to maxAnswer bytes of the answer. A refused token is an error: every
// caller would say the same of it.
func (c *Client) post(ctx context.Context, path string, q url.Values) (int, []byte, error) {
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the admin listener's answer: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return 0, nil, fmt.Errorf("the admin listener at %s refused the token: the edge there reads another token file", c.addr)
	}
	return resp.StatusCode, body, nil
}
