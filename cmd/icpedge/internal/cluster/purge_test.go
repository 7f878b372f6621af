package cluster

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// purgeSink collects the purges a node applies.
func purgeSink() (chan Purge, func(*Options)) {
	ch := make(chan Purge, 100)
	return ch, func(o *Options) { o.Apply = func(p Purge) error { ch <- p; return nil } }
}

func nextPurge(t *testing.T, ch chan Purge) Purge {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(waitFor):
		t.Fatal("no purge applied")
		return Purge{}
	}
}

func TestPurgeReachesOtherNodes(t *testing.T) {
	r := startRedis(t)
	fromA, applyA := purgeSink()
	fromB, applyB := purgeSink()
	a := openNode(t, r, "a", "", applyA)
	b := openNode(t, r, "b", "", applyB)
	ctx := context.Background()
	waitUntil(t, "both nodes are listed", func() bool { n, _ := a.Nodes(ctx); return len(n) == 2 })

	id, err := a.PublishPurge(ctx, Purge{Prefix: "/news/", Host: "icp.client.com"})
	if err != nil {
		t.Fatal(err)
	}
	got := nextPurge(t, fromB)
	want := Purge{ID: id, Node: "a", Prefix: "/news/", Host: "icp.client.com"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("b applied %+v; want %+v", got, want)
	}
	actx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	applied, err := a.AwaitApplied(actx, id)
	if err != nil || !reflect.DeepEqual(applied, []string{"a", "b"}) {
		t.Errorf("AwaitApplied = %v, %v; want [a b]", applied, err)
	}

	// A node does not get its own purges back: b's next purge is the
	// first thing a applies.
	id2, err := b.PublishPurge(ctx, Purge{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := nextPurge(t, fromA); p.ID != id2 || !p.All || p.Node != "b" {
		t.Errorf("a applied %+v; want b's purge-all %s", p, id2)
	}
}

// TestPurgeReplayAfterAbsence: purges made while a node was away are
// applied, in order, when it returns; earlier ones are not applied twice.
func TestPurgeReplayAfterAbsence(t *testing.T) {
	r := startRedis(t)
	a := openNode(t, r, "a", "", nil)
	dirB := t.TempDir()
	fromB, applyB := purgeSink()
	b := openNode(t, r, "b", dirB, applyB)
	ctx := context.Background()

	first, err := a.PublishPurge(ctx, Purge{URL: "/before"})
	if err != nil {
		t.Fatal(err)
	}
	if p := nextPurge(t, fromB); p.ID != first {
		t.Fatalf("b applied %+v; want %s", p, first)
	}
	b.Close()

	var missed []string
	for _, u := range []string{"/one", "/two", "/three"} {
		id, err := a.PublishPurge(ctx, Purge{URL: u})
		if err != nil {
			t.Fatal(err)
		}
		missed = append(missed, id)
	}

	fromB2, applyB2 := purgeSink()
	openNode(t, r, "b", dirB, applyB2)
	for i, u := range []string{"/one", "/two", "/three"} {
		if p := nextPurge(t, fromB2); p.ID != missed[i] || p.URL != u {
			t.Errorf("replayed purge %d = %+v; want %s %s", i, p, missed[i], u)
		}
	}
	// Nothing more: the purge b had applied before leaving is not
	// replayed. A marker purge published now must be the next.
	marker, err := a.PublishPurge(ctx, Purge{URL: "/marker"})
	if err != nil {
		t.Fatal(err)
	}
	if p := nextPurge(t, fromB2); p.ID != marker {
		t.Errorf("after the replay b applied %+v; want the marker %s", p, marker)
	}
}

// TestPurgeReplayAfterRedisOutage: a node whose Redis went away replays
// the purges made once it is back, without a restart.
func TestPurgeReplayAfterRedisOutage(t *testing.T) {
	r := startRedis(t)
	a := openNode(t, r, "a", "", nil)
	fromB, applyB := purgeSink()
	b := openNode(t, r, "b", "", applyB)
	ctx := context.Background()

	r.Kill()
	waitUntil(t, "b reports redis down", func() bool { up, _ := b.Up(); return !up })
	if _, err := a.PublishPurge(ctx, Purge{URL: "/x"}); err == nil {
		t.Fatal("PublishPurge with redis down succeeded")
	}
	r.Run()
	waitUntil(t, "a is up again", func() bool { up, _ := a.Up(); return up })
	id, err := a.PublishPurge(ctx, Purge{URL: "/after"})
	if err != nil {
		t.Fatal(err)
	}
	if p := nextPurge(t, fromB); p.ID != id {
		t.Errorf("b applied %+v; want %s", p, id)
	}
}

// TestPurgeMissedBeyondStream: a node away for more purges than the
// stream keeps cannot know what it missed, so it purges everything.
func TestPurgeMissedBeyondStream(t *testing.T) {
	r := startRedis(t)
	// Small stream nodes, so that MAXLEN ~ trims at small lengths.
	if err := r.client().ConfigSet(context.Background(), "stream-node-max-entries", "2").Err(); err != nil {
		t.Fatal(err)
	}
	short := func(o *Options) { o.StreamLen = 2 }
	a := openNode(t, r, "a", "", short)
	dirB := t.TempDir()
	b := openNode(t, r, "b", dirB, short)
	ctx := context.Background()
	waitUntil(t, "b has its stream position", func() bool {
		last, err := b.loadLastPurge()
		return err == nil && last != ""
	})
	b.Close()
	for range 10 {
		if _, err := a.PublishPurge(ctx, Purge{URL: "/x"}); err != nil {
			t.Fatal(err)
		}
	}
	fromB, applyB := purgeSink()
	openNode(t, r, "b", dirB, func(o *Options) { short(o); applyB(o) })
	if p := nextPurge(t, fromB); !p.All || !p.Missed {
		t.Errorf("first purge after a long absence = %+v; want purge-all, Missed", p)
	}
}
