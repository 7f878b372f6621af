package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/cluster"
	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
)

// CheckClusterDrift is the check that every node of a client's cluster
// serves its hosts with the same config for what shapes pages: two
// fingerprints mean visitors may see two notices for one domain,
// depending on the node they reach.
const CheckClusterDrift = "cluster-drift"

// purgeSpreadWait bounds how long a purge's answer waits for the other
// nodes to apply it. A node that is slower, or away, applies it later
// (from the stream); the answer lists those that had by then.
const purgeSpreadWait = 5 * time.Second

// member is a client's membership in its cluster. It lasts across
// reloads: the node is opened once, and a reload that changes the
// cluster block is warned about and applied at the next restart.
type member struct {
	node     *cluster.Node
	settings string // clusterSettings of the block it was opened with
	where    string // clusterWhere of that block
}

// clusterWhere is the Redis server, database and key prefix of a cluster
// block: the keys it uses.
func clusterWhere(c *config.Cluster) string {
	u := *c.Redis
	u.User = nil
	return u.String() + " " + c.Prefix
}

// clusterSettings says what a node was opened with, to tell a reload
// that changed it.
func clusterSettings(c *config.Cluster) string {
	return fmt.Sprint(c.Redis.String(), c.PasswordFile, c.Node, c.Prefix)
}

// Fingerprint sums what shapes a client's pages (hosts, notice, localize,
// policy), for the cluster's drift check: two nodes with the same
// fingerprint serve the same notice on the same hosts.
func Fingerprint(cfg *config.Config) string {
	var parts [][]byte
	for _, v := range []any{cfg.Hosts, cfg.Notice, cfg.Localize, cfg.Policy} {
		b, err := json.Marshal(v)
		if err != nil {
			// Plain strings, lists and booleans: marshalling cannot
			// fail; were it to, the sum still differs from a good one.
			b = []byte(err.Error())
		}
		parts = append(parts, b)
	}
	return cluster.Fingerprint(parts...)
}

// ClusterOptions maps a config's cluster block onto the node's options,
// reading the password file: the connection and naming, and what the
// node's heartbeat announces. Logger, Apply and Version are the caller's.
func ClusterOptions(cfg *config.Config) (cluster.Options, error) {
	c := cfg.Cluster
	opts := cluster.Options{
		URL:         c.Redis,
		Node:        c.Node,
		Prefix:      c.Prefix,
		Dir:         cfg.StateDir,
		Address:     nodeAddress(cfg),
		Hosts:       slices.Clone(cfg.Hosts),
		Fingerprint: Fingerprint(cfg),
	}
	if c.PasswordFile != "" {
		pw, err := cluster.ReadPasswordFile(c.PasswordFile)
		if err != nil {
			return opts, fileProblem(cfg, "cluster.password_file", err)
		}
		opts.Password = pw
	}
	return opts, nil
}

// nodeAddress is the address /cluster shows for this node: check.expect_ips
// when set (the public addresses behind NAT), else the host's public
// interface addresses, else the HTTPS (or HTTP) listener.
func nodeAddress(cfg *config.Config) string {
	var addrs []string
	for _, ip := range cfg.Check.ExpectIPs {
		addrs = append(addrs, ip.String())
	}
	if len(addrs) == 0 {
		for _, ip := range publicAddrs() {
			addrs = append(addrs, ip.String())
		}
	}
	if len(addrs) > 0 {
		return strings.Join(addrs, ",")
	}
	if cfg.Listen.HTTPS != "" {
		return cfg.Listen.HTTPS
	}
	return cfg.Listen.HTTP
}

// joinCluster returns the cluster node of cfg's client, opening it the
// first time; nil without a cluster block. The node keeps running while
// Redis is down (see cluster.Open): only bad settings are an error.
func (e *Edge) joinCluster(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*cluster.Node, error) {
	if cfg.Cluster == nil {
		return nil, nil
	}
	name := cfg.Name()
	settings := clusterSettings(cfg.Cluster)
	if m := e.members[name]; m != nil {
		if m.settings != settings {
			logger.Warn("cluster settings changed; restart to apply", "node", m.node.Name())
		}
		return m.node, nil
	}
	for other, m := range e.members {
		// Two clients in one process under one prefix of one Redis
		// would take each other's purges and share their locks.
		if m.where == clusterWhere(cfg.Cluster) {
			return nil, fmt.Errorf("%s:%d: cluster.prefix: %q on %s is also client %s's; expected one prefix per client", cfg.File, cfg.Line("cluster.prefix"), cfg.Cluster.Prefix, cfg.Cluster.Redis.Redacted(), other)
		}
	}
	opts, err := ClusterOptions(cfg)
	if err != nil {
		return nil, err
	}
	opts.Version = e.version
	opts.Logger = e.logger.With("cluster", cfg.Cluster.Prefix)
	if !e.single {
		opts.Logger = opts.Logger.With("client", name)
	}
	opts.Apply = func(p cluster.Purge) error { return e.applyClusterPurge(name, p) }
	node, err := cluster.Open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: cluster: %w", cfg.File, err)
	}
	if up, why := node.Up(); !up {
		opts.Logger.Warn("cluster joined while redis is unreachable; serving from the local cache and certificates, retrying", "node", node.Name(), "reason", why)
	} else {
		opts.Logger.Info("cluster joined", "node", node.Name(), "redis", cfg.Cluster.Redis.Redacted())
	}
	if e.members == nil {
		e.members = map[string]*member{}
	}
	e.members[name] = &member{node: node, settings: settings, where: clusterWhere(cfg.Cluster)}
	return node, nil
}

// leaveClusters closes the nodes of clients that the current routes no
// longer serve with a node (removed by a reload, or opened for a reload
// that was rejected); with all, every node (at shutdown).
func (e *Edge) leaveClusters(all bool) {
	rt := e.cur.Load()
	for name, m := range e.members {
		if !all && rt != nil && slices.ContainsFunc(rt.sites, func(s *site) bool { return s.node == m.node }) {
			continue
		}
		if err := m.node.Close(); err != nil {
			e.logger.Warn("cluster left uncleanly", "client", name, "err", err)
		}
		delete(e.members, name)
	}
}

// announce tells the other nodes what each client now serves, after the
// routes changed.
func (e *Edge) announce() {
	for _, s := range e.cur.Load().sites {
		if s.node != nil {
			s.node.Announce(s.cfg.Hosts, Fingerprint(s.cfg))
		}
	}
}

// applyClusterPurge applies a purge another node published to the
// client's cache. It waits for the first routes, since a node replays
// the purges it missed as soon as it opens, before Run has them.
func (e *Edge) applyClusterPurge(client string, p cluster.Purge) error {
	select {
	case <-e.routesReady:
	case <-e.bg.Done():
		return errors.New("shutting down")
	}
	for range 8 {
		s := e.cur.Load().byName(client)
		if s == nil {
			return nil // no longer served here: nothing cached to drop
		}
		if !s.acquire() {
			continue // retired by a reload: its successor is in place
		}
		_, err := s.edge.Purge(proxy.Purge{URL: p.URL, Prefix: p.Prefix, All: p.All})
		s.release()
		return err
	}
	return errors.New("reloading; purge not applied")
}

// spreadPurge publishes a purge this node has applied to the clusters of
// the clients it concerned, and waits (up to purgeSpreadWait) for the
// other nodes to apply it. It returns the nodes that have applied it,
// this one first; without any cluster, nil.
func (e *Edge) spreadPurge(ctx context.Context, p proxy.Purge, host string) ([]string, error) {
	var (
		applied []string
		errs    []error
	)
	for _, s := range e.sitesFor(p, host) {
		if s.node == nil {
			continue
		}
		if !slices.Contains(applied, s.node.Name()) {
			applied = append(applied, s.node.Name())
		}
		id, err := s.node.PublishPurge(ctx, cluster.Purge{URL: p.URL, Prefix: p.Prefix, All: p.All, Host: host})
		if err != nil {
			errs = append(errs, fmt.Errorf("applied on this node only; the others did not get it (purge again once Redis is back): %w", err))
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, purgeSpreadWait)
		names, err := s.node.AwaitApplied(wctx, id)
		cancel()
		for _, n := range names {
			if !slices.Contains(applied, n) {
				applied = append(applied, n)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("published; which nodes applied it is unknown: %w", err))
		}
	}
	if len(applied) > 1 {
		slices.Sort(applied[1:])
	}
	return applied, errors.Join(errs...)
}

// clusterDegraded says why the edge serves without its cluster ("" when
// every node reaches Redis), for /readyz.
func (e *Edge) clusterDegraded() string {
	var why []string
	for _, s := range e.cur.Load().sites {
		if s.node == nil {
			continue
		}
		if up, reason := s.node.Up(); !up {
			w := "cluster: " + reason + "; serving from the local cache and certificates"
			if !e.single {
				w = s.name + ": " + w
			}
			why = append(why, w)
		}
	}
	return strings.Join(why, "\n")
}

// clusterView is one client's cluster as GET /cluster shows it.
type clusterView struct {
	Client string `json:"client"`
	// Node is this node's name.
	Node        string `json:"node"`
	Fingerprint string `json:"fingerprint"`
	RedisUp     bool   `json:"redis_up"`
	Reason      string `json:"reason,omitempty"`
	// Nodes are the live nodes (absent while Redis is unreachable).
	Nodes []cluster.NodeInfo `json:"nodes"`
	// Drift lists the hosts whose nodes have different fingerprints.
	Drift []driftView `json:"drift"`
}

type driftView struct {
	Host string `json:"host"`
	// Fingerprints maps each fingerprint to its nodes.
	Fingerprints map[string][]string `json:"fingerprints"`
}

// clusterHandler serves GET /cluster: each clustered client's nodes
// (name, address, version, last seen, fingerprint) and drift.
func (e *Edge) clusterHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		views := []clusterView{}
		for _, s := range e.cur.Load().sites {
			if s.node == nil {
				continue
			}
			v := clusterView{Client: s.name, Node: s.node.Name(), Fingerprint: Fingerprint(s.cfg), Nodes: []cluster.NodeInfo{}, Drift: []driftView{}}
			v.RedisUp, v.Reason = s.node.Up()
			if nodes, err := s.node.Nodes(ctx); err != nil {
				v.RedisUp, v.Reason = false, err.Error()
			} else if nodes != nil {
				v.Nodes = nodes
				for _, d := range cluster.Drift(nodes) {
					v.Drift = append(v.Drift, driftView{Host: d.Host, Fingerprints: d.Nodes})
				}
			}
			views = append(views, v)
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"clusters": views})
	})
}

// DriftResults judges cluster-drift for a client's hosts from the nodes
// of its cluster: a failure for each host that nodes serve with different
// fingerprints.
func DriftResults(cfg *config.Config, nodes []cluster.NodeInfo) []compliance.Result {
	drift := map[string]cluster.DriftReport{}
	for _, d := range cluster.Drift(nodes) {
		drift[d.Host] = d
	}
	var out []compliance.Result
	for _, h := range cfg.Hosts {
		r := compliance.Result{Site: h, Check: CheckClusterDrift}
		d, bad := drift[h]
		if !bad {
			var names []string
			for _, n := range nodes {
				if slices.Contains(n.Hosts, h) {
					names = append(names, n.Name)
				}
			}
			r.Status, r.Detail = compliance.OK, fmt.Sprintf("%d node(s) serve it with one config: %s", len(names), strings.Join(names, ", "))
			out = append(out, r)
			continue
		}
		var groups []string
		for fp, names := range d.Nodes {
			groups = append(groups, fmt.Sprintf("%s on %s", fp, strings.Join(names, ", ")))
		}
		slices.Sort(groups)
		r.Status = compliance.Fail
		r.Detail = "nodes serve it with different configs (fingerprints " + strings.Join(groups, "; ") + "), so visitors may see different notices"
		r.Fix = "make hosts, notice, localize and policy the same in every node's config file, then reload (systemctl reload icpedge); GET /cluster on the admin API shows each node's fingerprint"
		out = append(out, r)
	}
	return out
}

// InspectDrift reads cfg's cluster through Redis, without joining it,
// and judges cluster-drift for its hosts; a skip for each when Redis
// cannot be read. Nil without a cluster block.
func InspectDrift(ctx context.Context, cfg *config.Config) []compliance.Result {
	if cfg.Cluster == nil {
		return nil
	}
	skip := func(detail string) []compliance.Result {
		var out []compliance.Result
		for _, h := range cfg.Hosts {
			out = append(out, compliance.Result{Site: h, Check: CheckClusterDrift, Status: compliance.Skip, Detail: detail})
		}
		return out
	}
	opts, err := ClusterOptions(cfg)
	if err != nil {
		return skip(err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := cluster.Inspect(ctx, opts)
	if err != nil {
		return skip("the cluster's Redis could not be read: " + err.Error())
	}
	if len(nodes) == 0 {
		return skip("no node of the cluster is running (prefix " + cfg.Cluster.Prefix + ")")
	}
	return DriftResults(cfg, nodes)
}
