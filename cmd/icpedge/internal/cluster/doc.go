// Package cluster lets several edge nodes serving one client share state
// through one Redis (or Valkey) server: certificates and ACME challenges
// (a certmagic.Storage with a Locker), purges (a capped stream every node
// replays from where it left off), and the list of nodes (expiring
// heartbeat keys, with a fingerprint of what shapes their pages). It builds
// on Redis alone: there is no consensus or gossip protocol of its own.
//
// A node survives Redis being down. Open succeeds without Redis; every
// certificate and key read from or written to Redis is mirrored to
// Options.Dir/certs, reads fall back to that mirror, and writes made while
// Redis is unreachable are written to Redis when it returns (unless another
// node has written the key since). Up reports the state and why.
//
// The API, as the edge uses it:
//
//	node, err := cluster.Open(ctx, cluster.Options{URL: cfg.Cluster.Redis, ...})
//	defer node.Close()
//	magic.Storage = node.Storage()         // certmagic: certificates, locks, challenges
//	up, why := node.Up()                   // icpedge_cluster_up, /readyz
//	id, err := node.PublishPurge(ctx, p)   // after applying p locally
//	names, err := node.AwaitApplied(ctx, id) // the nodes that applied it
//	nodes, err := node.Nodes(ctx)          // /cluster
//	drift := cluster.Drift(nodes)          // check cluster-drift
//	release, ok, err := node.TryJob(ctx, "self-audit") // one node at a time
//
// Purges published by other nodes reach Options.Apply, on one goroutine, in
// the order they were published.
package cluster
