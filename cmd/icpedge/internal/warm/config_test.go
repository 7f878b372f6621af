package warm

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/icpedge/icpedge/config"
)

// clientConfig parses a client's config named name.yaml, with extra
// YAML after its hosts, origin and notice.
func clientConfig(t *testing.T, name, extra string) *config.Config {
	t.Helper()
	yaml := "hosts: [icp." + name + ".example]\norigin: https://www." + name + ".example\n" +
		"rewrite_hosts: [" + name + ".example]\nnotice:\n  icp: 京ICP备12345678号-1\n" + extra
	cfg, err := config.Parse(filepath.Join(t.TempDir(), name+".yaml"), []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const plainHTTP = "listen:\n  http: 0.0.0.0:8080\n  https: \"\"\ntls:\n  mode: off\n"

func TestForConfig(t *testing.T) {
	ctx := context.Background()
	token := filepath.Join(t.TempDir(), "admin.token")
	os.WriteFile(token, []byte("s3cret\n"), 0o600)

	t.Run("plain HTTP, admin token read", func(t *testing.T) {
		cfg := clientConfig(t, "acme", plainHTTP)
		o, notes, err := ForConfig(ctx, cfg, config.Admin{Listen: ":9080", TokenFile: token})
		if err != nil || len(notes) > 0 {
			t.Fatalf("ForConfig: %v, notes %q", err, notes)
		}
		if o.Scheme != "http" || o.Edge != "127.0.0.1:8080" || o.Client != "acme" || o.Admin != "127.0.0.1:9080" || o.AdminToken != "s3cret" {
			t.Errorf("scheme %q, edge %q, client %q, admin %q, token %q; want http, 127.0.0.1:8080, acme, 127.0.0.1:9080, s3cret",
				o.Scheme, o.Edge, o.Client, o.Admin, o.AdminToken)
		}
		if !slices.Equal(o.Hosts, []string{"icp.acme.example"}) || !slices.Contains(o.SiteHosts, "acme.example") || o.Origin.String() != "https://www.acme.example" {
			t.Errorf("hosts %q, site hosts %q, origin %v; want the config's", o.Hosts, o.SiteHosts, o.Origin)
		}
	})
	t.Run("no token: a note, and the pages still warm", func(t *testing.T) {
		cfg := clientConfig(t, "acme", plainHTTP)
		o, notes, err := ForConfig(ctx, cfg, config.Admin{Listen: "127.0.0.1:9080", TokenFile: filepath.Join(t.TempDir(), "none")})
		if err != nil || o.AdminToken != "" {
			t.Fatalf("ForConfig: %v, token %q; want no error and no token", err, o.AdminToken)
		}
		if len(notes) != 1 || !strings.HasPrefix(notes[0], "reading the admin token: ") || !strings.HasSuffix(notes[0], "(cache figures not shown)") {
			t.Errorf("notes %q; want the token file's problem", notes)
		}
	})
	t.Run("HTTPS without a certificate yet: HTTP, with a note", func(t *testing.T) {
		// A listener that accepts and says nothing TLS: no handshake.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		cfg := clientConfig(t, "acme", "listen:\n  http: 127.0.0.1:8080\n  https: "+ln.Addr().String()+"\n")
		o, notes, err := ForConfig(ctx, cfg, config.Admin{})
		if err != nil || o.Scheme != "http" || o.Edge != "127.0.0.1:8080" {
			t.Fatalf("ForConfig: %v, scheme %q, edge %q; want http through 127.0.0.1:8080", err, o.Scheme, o.Edge)
		}
		if len(notes) != 1 || !strings.Contains(notes[0], "no certificate for icp.acme.example yet") {
			t.Errorf("notes %q; want the missing certificate", notes)
		}
	})
	t.Run("HTTPS ready", func(t *testing.T) {
		srv := httptest.NewTLSServer(nil)
		defer srv.Close()
		cfg := clientConfig(t, "acme", "listen:\n  http: \"\"\n  https: "+srv.Listener.Addr().String()+"\n")
		o, _, err := ForConfig(ctx, cfg, config.Admin{})
		if err != nil || o.Scheme != "https" || o.Edge != srv.Listener.Addr().String() {
			t.Errorf("ForConfig: %v, scheme %q, edge %q; want https through the TLS listener", err, o.Scheme, o.Edge)
		}
	})
	for _, tt := range []struct {
		name, extra string
		noListen    bool
		want        string
	}{
		// Files of a config directory may leave the listeners to the
		// process, whose flags may turn both off.
		{"no listener", plainHTTP, true, "no listener to warm through"},
		{"origin_ca unreadable", plainHTTP + "origin_ca: missing.pem\n", false, "origin_ca: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientConfig(t, "acme", tt.extra)
			if tt.noListen {
				cfg.Listen = config.Listen{}
			}
			_, _, err := ForConfig(ctx, cfg, config.Admin{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v; want %q", err, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	listen := config.Listen{HTTP: ":80", HTTPS: ":443"}
	load := func() []*config.Config {
		acme := clientConfig(t, "acme", plainHTTP)
		acme.Listen = config.Listen{} // a file that leaves them to the process
		return []*config.Config{acme, clientConfig(t, "globex", plainHTTP)}
	}
	broken := map[string]error{"initech": os.ErrInvalid}

	got, err := Select("/sites", load(), broken, nil, listen)
	if err != nil || len(got) != 2 {
		t.Fatalf("no names: %d clients, %v; want both", len(got), err)
	}
	if got[0].Listen != listen || got[1].Listen.HTTP != "0.0.0.0:8080" {
		t.Errorf("listeners %+v, %+v; want the process's where the file sets none, else the file's", got[0].Listen, got[1].Listen)
	}
	if got, err := Select("/sites", load(), broken, []string{"globex"}, listen); err != nil || len(got) != 1 || got[0].Name() != "globex" {
		t.Errorf("globex: %v, %v; want globex alone", got, err)
	}
	for _, tt := range []struct {
		names []string
		cfgs  []*config.Config
		want  string
	}{
		{[]string{"initech"}, load(), os.ErrInvalid.Error()},
		{[]string{"umbrella"}, load(), `no client "umbrella" in /sites (expected the name of a *.yaml file there)`},
		{nil, nil, "no client's file in /sites loads"},
	} {
		if _, err := Select("/sites", tt.cfgs, broken, tt.names, listen); err == nil || err.Error() != tt.want {
			t.Errorf("names %q: err %v; want %q", tt.names, err, tt.want)
		}
	}
}
