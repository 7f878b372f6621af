package config

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestComplianceValues(t *testing.T) {
	c, err := Parse("site.yaml", file(nil,
		"apex: {host: Client.com, mode: proxy}",
		"policy:",
		"  defaults: false",
		"  block:",
		`    - path: "*.torrent"`,
		"    - {type: video/*, max_size: 200MiB}",
		"    - {path: /downloads/, max_size: 1GB}",
		"check: {interval: 1h, pages: 0, expect_ips: [203.0.113.10, '::ffff:198.51.100.7', 2001:db8::1], timeout: 3s}",
	))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Hosts", c.Hosts, []string{"icp.client.com", "client.com"}},
		{"Apex", c.Apex, Apex{Host: "client.com", Mode: "proxy"}},
		{"Policy", c.Policy, Policy{Block: []BlockRule{
			{Path: "*.torrent", Key: "policy.block[0]"},
			{Type: "video/*", MaxSize: 200 << 20, Key: "policy.block[1]"},
			{Path: "/downloads/", MaxSize: 1e9, Key: "policy.block[2]"},
		}}},
		{"Check", c.Check, Check{Interval: time.Hour, Pages: 0, Timeout: 3 * time.Second, ExpectIPs: []netip.Addr{
			netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::1")},
			RDAPBootstrap: DefaultRDAPBootstrap}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %+v; want %+v", ck.name, ck.got, ck.want)
		}
	}

	c, err = Parse("site.yaml", file(nil,
		"check:",
		"  rdap_bootstrap: http://127.0.0.1:8053/bootstrap/dns.json",
		"  rdap:",
		"    CN: https://rdap.example.cn/rdap",
		"    com.cn: http://127.0.0.1:8053/cnnic/",
		"    中国: https://rdap.example.cn/zhongguo/",
		"  registrars: [\"Example  Registrar, LLC\", 9999]",
	))
	if err != nil {
		t.Fatal(err)
	}
	want := Check{Pages: 10, Timeout: 15 * time.Second,
		RDAPBootstrap: "http://127.0.0.1:8053/bootstrap/dns.json",
		RDAP: map[string]string{
			"cn":         "https://rdap.example.cn/rdap/",
			"com.cn":     "http://127.0.0.1:8053/cnnic/",
			"xn--fiqs8s": "https://rdap.example.cn/zhongguo/",
		},
		Registrars: []string{"Example Registrar, LLC", "9999"},
	}
	if !reflect.DeepEqual(c.Check, want) {
		t.Errorf("Check = %+v; want %+v", c.Check, want)
	}

	c, err = Parse("site.yaml", file(nil, "apex: {host: client.com}"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Apex.Mode != "landing" {
		t.Errorf("Apex.Mode = %q; want the default landing", c.Apex.Mode)
	}
}

func TestComplianceProblems(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  string
	}{
		{"apex without host", []string{"apex: {mode: landing}"},
			"site.yaml:7: apex.host: missing; " + "expected a DNS name such as icp.client.com, without scheme, port, path or wildcard"},
		{"apex in hosts", []string{"apex: {host: icp.client.com}"},
			`site.yaml:7: apex.host: "icp.client.com" is also in hosts; expected it only under apex, or only in hosts`},
		{"apex is the origin", []string{"apex: {host: www.client.com}"},
			`site.yaml:7: apex.host: "www.client.com" is the origin's host, so the edge would proxy to itself; expected the root domain pointed at this edge`},
		{"apex bad mode", []string{"apex: {host: client.com, mode: redirect}"},
			`site.yaml:7: apex.mode: "redirect" is not an apex mode; expected landing or proxy`},
		{"block rule without condition", []string{"policy:", "  block:", "    - {}"},
			"site.yaml:9: policy.block[0]: no condition; expected at least one of path, type, max_size"},
		{"bad glob", []string{"policy:", "  block:", `    - path: "films/*.mp4"`, `    - path: "[a"`},
			`site.yaml:9: policy.block[0].path: "films/*.mp4" is not a path glob (has a "/" but does not begin with one); expected ` + expectGlob + "\n" +
				`site.yaml:10: policy.block[1].path: "[a" is not a path glob (unbalanced [ ] or a trailing \); expected ` + expectGlob},
		{"bad type", []string{"policy:", "  block:", "    - type: Video"},
			`site.yaml:9: policy.block[0].type: "Video" is not a media type; expected ` + expectType},
		{"zero size", []string{"policy:", "  block:", "    - max_size: 0"},
			"site.yaml:9: policy.block[0].max_size: 0 is zero; expected a positive size, e.g. 64MiB"},
		{"defaults not a bool", []string{"policy: {defaults: yes please}"},
			`site.yaml:7: policy.defaults: "yes please" is a string; expected true or false`},
		{"pages out of range", []string{"check: {pages: 101}"},
			"site.yaml:7: check.pages: 101 is not a page count; expected a whole number from 0 to 100"},
		{"bad ip", []string{"check: {expect_ips: [203.0.113.300, 203.0.113.10, 203.0.113.10]}"},
			`site.yaml:7: check.expect_ips[0]: "203.0.113.300" is not an IP address; expected an IP address, e.g. 203.0.113.10 or 2001:db8::10` + "\n" +
				`site.yaml:7: check.expect_ips[2]: "203.0.113.10" is listed twice; expected each address once`},
		{"bad bootstrap URL", []string{"check: {rdap_bootstrap: data.iana.org/rdap/dns.json}"},
			`site.yaml:7: check.rdap_bootstrap: "data.iana.org/rdap/dns.json" is not a URL (has no scheme); expected ` + expectRDAPBoot},
		{"rdap not a mapping", []string{"check: {rdap: [cn]}"},
			"site.yaml:7: check.rdap: got a list; expected " + expectRDAPMap},
		{"bad rdap entries", []string{"check:", "  rdap:", "    .cn: https://rdap.example.cn/", "    cn: ftp://rdap.example.cn/",
			"    hk:", "    net: https://rdap.example.net/", "    NET: https://rdap.example.net/", "    org: [https://rdap.example.org/]"},
			`site.yaml:9: check.rdap..cn: ".cn" is not a domain suffix (has an empty label); expected ` + expectSuffix + "\n" +
				`site.yaml:10: check.rdap.cn: "ftp://rdap.example.cn/" is not a URL (scheme ftp); expected ` + expectRDAPURL + "\n" +
				"site.yaml:11: check.rdap.hk: empty; expected " + expectRDAPURL + "\n" +
				"site.yaml:13: check.rdap.NET: repeats check.rdap.net; expected each suffix once\n" +
				"site.yaml:14: check.rdap.org: got a list; expected " + expectRDAPURL},
		{"bad registrars", []string{"check:", "  registrars: [\"Example Registrar\", \" \", example  registrar, [x]]"},
			`site.yaml:8: check.registrars[1]: " " is blank; expected ` + expectRegistr + "\n" +
				`site.yaml:8: check.registrars[2]: "example  registrar" repeats check.registrars[0]; expected each registrar once` + "\n" +
				"site.yaml:8: check.registrars[3]: got a list; expected " + expectRegistr},
		{"negative interval", []string{"check: {interval: -1m}"},
			`site.yaml:7: check.interval: "-1m" is negative; expected a number with a unit (ms, s, m, h or d), e.g. 30s, 5m, 7d or 1d12h`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("site.yaml", file(nil, tt.extra...))
			if err == nil {
				t.Fatalf("got no error; want\n%s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
