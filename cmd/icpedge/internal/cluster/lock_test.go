package cluster

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestLockOneHolder(t *testing.T) {
	r := startRedis(t)
	a := openNode(t, r, "a", "", nil)
	b := openNode(t, r, "b", "", nil)
	ctx := context.Background()

	// Both nodes race for the same lock: exactly one gets it.
	var wg sync.WaitGroup
	got := make([]bool, 2)
	for i, n := range []*Node{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := n.Storage().TryLock(ctx, "issue_cert_icp.client.com")
			if err != nil {
				t.Errorf("TryLock on %s: %v", n.Name(), err)
			}
			got[i] = ok
		}()
	}
	wg.Wait()
	if got[0] == got[1] {
		t.Fatalf("TryLock results %v; want exactly one holder", got)
	}
	holder, waiter := a, b
	if got[1] {
		holder, waiter = b, a
	}

	// The other waits in Lock until the holder unlocks.
	locked := make(chan error, 1)
	go func() { locked <- waiter.Storage().Lock(ctx, "issue_cert_icp.client.com") }()
	if ok, err := waiter.Storage().TryLock(ctx, "issue_cert_icp.client.com"); ok || err != nil {
		t.Fatalf("TryLock while held = %v, %v; want false, nil", ok, err)
	}
	select {
	case err := <-locked:
		t.Fatalf("Lock returned (%v) while the other node held the lock", err)
	default:
	}
	if err := holder.Storage().Unlock(ctx, "issue_cert_icp.client.com"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-locked:
		if err != nil {
			t.Fatalf("Lock after unlock: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Lock did not return after the holder unlocked")
	}
	if err := waiter.Storage().Unlock(ctx, "issue_cert_icp.client.com"); err != nil {
		t.Fatal(err)
	}

	// Lock honours its context while the lock is held elsewhere.
	if err := holder.Storage().Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := waiter.Storage().Lock(cctx, "x"); err == nil {
		t.Fatal("Lock with a cancelled context took a held lock")
	}
}

func TestLockExpiresWhenHolderCrashes(t *testing.T) {
	r := startRedis(t)
	short := func(o *Options) { o.LockTTL = time.Second }
	a := openNode(t, r, "a", "", short)
	b := openNode(t, r, "b", "", short)
	ctx := context.Background()

	if err := a.Storage().Lock(ctx, "renewal"); err != nil {
		t.Fatal(err)
	}
	a.abandon() // a crash: no unlock, no more renewals

	lctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if err := b.Storage().Lock(lctx, "renewal"); err != nil {
		t.Fatalf("the crashed holder's lock never freed: %v", err)
	}
	if err := b.Storage().Unlock(ctx, "renewal"); err != nil {
		t.Fatal(err)
	}
}

func TestLockRenewedWhileHeld(t *testing.T) {
	r := startRedis(t)
	rdb := r.client()
	ttl := 1500 * time.Millisecond
	a := openNode(t, r, "a", "", func(o *Options) { o.LockTTL = ttl })
	b := openNode(t, r, "b", "", nil)
	ctx := context.Background()

	if err := a.Storage().Lock(ctx, "renewal"); err != nil {
		t.Fatal(err)
	}
	// Watch the lock's remaining time: each rise is a renewal. After
	// several renewals, longer in all than the TTL, a still holds it.
	key := a.Storage().lockKey("renewal")
	renewals, last := 0, ttl
	start := time.Now()
	waitUntil(t, "the lock is renewed 4 times", func() bool {
		left, err := rdb.PTTL(ctx, key).Result()
		if err != nil || left <= 0 {
			t.Fatalf("lock key PTTL = %v, %v while held; want a positive TTL", left, err)
		}
		if left > last {
			renewals++
		}
		last = left
		return renewals >= 4
	})
	if time.Since(start) < ttl {
		t.Fatalf("4 renewals in %v, under one TTL (%v)", time.Since(start), ttl)
	}
	if ok, err := b.Storage().TryLock(ctx, "renewal"); ok || err != nil {
		t.Fatalf("TryLock on b after renewals = %v, %v; want false: a still holds it", ok, err)
	}
	if err := a.Storage().Unlock(ctx, "renewal"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Storage().TryLock(ctx, "renewal"); !ok || err != nil {
		t.Fatalf("TryLock on b after unlock = %v, %v; want true", ok, err)
	}
}

// TestUnlockOnlyOwnLock: a holder whose lock expired and was taken by
// another node must not release the new holder's lock.
func TestUnlockOnlyOwnLock(t *testing.T) {
	r := startRedis(t)
	rdb := r.client()
	a := openNode(t, r, "a", "", nil)
	b := openNode(t, r, "b", "", nil)
	ctx := context.Background()

	if err := a.Storage().Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	key := a.Storage().lockKey("l")
	rdb.Del(ctx, key) // as if it had expired while a was stalled
	if ok, err := b.Storage().TryLock(ctx, "l"); !ok || err != nil {
		t.Fatalf("TryLock on b = %v, %v; want true", ok, err)
	}
	if err := a.Storage().Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	owner, err := rdb.Get(ctx, key).Result()
	if err != nil || owner[:2] != "b:" {
		t.Fatalf("after a's late unlock the lock holds %q (%v); want b's token", owner, err)
	}
}

func TestTryJobOneNodeAtATime(t *testing.T) {
	r := startRedis(t)
	a := openNode(t, r, "a", "", nil)
	b := openNode(t, r, "b", "", nil)
	ctx := context.Background()

	release, ok, err := a.TryJob(ctx, "self-audit")
	if !ok || err != nil {
		t.Fatalf("TryJob on a = %v, %v; want true", ok, err)
	}
	if _, ok, err := b.TryJob(ctx, "self-audit"); ok || err != nil {
		t.Fatalf("TryJob on b while a runs = %v, %v; want false", ok, err)
	}
	release()
	release, ok, err = b.TryJob(ctx, "self-audit")
	if !ok || err != nil {
		t.Fatalf("TryJob on b after a finished = %v, %v; want true", ok, err)
	}
	release()
}
