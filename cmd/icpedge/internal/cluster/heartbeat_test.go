package cluster

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestNodesAndDrift(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	hosts := []string{"icp.client.com", "client.com"}
	same := Fingerprint([]byte("京ICP备12345678号-1"), []byte("policy"))
	node := func(name, fp string) *Node {
		return openNode(t, r, name, "", func(o *Options) {
			o.Address, o.Version, o.Hosts, o.Fingerprint = "10.0.0."+name[len(name)-1:], "v1.2.3", hosts, fp
		})
	}
	a := node("edge-1", same)
	node("edge-2", same)

	nodes, err := a.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Name != "edge-1" || nodes[1].Name != "edge-2" {
		t.Fatalf("Nodes() = %+v; want edge-1 and edge-2", nodes)
	}
	n1 := nodes[0]
	if n1.Address != "10.0.0.1" || n1.Version != "v1.2.3" || !reflect.DeepEqual(n1.Hosts, hosts) || n1.Fingerprint != same || time.Since(n1.LastSeen) > time.Hour || n1.LastSeen.IsZero() {
		t.Errorf("Nodes()[0] = %+v; want its address, version, hosts, fingerprint and a recent last seen", n1)
	}
	if d := Drift(nodes); len(d) != 0 {
		t.Errorf("Drift with equal fingerprints = %+v; want none", d)
	}

	// A third node whose notice differs.
	other := Fingerprint([]byte("京ICP备87654321号-1"), []byte("policy"))
	c := node("edge-3", other)
	nodes, err = a.Nodes(ctx)
	if err != nil || len(nodes) != 3 {
		t.Fatalf("Nodes() = %+v, %v; want 3", nodes, err)
	}
	want := []DriftReport{
		{Host: "client.com", Nodes: map[string][]string{same: {"edge-1", "edge-2"}, other: {"edge-3"}}},
		{Host: "icp.client.com", Nodes: map[string][]string{same: {"edge-1", "edge-2"}, other: {"edge-3"}}},
	}
	if got := Drift(nodes); !reflect.DeepEqual(got, want) {
		t.Errorf("Drift = %+v; want %+v", got, want)
	}

	// A node that leaves drops out at once; one that dies, when its
	// heartbeat expires.
	c.Close()
	if nodes, _ := a.Nodes(ctx); len(nodes) != 2 {
		t.Errorf("Nodes() after edge-3 closed = %+v; want 2", nodes)
	}
	dead := node("edge-4", same)
	dead.abandon()
	waitUntil(t, "edge-4's heartbeat expires", func() bool {
		nodes, err := a.Nodes(ctx)
		return err == nil && len(nodes) == 2
	})
}

func TestFingerprint(t *testing.T) {
	if Fingerprint([]byte("ab"), []byte("c")) == Fingerprint([]byte("a"), []byte("bc")) {
		t.Error("Fingerprint ignores where parts split")
	}
	x1, x2 := Fingerprint([]byte("x")), Fingerprint([]byte("x"))
	if x1 != x2 || len(Fingerprint()) != 16 {
		t.Error("Fingerprint is not a stable 16-character sum")
	}
}

func TestAnnounceAndInspect(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()
	a := openNode(t, r, "edge-1", "", func(o *Options) { o.Hosts, o.Fingerprint = []string{"a.example"}, "fp-1" })
	waitUntil(t, "edge-1 is up", func() bool { up, _ := a.Up(); return up })

	// A reload changes what the node serves: the others see it at once,
	// not a heartbeat later (the heartbeat here is 500ms; Inspect is
	// asked straight after Announce returns).
	a.Announce([]string{"b.example"}, "fp-2")
	nodes, err := Inspect(ctx, Options{URL: r.url(), Prefix: "test:"})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Name != "edge-1" || nodes[0].Fingerprint != "fp-2" || !reflect.DeepEqual(nodes[0].Hosts, []string{"b.example"}) {
		t.Fatalf("Inspect after Announce = %+v; want edge-1 with fp-2 for b.example", nodes)
	}
	// Inspect does not join: the cluster still has one node.
	if nodes, err := a.Nodes(ctx); err != nil || len(nodes) != 1 {
		t.Errorf("Nodes() after Inspect = %+v, %v; want edge-1 alone", nodes, err)
	}
	// Another prefix is another cluster.
	if nodes, err := Inspect(ctx, Options{URL: r.url(), Prefix: "other:"}); err != nil || len(nodes) != 0 {
		t.Errorf("Inspect(other prefix) = %+v, %v; want none", nodes, err)
	}

	r.Kill()
	if _, err := Inspect(ctx, Options{URL: r.url(), Prefix: "test:", Timeout: time.Second}); err == nil {
		t.Error("Inspect with Redis down: no error")
	}
}
