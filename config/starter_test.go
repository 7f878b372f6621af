package config

import (
	"slices"
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
