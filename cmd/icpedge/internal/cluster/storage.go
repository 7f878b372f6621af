package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
)

// Storage is a certmagic.Storage on Redis, shared by the cluster's nodes,
// with a Locker whose locks expire when their holder stops renewing them.
//
// Each value is a Redis hash ("v" the bytes, "m" the modification time in
// Unix milliseconds) at <prefix>data:<key>; a sorted set at <prefix>index
// lists every key, so that List and Exists need no SCAN. Every value read
// or written, ACME challenge tokens apart, is mirrored to a local
// directory. While Redis is unreachable Load, Exists, List and Stat
// answer from the mirror, and Store and Delete change the mirror and are
// written to Redis when it returns; Lock fails, so no node obtains a
// certificate the others cannot see.
type Storage struct {
	n      *Node
	mirror string // directory

	mu      sync.Mutex
	pending map[string]pendingOp // key → what Redis has not seen yet
	locks   map[string]*heldLock // lock name → held by this node
}

// pendingOp is a write made while Redis was unreachable.
type pendingOp struct {
	Delete bool  `json:"delete,omitempty"`
	At     int64 `json:"at"` // Unix milliseconds
}

var _ certmagic.Storage = (*Storage)(nil)
var _ certmagic.TryLocker = (*Storage)(nil)

const pendingFile = "pending.json"

func newStorage(n *Node, mirror string) (*Storage, error) {
	s := &Storage{n: n, mirror: mirror, pending: map[string]pendingOp{}, locks: map[string]*heldLock{}}
	data, err := os.ReadFile(filepath.Join(n.stateDir, pendingFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("cluster: reading writes not yet in redis: %w", err)
	default:
		if err := json.Unmarshal(data, &s.pending); err != nil {
			return nil, fmt.Errorf("cluster: reading writes not yet in redis from %s: %w", filepath.Join(n.stateDir, pendingFile), err)
		}
	}
	return s, nil
}

// checkKey refuses keys that could leave the mirror directory. certmagic's
// keys are slash-separated without leading or trailing slashes.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("cluster: storage key %q: expected a relative slash-separated path", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("cluster: storage key %q: expected no empty, . or .. segment", key)
		}
	}
	return nil
}

func (s *Storage) dataKey(key string) string { return s.n.key("data:" + key) }
func (s *Storage) indexKey() string          { return s.n.key("index") }
func (s *Storage) file(key string) string    { return filepath.Join(s.mirror, filepath.FromSlash(key)) }

// Store puts value at key, in Redis and the mirror. While Redis is
// unreachable it is written to the mirror only, and to Redis on return.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	now := s.n.opts.Now()
	eph := ephemeral(key)
	if !eph {
		if err := s.writeMirror(key, value, now); err != nil {
			return err
		}
	}
	err := s.redisStore(ctx, key, value, now.UnixMilli())
	if unreachable(err) && ctx.Err() == nil {
		s.n.failed(err)
		if eph {
			return fmt.Errorf("cluster: storing %s: %w", key, err)
		}
		return s.addPending(key, pendingOp{At: now.UnixMilli()})
	}
	if err != nil {
		return fmt.Errorf("cluster: storing %s: %w", key, err)
	}
	return s.donePending(key)
}

func (s *Storage) redisStore(ctx context.Context, key string, value []byte, ms int64) error {
	_, err := s.n.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.dataKey(key), "v", value, "m", ms)
		p.ZAdd(ctx, s.indexKey(), redis.Z{Member: key})
		return nil
	})
	return err
}

// Load returns the value at key: from Redis (refreshing the mirror), or
// from the mirror while Redis is unreachable.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if s.isPending(key) {
		return s.readMirror(key) // newer than Redis until caught up
	}
	res, err := s.n.rdb.HMGet(ctx, s.dataKey(key), "v", "m").Result()
	if unreachable(err) && ctx.Err() == nil {
		s.n.failed(err)
		if ephemeral(key) {
			return nil, fmt.Errorf("cluster: loading %s: %w", key, err)
		}
		s.n.log.Debug("cluster load from the mirror", "key", key, "err", err)
		return s.readMirror(key)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: loading %s: %w", key, err)
	}
	v, ok := res[0].(string)
	if !ok {
		// Gone from Redis: another node deleted it, so the mirror's copy
		// is stale too.
		s.removeMirror(key)
		return nil, fmt.Errorf("cluster: loading %s: %w", key, fs.ErrNotExist)
	}
	if ephemeral(key) {
		return []byte(v), nil
	}
	ms, _ := res[1].(string)
	m, _ := strconv.ParseInt(ms, 10, 64)
	if err := s.writeMirror(key, []byte(v), time.UnixMilli(m)); err != nil {
		s.n.log.Warn("cluster mirror write failed", "key", key, "err", err)
	}
	return []byte(v), nil
}

// ephemeral reports whether key is an ACME challenge's token: stored by
// the node that placed an order so that any node can answer the CA, and
// deleted when the challenge ends. Tokens are not mirrored. They are of
// no use while Redis is unreachable (no order starts without its lock,
// and the ordering node answers from memory), and a node that answered
// the CA would keep its copy forever: the deletion is made by the node
// that placed the order, in Redis and in its own mirror only.
func ephemeral(key string) bool {
	return strings.Contains("/"+key+"/", "/challenge_tokens/")
}

// Delete removes key and every key under it.
func (s *Storage) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := os.RemoveAll(s.file(key)); err != nil {
		return fmt.Errorf("cluster: deleting %s from the mirror: %w", key, err)
	}
	err := s.redisDelete(ctx, key, 0)
	if unreachable(err) && ctx.Err() == nil {
		s.n.failed(err)
		return s.addPending(key, pendingOp{Delete: true, At: s.n.opts.Now().UnixMilli()})
	}
	if err != nil {
		return fmt.Errorf("cluster: deleting %s: %w", key, err)
	}
	return s.donePending(key)
}

// deleteScript deletes a key and the keys under it, and their index
// entries, atomically. With ARGV[3] > 0 it deletes only values modified
// at or before that time (a deletion caught up after an outage must not
// remove what another node stored since).
var deleteScript = redis.NewScript(`
local idx, data, key, before = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local function del(k)
  if before > 0 then
    local m = tonumber(redis.call('HGET', data .. k, 'm'))
    if m and m > before then return end
  end
  redis.call('DEL', data .. k)
  redis.call('ZREM', idx, k)
end
del(key)
local under = redis.call('ZRANGEBYLEX', idx, '[' .. key .. '/', '(' .. key .. '0')
for _, k in ipairs(under) do del(k) end
return #under
`)

func (s *Storage) redisDelete(ctx context.Context, key string, before int64) error {
	// "0" follows "/" in byte order, so [key/, key0) is everything under key/.
	return deleteScript.Run(ctx, s.n.rdb, []string{s.indexKey()}, s.n.key("data:"), key, before).Err()
}

// Exists reports whether key is a value or a directory holding one.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// Stat describes key: a value (terminal, with size and modification
// time) or a directory of values.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	if err := checkKey(key); err != nil {
		return certmagic.KeyInfo{}, err
	}
	if s.isPending(key) {
		return s.statMirror(key)
	}
	pipe := s.n.rdb.Pipeline()
	mCmd := pipe.HGet(ctx, s.dataKey(key), "m")
	lenCmd := pipe.HStrLen(ctx, s.dataKey(key), "v")
	under := pipe.ZRangeByLex(ctx, s.indexKey(), &redis.ZRangeBy{Min: "[" + key + "/", Max: "(" + key + "0", Count: 1})
	_, err := pipe.Exec(ctx)
	if unreachable(err) && ctx.Err() == nil {
		s.n.failed(err)
		return s.statMirror(key)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return certmagic.KeyInfo{}, fmt.Errorf("cluster: stat %s: %w", key, err)
	}
	if ms, err := mCmd.Int64(); err == nil {
		return certmagic.KeyInfo{Key: key, Modified: time.UnixMilli(ms), Size: lenCmd.Val(), IsTerminal: true}, nil
	}
	if len(under.Val()) > 0 {
		return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
	}
	return certmagic.KeyInfo{}, fmt.Errorf("cluster: stat %s: %w", key, fs.ErrNotExist)
}

// List returns the keys under dir ("" for all): with recursive, every
// value and directory below it; without, its direct children.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	if dir != "" {
		if err := checkKey(dir); err != nil {
			return nil, err
		}
	}
	lo, hi := "-", "+"
	if dir != "" {
		lo, hi = "["+dir+"/", "("+dir+"0"
	}
	//lint:ignore SA1019 ZRANGE BYLEX, its replacement, needs Redis 6.2; managed Redis 5 is still sold
	all, err := s.n.rdb.ZRangeByLex(ctx, s.indexKey(), &redis.ZRangeBy{Min: lo, Max: hi}).Result()
	if unreachable(err) && ctx.Err() == nil {
		s.n.failed(err)
		all, err = s.listMirror(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: listing %s: %w", dir, err)
	}
	s.mu.Lock()
	for k, op := range s.pending {
		if !op.Delete && (dir == "" || strings.HasPrefix(k, dir+"/")) {
			all = append(all, k)
		}
	}
	s.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range all {
		rest := k
		base := ""
		if dir != "" {
			rest, base = strings.TrimPrefix(k, dir+"/"), dir+"/"
		}
		parts := strings.Split(rest, "/")
		if !recursive {
			add(base + parts[0])
			continue
		}
		for i := range parts {
			add(base + strings.Join(parts[:i+1], "/"))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster: listing %s: %w", dir, fs.ErrNotExist)
	}
	slices.Sort(out)
	return out, nil
}

// The mirror.

func (s *Storage) writeMirror(key string, value []byte, mod time.Time) error {
	name := s.file(key)
	if old, err := os.ReadFile(name); err == nil && bytes.Equal(old, value) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return fmt.Errorf("cluster: mirroring %s: %w", key, err)
	}
	if err := writeFileAtomic(name, value); err != nil {
		return fmt.Errorf("cluster: mirroring %s: %w", key, err)
	}
	if !mod.IsZero() {
		os.Chtimes(name, mod, mod)
	}
	return nil
}

func (s *Storage) readMirror(key string) ([]byte, error) {
	v, err := os.ReadFile(s.file(key))
	if err != nil {
		return nil, fmt.Errorf("cluster: loading %s from the mirror: %w", key, err)
	}
	return v, nil
}

func (s *Storage) removeMirror(key string) {
	if err := os.Remove(s.file(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.n.log.Warn("cluster mirror remove failed", "key", key, "err", err)
	}
}

func (s *Storage) statMirror(key string) (certmagic.KeyInfo, error) {
	fi, err := os.Stat(s.file(key))
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("cluster: stat %s in the mirror: %w", key, err)
	}
	return certmagic.KeyInfo{Key: key, Modified: fi.ModTime(), Size: fi.Size(), IsTerminal: !fi.IsDir()}, nil
}

// listMirror lists every value in the mirror under dir.
func (s *Storage) listMirror(dir string) ([]string, error) {
	root := s.mirror
	if dir != "" {
		root = s.file(dir)
	}
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(s.mirror, p)
		if err != nil {
			return err
		}
		out = append(out, path.Clean(filepath.ToSlash(rel)))
		return nil
	})
	return out, err
}

// Writes not yet in Redis.

func (s *Storage) isPending(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pending[key]
	return ok
}

func (s *Storage) addPending(key string, op pendingOp) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending[key] = op
	s.n.log.Warn("cluster write kept until redis returns", "key", key, "delete", op.Delete)
	return s.savePending()
}

func (s *Storage) donePending(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[key]; !ok {
		return nil
	}
	delete(s.pending, key)
	return s.savePending()
}

// savePending persists the pending writes, so that a node restarted
// before Redis returns still writes them. s.mu is held.
func (s *Storage) savePending() error {
	data, err := json.Marshal(s.pending)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(s.n.stateDir, pendingFile), data); err != nil {
		return fmt.Errorf("cluster: saving writes not yet in redis: %w", err)
	}
	return nil
}

// catchUpScript stores a value unless Redis holds one modified after it.
var catchUpScript = redis.NewScript(`
local m = tonumber(redis.call('HGET', KEYS[1], 'm'))
if m and m > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'm', ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
return 1
`)

// catchUp writes to Redis what was stored or deleted while it was down,
// unless another node has written the key since.
func (s *Storage) catchUp(ctx context.Context) error {
	s.mu.Lock()
	keys := make([]string, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, key := range keys {
		s.mu.Lock()
		op, ok := s.pending[key]
		s.mu.Unlock()
		if !ok {
			continue
		}
		var err error
		if op.Delete {
			err = s.redisDelete(ctx, key, op.At)
		} else {
			var v []byte
			v, err = os.ReadFile(s.file(key))
			if errors.Is(err, fs.ErrNotExist) {
				err = nil // deleted since, with its own pending entry gone
			} else if err == nil {
				err = catchUpScript.Run(ctx, s.n.rdb, []string{s.dataKey(key), s.indexKey()}, v, op.At, key).Err()
			}
		}
		if err != nil {
			return fmt.Errorf("cluster: catching up %s: %w", key, err)
		}
		s.mu.Lock()
		if cur, ok := s.pending[key]; ok && cur == op {
			delete(s.pending, key)
			err = s.savePending()
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		s.n.log.Info("cluster write caught up", "key", key, "delete", op.Delete)
	}
	return nil
}

// Pending is how many writes made while Redis was unreachable are not yet
// in Redis.
func (s *Storage) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
