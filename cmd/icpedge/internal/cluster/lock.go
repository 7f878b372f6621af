package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// heldLock is a lock this node holds, and the goroutine renewing it.
type heldLock struct {
	key   string
	token string
	stop  chan struct{}
	done  chan struct{}
}

// A lock is a Redis key holding a random token, set only if absent, that
// expires after LockTTL unless its holder renews it. Only the token's
// owner may renew or delete it: both are compare-and-act scripts, so a
// holder whose lock expired and was taken by another node cannot touch
// the new holder's lock.
var (
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)
	unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
)

// errRedisDown is returned by Lock and TryLock while Redis is unreachable:
// without it no lock is safe, so work that needs one waits.
var errRedisDown = errors.New("cluster: redis unreachable, no lock can be taken")

func (s *Storage) lockKey(name string) string { return s.n.key("lock:" + name) }

// TryLock takes the lock for name if no node holds it.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	s.mu.Lock()
	_, mine := s.locks[name]
	s.mu.Unlock()
	if mine {
		return false, nil // one holder per name, even within this node
	}
	token, err := newToken(s.n.opts.Node)
	if err != nil {
		return false, err
	}
	key := s.lockKey(name)
	ok, err := s.n.rdb.SetNX(ctx, key, token, s.n.opts.LockTTL).Result()
	if err != nil {
		if unreachable(err) && ctx.Err() == nil {
			s.n.failed(err)
			return false, fmt.Errorf("locking %s: %w: %w", name, errRedisDown, err)
		}
		return false, fmt.Errorf("cluster: locking %s: %w", name, err)
	}
	if !ok {
		return false, nil
	}
	h := &heldLock{key: key, token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	if _, raced := s.locks[name]; raced {
		s.mu.Unlock()
		unlockScript.Run(ctx, s.n.rdb, []string{key}, token)
		return false, nil
	}
	s.locks[name] = h
	s.mu.Unlock()
	go s.renew(name, h)
	return true, nil
}

// Lock takes the lock for name, waiting while another node holds it, until
// ctx ends. It fails at once while Redis is unreachable.
func (s *Storage) Lock(ctx context.Context, name string) error {
	// Polling: a lock frees by Unlock or by expiry, and expiry sends no
	// event. Waits grow to a second, so a freed lock is taken quickly
	// without hammering Redis.
	wait := 20 * time.Millisecond
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("cluster: waiting for lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, time.Second)
	}
}

// Unlock releases the lock for name if this node still holds it. A lock
// that expired and was taken by another node is left to that node.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h, ok := s.locks[name]
	delete(s.locks, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("cluster: unlocking %s: not held by this node", name)
	}
	close(h.stop)
	<-h.done
	n, err := unlockScript.Run(ctx, s.n.rdb, []string{h.key}, h.token).Int()
	if err != nil {
		// The lock expires by itself after LockTTL.
		return fmt.Errorf("cluster: unlocking %s: %w", name, s.n.failed(err))
	}
	if n == 0 {
		s.n.log.Warn("cluster lock had expired before unlock", "lock", name)
	}
	return nil
}

// renew extends h every LockTTL/3 until it is released, or lost.
func (s *Storage) renew(name string, h *heldLock) {
	defer close(h.done)
	ttl := s.n.opts.LockTTL
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(ttl/3, s.n.opts.Timeout))
		n, err := renewScript.Run(ctx, s.n.rdb, []string{h.key}, h.token, ttl.Milliseconds()).Int()
		cancel()
		switch {
		case err != nil:
			// Keep trying: the lock lives until its TTL runs out.
			s.n.failed(err)
			s.n.log.Warn("cluster lock renewal failed", "lock", name, "err", err)
		case n == 0:
			s.n.log.Error("cluster lock lost: it expired before renewal", "lock", name)
			return
		}
	}
}

// stopRenewals stops renewing every lock without releasing them.
func (s *Storage) stopRenewals() {
	s.mu.Lock()
	held := s.locks
	s.locks = map[string]*heldLock{}
	s.mu.Unlock()
	for _, h := range held {
		close(h.stop)
		<-h.done
	}
}

// releaseAll releases every lock this node holds, at Close.
func (s *Storage) releaseAll(ctx context.Context) {
	s.mu.Lock()
	names := make([]string, 0, len(s.locks))
	for name := range s.locks {
		names = append(names, name)
	}
	s.mu.Unlock()
	for _, name := range names {
		if err := s.Unlock(ctx, name); err != nil {
			s.n.log.Warn("cluster lock not released at close", "lock", name, "err", err)
		}
	}
}

// newToken is a lock owner's proof: the node's name, for people reading
// Redis, and 128 random bits.
func newToken(node string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cluster: lock token: %w", err)
	}
	return node + ":" + hex.EncodeToString(b), nil
}

// TryJob takes the cluster-wide lock for a job that one node at a time
// should run, such as the self-audit. When ok, the caller runs the job
// and then calls release; the lock is renewed meanwhile, and expires if
// the node dies.
func (n *Node) TryJob(ctx context.Context, job string) (release func(), ok bool, err error) {
	name := "job/" + job
	ok, err = n.storage.TryLock(ctx, name)
	if !ok || err != nil {
		return nil, false, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
		defer cancel()
		if err := n.storage.Unlock(ctx, name); err != nil {
			n.log.Warn("cluster job lock not released", "job", job, "err", err)
		}
	}, true, nil
}
