package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NodeInfo is one node as its heartbeat describes it.
type NodeInfo struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Version string `json:"version"`
	// Hosts are the hosts the node serves.
	Hosts []string `json:"hosts"`
	// Fingerprint sums the config that shapes the node's pages (hosts,
	// notice, localize, policy); see Fingerprint.
	Fingerprint string    `json:"fingerprint"`
	LastSeen    time.Time `json:"last_seen"`
}

// Fingerprint sums the parts of a config that shape pages, in order, into
// a short hex string. Two nodes with equal parts have equal fingerprints.
func Fingerprint(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		// Length first, so that ("ab","c") and ("a","bc") differ.
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Announce changes what this node's heartbeat says it serves, after a
// reload: its hosts and the fingerprint of its config. The next heartbeat
// carries them; Announce sends one at once when Redis is up, bounded by
// Options.Timeout, so that /cluster and drift checks see the change
// without waiting a heartbeat period.
func (n *Node) Announce(hosts []string, fingerprint string) {
	n.mu.Lock()
	n.hosts, n.fingerprint = slices.Clone(hosts), fingerprint
	up := n.up
	n.mu.Unlock()
	if !up {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	defer cancel()
	if err := n.heartbeat(ctx); err != nil {
		n.failed(err)
	}
}

func (n *Node) heartbeat(ctx context.Context) error {
	n.mu.Lock()
	info := NodeInfo{
		Name: n.opts.Node, Address: n.opts.Address, Version: n.opts.Version,
		Hosts: n.hosts, Fingerprint: n.fingerprint, LastSeen: n.opts.Now().UTC(),
	}
	n.mu.Unlock()
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return n.rdb.Set(ctx, n.key("node:"+n.opts.Node), data, 3*n.opts.Heartbeat).Err()
}

// Inspect lists the live nodes of the cluster opts describes (URL,
// Password, TLS, Prefix and Timeout are used) without joining it: no
// heartbeat, no state directory, no purge replay. It is for tools such as
// icpedge check that look at a cluster from outside.
func Inspect(ctx context.Context, opts Options) ([]NodeInfo, error) {
	opts.Node = "inspect"
	opts = opts.withDefaults()
	if opts.URL == nil {
		return nil, errors.New("cluster: no redis URL")
	}
	ropts, err := redisOptions(opts)
	if err != nil {
		return nil, err
	}
	n := &Node{opts: opts, rdb: redis.NewClient(ropts), log: opts.Logger}
	defer n.rdb.Close()
	return n.Nodes(ctx)
}

// maxNodes bounds the nodes Nodes reads: a cluster has a handful.
const maxNodes = 1000

// Nodes lists the live nodes, this one included while Redis is up,
// sorted by name. A node that misses three heartbeats drops out.
func (n *Node) Nodes(ctx context.Context) ([]NodeInfo, error) {
	var keys []string
	pattern := globEscape(n.key("node:")) + "*"
	iter := n.rdb.Scan(ctx, 0, pattern, 100).Iterator()
	for iter.Next(ctx) && len(keys) < maxNodes {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("cluster: listing nodes: %w", n.failed(err))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	vals, err := n.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: listing nodes: %w", n.failed(err))
	}
	var out []NodeInfo
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // expired between SCAN and MGET
		}
		var info NodeInfo
		if err := json.Unmarshal([]byte(s), &info); err != nil {
			n.log.Warn("cluster heartbeat unreadable", "key", keys[i], "err", err)
			continue
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// globEscape escapes the glob characters of SCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// DriftReport is a host that nodes serve with different configs, so that
// visitors may see different notices depending on the node they reach.
type DriftReport struct {
	Host string
	// Nodes maps each fingerprint to the nodes that have it, sorted.
	Nodes map[string][]string
}

// Drift finds the hosts served by nodes whose fingerprints differ, sorted
// by host.
func Drift(nodes []NodeInfo) []DriftReport {
	byHost := map[string]map[string][]string{}
	for _, nd := range nodes {
		for _, h := range nd.Hosts {
			if byHost[h] == nil {
				byHost[h] = map[string][]string{}
			}
			byHost[h][nd.Fingerprint] = append(byHost[h][nd.Fingerprint], nd.Name)
		}
	}
	var out []DriftReport
	for h, fps := range byHost {
		if len(fps) < 2 {
			continue
		}
		for _, names := range fps {
			slices.Sort(names)
		}
		out = append(out, DriftReport{Host: h, Nodes: fps})
	}
	slices.SortFunc(out, func(a, b DriftReport) int { return strings.Compare(a.Host, b.Host) })
	return out
}
