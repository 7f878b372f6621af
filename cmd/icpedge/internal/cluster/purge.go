package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Purge is a purge as it travels between nodes: what proxy.Purge says,
// and the host it was given for.
type Purge struct {
	// ID is the purge's stream entry ID, set by PublishPurge and on
	// purges given to Options.Apply.
	ID string
	// Node is the node it was given to.
	Node   string
	URL    string
	Prefix string
	All    bool
	// Host is the admin request's host parameter, "" for none.
	Host string
	// Missed is set on the purge-everything Apply gets when this node was
	// away for longer than the stream holds: the purges it missed are
	// gone, so all it can do is drop everything.
	Missed bool
}

// appliedTTL is how long the list of nodes that applied a purge is kept.
const appliedTTL = 24 * time.Hour

const lastPurgeFile = "last-purge"

func (n *Node) streamKey() string           { return n.key("purges") }
func (n *Node) appliedKey(id string) string { return n.key("purge:" + id + ":applied") }

// PublishPurge sends p, already applied by this node, to the others, and
// records this node as having applied it. It returns the purge's ID.
func (n *Node) PublishPurge(ctx context.Context, p Purge) (string, error) {
	id, err := n.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: n.streamKey(),
		MaxLen: n.opts.StreamLen,
		Approx: true,
		Values: map[string]any{
			"node": n.opts.Node, "url": p.URL, "prefix": p.Prefix, "all": strconv.FormatBool(p.All), "host": p.Host,
		},
	}).Result()
	if err != nil {
		return "", fmt.Errorf("cluster: publishing purge: %w", n.failed(err))
	}
	if err := n.markApplied(ctx, id); err != nil {
		return id, err
	}
	return id, nil
}

func (n *Node) markApplied(ctx context.Context, id string) error {
	_, err := n.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, n.appliedKey(id), n.opts.Node)
		p.Expire(ctx, n.appliedKey(id), appliedTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster: recording purge %s as applied: %w", id, n.failed(err))
	}
	return nil
}

// Applied lists the nodes that have applied purge id, sorted.
func (n *Node) Applied(ctx context.Context, id string) ([]string, error) {
	names, err := n.rdb.SMembers(ctx, n.appliedKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: nodes that applied purge %s: %w", id, n.failed(err))
	}
	slices.Sort(names)
	return names, nil
}

// AwaitApplied waits until every node listed by Nodes has applied purge
// id, or ctx ends, and returns the nodes that applied it by then. A
// node that is away applies it when it returns, after this has answered.
func (n *Node) AwaitApplied(ctx context.Context, id string) ([]string, error) {
	wait := 20 * time.Millisecond
	for {
		applied, err := n.Applied(ctx, id)
		if err != nil {
			return applied, err
		}
		nodes, err := n.Nodes(ctx)
		if err != nil {
			return applied, err
		}
		all := true
		for _, nd := range nodes {
			if _, found := slices.BinarySearch(applied, nd.Name); !found {
				all = false
				break
			}
		}
		if all {
			return applied, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return applied, nil
		case <-t.C:
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

// loadLastPurge reads the ID of the last purge this node has seen; ""
// when it has never seen one.
func (n *Node) loadLastPurge() (string, error) {
	data, err := os.ReadFile(filepath.Join(n.stateDir, lastPurgeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cluster: reading the last purge seen: %w", err)
	}
	id := strings.TrimSpace(string(data))
	if _, _, ok := parseStreamID(id); !ok {
		return "", fmt.Errorf("cluster: %s holds %q; expected a stream ID such as 1700000000000-0", filepath.Join(n.stateDir, lastPurgeFile), id)
	}
	return id, nil
}

func (n *Node) saveLastPurge(id string) error {
	return writeFileAtomic(filepath.Join(n.stateDir, lastPurgeFile), []byte(id+"\n"))
}

// consumePurges reads the purge stream from after last, the ID of the last
// purge this node saw, and hands other nodes' purges to Apply. The ID is
// persisted after each, so a node that was away or restarted replays
// exactly what it missed.
func (n *Node) consumePurges(ctx context.Context, last string) {
	defer n.wg.Done()
	const (
		block = 5 * time.Second // one XREAD waits this long for a purge
		batch = 100
	)
	backoff := 100 * time.Millisecond
	pause := func() bool {
		t := time.NewTimer(backoff)
		defer t.Stop()
		backoff = min(backoff*2, n.opts.MaxBackoff)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for ctx.Err() == nil {
		if last == "" {
			// A new node has no cached pages to purge: it starts from
			// the stream's end.
			id, err := n.streamEnd(ctx)
			if err != nil {
				n.failed(err)
				if !pause() {
					return
				}
				continue
			}
			if err := n.saveLastPurge(id); err != nil {
				n.log.Error("cluster purge position not saved", "err", err)
			}
			last = id
		}
		if missed, err := n.missedPurges(ctx, last); err != nil {
			n.failed(err)
			if !pause() {
				return
			}
			continue
		} else if missed {
			n.log.Warn("cluster purges missed: away longer than the stream holds; purging everything", "last_seen", last)
			n.apply(ctx, Purge{All: true, Missed: true})
		}
		res, err := n.reader.XRead(ctx, &redis.XReadArgs{Streams: []string{n.streamKey(), last}, Count: batch, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			backoff = 100 * time.Millisecond
			continue // nothing new within block
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.failed(err)
			if !pause() {
				return
			}
			continue
		}
		backoff = 100 * time.Millisecond
		for _, st := range res {
			for _, msg := range st.Messages {
				p := purgeFrom(msg)
				if p.Node != n.opts.Node {
					if n.apply(ctx, p) {
						if err := n.markApplied(ctx, p.ID); err != nil {
							n.log.Warn("cluster purge not recorded as applied", "id", p.ID, "err", err)
						}
					}
				}
				last = msg.ID
				if err := n.saveLastPurge(last); err != nil {
					n.log.Error("cluster purge position not saved", "err", err)
				}
			}
		}
	}
}

// apply hands p to Options.Apply and reports whether it was applied.
func (n *Node) apply(_ context.Context, p Purge) bool {
	if n.opts.Apply == nil {
		return true
	}
	if err := n.opts.Apply(p); err != nil {
		// A purge that fails here (a bad prefix) fails on every retry.
		n.log.Error("cluster purge failed", "id", p.ID, "from", p.Node, "err", err)
		return false
	}
	n.log.Info("cluster purge applied", "id", p.ID, "from", p.Node, "url", p.URL, "prefix", p.Prefix, "all", p.All, "host", p.Host)
	return true
}

func purgeFrom(msg redis.XMessage) Purge {
	str := func(k string) string { s, _ := msg.Values[k].(string); return s }
	return Purge{ID: msg.ID, Node: str("node"), URL: str("url"), Prefix: str("prefix"), All: str("all") == "true", Host: str("host")}
}

// streamEnd is the ID of the stream's last entry, "0-0" when empty.
func (n *Node) streamEnd(ctx context.Context) (string, error) {
	msgs, err := n.rdb.XRevRangeN(ctx, n.streamKey(), "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// missedPurges reports whether entries after last may have been trimmed
// from the stream before this node read them: last itself was trimmed
// (it is older than the first entry) and the stream has lost entries.
// Redis does not say whether any lost entry came after last, so in the
// rare case where the first entry kept is the one right after last this
// errs towards purging everything, the safe side.
func (n *Node) missedPurges(ctx context.Context, last string) (bool, error) {
	info, err := n.rdb.XInfoStream(ctx, n.streamKey()).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return false, nil
		}
		return false, err
	}
	first := info.RecordedFirstEntryID
	if first == "" || first == "0-0" {
		first = info.FirstEntry.ID
	}
	return info.EntriesAdded > info.Length && streamIDLess(last, first), nil
}

func parseStreamID(id string) (ms, seq uint64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, found && err1 == nil && err2 == nil
}

// streamIDLess reports whether stream ID a sorts before b.
func streamIDLess(a, b string) bool {
	am, as, ok1 := parseStreamID(a)
	bm, bs, ok2 := parseStreamID(b)
	if !ok1 || !ok2 {
		return false
	}
	return am < bm || am == bm && as < bs
}
