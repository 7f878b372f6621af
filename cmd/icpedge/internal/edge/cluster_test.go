package edge

import (
	"strings"
	"testing"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cluster"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/config"
)

// TestFingerprint: what shapes pages changes the fingerprint; what does
// not (cache, timeouts, the node's own name) leaves it alone.
func TestFingerprint(t *testing.T) {
	base := func() *config.Config {
		return &config.Config{
			Hosts:    []string{"icp.client.com"},
			Notice:   config.Notice{ICP: "京ICP备12345678号-1"},
			Localize: config.Localize{Presets: []string{"google-fonts"}},
			Policy:   config.Policy{Defaults: true},
			Cluster:  &config.Cluster{Node: "edge-a"},
		}
	}
	fp := Fingerprint(base())
	for _, tt := range []struct {
		name    string
		edit    func(*config.Config)
		changes bool
	}{
		{"notice", func(c *config.Config) { c.Notice.ICP = "京ICP备87654321号-1" }, true},
		{"police notice", func(c *config.Config) { c.Notice.Police = "京公网安备11010502012345号" }, true},
		{"hosts", func(c *config.Config) { c.Hosts = append(c.Hosts, "www.client.com") }, true},
		{"localize", func(c *config.Config) { c.Localize.Presets = nil }, true},
		{"policy", func(c *config.Config) { c.Policy.Defaults = false }, true},
		{"cache", func(c *config.Config) { c.Cache.Enabled = true }, false},
		{"node name", func(c *config.Config) { c.Cluster.Node = "edge-b" }, false},
	} {
		c := base()
		tt.edit(c)
		if got := Fingerprint(c) != fp; got != tt.changes {
			t.Errorf("%s: fingerprint changed %v; want %v", tt.name, got, tt.changes)
		}
	}
}

func TestDriftResults(t *testing.T) {
	cfg := &config.Config{Hosts: []string{"icp.client.com", "www.client.com"}}
	hosts := []string{"icp.client.com", "www.client.com"}
	nodes := []cluster.NodeInfo{
		{Name: "edge-a", Hosts: hosts, Fingerprint: "aaaa"},
		{Name: "edge-b", Hosts: hosts, Fingerprint: "aaaa"},
	}
	for _, r := range DriftResults(cfg, nodes) {
		if r.Status != compliance.OK || r.Check != CheckClusterDrift || !strings.Contains(r.Detail, "edge-a, edge-b") {
			t.Errorf("same fingerprints: %+v; want ok naming both nodes", r)
		}
	}
	nodes[1].Fingerprint = "bbbb"
	rs := DriftResults(cfg, nodes)
	if len(rs) != 2 {
		t.Fatalf("results: %d; want one per host", len(rs))
	}
	for _, r := range rs {
		if r.Status != compliance.Fail || !strings.Contains(r.Detail, "aaaa on edge-a; bbbb on edge-b") || r.Fix == "" {
			t.Errorf("drift: %+v; want fail naming each fingerprint's nodes, with a fix", r)
		}
	}
}
