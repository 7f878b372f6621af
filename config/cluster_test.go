package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClusterProblems(t *testing.T) {
	const (
		wantURL    = "expected a redis:// or rediss:// URL with a host, an optional port and database number and no password, e.g. redis://10.0.0.5:6379/0"
		wantNode   = `expected a node name of letters, digits, ".", "_" and "-", at most 63 characters, e.g. edge-bj-1`
		wantPrefix = `expected a key prefix of letters, digits and ":._-", at most 64 characters, e.g. "icpedge:client:"`
	)
	tests := []struct {
		name  string
		extra []string
		want  string
	}{
		{"redis missing", []string{"cluster:", "  node: edge-1"},
			"site.yaml:7: cluster.redis: missing; " + wantURL},
		{"redis empty", []string{"cluster:", "  redis:"},
			"site.yaml:8: cluster.redis: empty; " + wantURL},
		{"http scheme", []string{"cluster:", "  redis: http://10.0.0.5:6379"},
			`site.yaml:8: cluster.redis: "http://10.0.0.5:6379" is not a Redis URL (scheme http); ` + wantURL},
		{"no scheme", []string{"cluster:", "  redis: 10.0.0.5:6379"},
			`site.yaml:8: cluster.redis: "10.0.0.5:6379" is not a Redis URL (has no scheme); ` + wantURL},
		{"password redacted", []string{"cluster:", "  redis: redis://:hunter2@10.0.0.5:6379"},
			`site.yaml:8: cluster.redis: "redis://:xxxxx@10.0.0.5:6379" is not a Redis URL (has a password; put it in cluster.password_file); ` + wantURL},
		{"bad port", []string{"cluster:", "  redis: redis://10.0.0.5:99999"},
			`site.yaml:8: cluster.redis: "redis://10.0.0.5:99999" is not a Redis URL (port "99999" is not 1-65535); ` + wantURL},
		{"bad database", []string{"cluster:", "  redis: redis://10.0.0.5/zero"},
			`site.yaml:8: cluster.redis: "redis://10.0.0.5/zero" is not a Redis URL (database "zero" is not a number); ` + wantURL},
		{"query", []string{"cluster:", "  redis: redis://10.0.0.5/0?dial_timeout=1s"},
			`site.yaml:8: cluster.redis: "redis://10.0.0.5/0?dial_timeout=1s" is not a Redis URL (has a query); ` + wantURL},
		{"bad node", []string{"cluster:", "  redis: redis://10.0.0.5", "  node: edge 1"},
			`site.yaml:9: cluster.node: "edge 1" is not a node name; ` + wantNode},
		{"bad prefix", []string{"cluster:", "  redis: redis://10.0.0.5", "  prefix: 'client*'"},
			`site.yaml:9: cluster.prefix: "client*" is not a key prefix; ` + wantPrefix},
		{"misspelt key", []string{"cluster:", "  redis: redis://10.0.0.5", "  passwd_file: x"},
			`site.yaml:9: cluster.passwd_file: unknown key; did you mean cluster.password_file?`},
		{"not a mapping", []string{"cluster: redis://10.0.0.5"},
			`site.yaml:7: cluster: "redis://10.0.0.5" is a string; expected a mapping with keys redis, password_file, node, prefix`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("site.yaml", file(nil, tc.extra...))
			if err == nil {
				t.Fatalf("got no error; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", err, tc.want)
			}
		})
	}
}

func TestClusterValues(t *testing.T) {
	c, err := Parse("/etc/icpedge/client.yaml", file(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster != nil {
		t.Errorf("Cluster without a cluster block = %+v; want nil (a single node)", c.Cluster)
	}

	c, err = Parse("/etc/icpedge/client.yaml", file(nil, "cluster:", "  redis: rediss://edge@Redis.Internal:6380/2", "  password_file: redis.pass", "  node: edge-bj-1", "  prefix: 'icpedge:client:'"))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Cluster
	if got, want := cl.Redis.String(), "rediss://edge@redis.internal:6380/2"; got != want {
		t.Errorf("Redis = %s; want %s", got, want)
	}
	if got, want := cl.PasswordFile, filepath.FromSlash("/etc/icpedge/redis.pass"); got != want {
		t.Errorf("PasswordFile = %s; want %s", got, want)
	}
	if cl.Node != "edge-bj-1" || cl.Prefix != "icpedge:client:" {
		t.Errorf("Node, Prefix = %q, %q; want edge-bj-1, icpedge:client:", cl.Node, cl.Prefix)
	}

	// Defaults: the host name and "icpedge:".
	host, err := os.Hostname()
	if err != nil || !nodeNameRE.MatchString(host) {
		t.Fatalf("this machine's host name %q (%v) cannot be the default node name", host, err)
	}
	c, err = Parse("site.yaml", file(nil, "cluster:", "  redis: redis://10.0.0.5"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Node != host || c.Cluster.Prefix != "icpedge:" || c.Cluster.PasswordFile != "" {
		t.Errorf("defaults = %+v; want node %q, prefix icpedge:, no password file", *c.Cluster, host)
	}
	if !strings.HasPrefix(c.Cluster.Redis.String(), "redis://10.0.0.5") {
		t.Errorf("Redis = %s", c.Cluster.Redis)
	}
}
