package config

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// The file init writes loads, with the values it was given.
func TestStarterYAML(t *testing.T) {
	s := Starter{
		Name: "client", Hosts: []string{"ICP.Client.com", "client.com"}, Origin: "https://www.client.com",
		ICP: "京ICP备12345678号-1", Company: `客户 "科技" 有限公司`, HTTP: ":80", HTTPS: ":443", Admin: "127.0.0.1:9080",
	}
	c, err := Parse("client.yaml", s.YAML())
	if err != nil {
		t.Fatalf("the starter file does not load: %v\n%s", err, s.YAML())
	}
	if !slices.Equal(c.Hosts, []string{"icp.client.com", "client.com"}) || c.Origin.String() != s.Origin || c.Notice.ICP != s.ICP ||
		c.Notice.Company != s.Company || c.Listen.HTTPS != ":443" || c.TLS.Mode != "acme" || c.Admin.Listen != s.Admin {
		t.Errorf("loaded: hosts %q, origin %q, icp %q, company %q, https %q, tls %q, admin %q; want the starter's values",
			c.Hosts, c.Origin, c.Notice.ICP, c.Notice.Company, c.Listen.HTTPS, c.TLS.Mode, c.Admin.Listen)
	}
}

// The steps after init fit the units' directories.
func TestStarterNextSteps(t *testing.T) {
	for _, tt := range []struct {
		out, name string
		admin     string
		want, not []string
	}{
		{"/etc/icpedge/acme.yaml", "acme", "127.0.0.1:9080",
			[]string{"systemctl enable --now icpedge@acme", "icpedge reload --config /etc/icpedge/acme.yaml", "icpedge check --config /etc/icpedge/acme.yaml"},
			[]string{"sites", "named after the file", "install"}},
		{"/etc/icpedge/globex.yaml", "acme", "127.0.0.1:9080",
			[]string{"systemctl enable --now icpedge@globex", "named after the file: icpedge@globex, its state in /var/lib/icpedge/globex"},
			[]string{"icpedge@acme"}},
		{"/etc/icpedge/sites/acme.yaml", "acme", "127.0.0.1:9080",
			[]string{"icpedge validate --config-dir /etc/icpedge/sites", "systemctl reload icpedge ", "admin keys are not used", "icpedge check --config /etc/icpedge/sites/acme.yaml"},
			[]string{"icpedge@"}},
		{"/etc/icpedge/sites/acme.yaml", "acme", "", nil, []string{"admin keys"}},
		{"-", "acme", "127.0.0.1:9080", []string{"systemctl enable --now icpedge@acme", "icpedge check --config /etc/icpedge/acme.yaml"}, nil},
	} {
		var b bytes.Buffer
		Starter{Name: tt.name, Hosts: []string{"ICP.acme.example"}, Admin: tt.admin}.NextSteps(&b, tt.out)
		for _, w := range append(tt.want, "icp.acme.example.  A  ") {
			if !strings.Contains(b.String(), w) {
				t.Errorf("--out %s: steps lack %q:\n%s", tt.out, w, b.String())
			}
		}
		for _, w := range tt.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("--out %s: steps contain %q:\n%s", tt.out, w, b.String())
			}
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"acme": true, "a-b_c9": true, "9lives": true, strings.Repeat("a", 63): true,
		"": false, "-acme": false, "_acme": false, "Acme": false, "a.b": false, "a/b": false, strings.Repeat("a", 64): false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v; want %v", name, got, want)
		}
	}
}
