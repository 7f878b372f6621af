package config

import (
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Cluster joins this instance to the other nodes serving the same client,
// through a Redis (or Valkey) server they share: certificates, ACME
// challenges, purges and the list of nodes (key cluster). A nil
// Config.Cluster is a single node.
type Cluster struct {
	// Redis is the server's URL (key cluster.redis): redis://host:port/db,
	// or rediss:// for TLS. The port defaults to 6379 and the database
	// to 0. A user name is allowed (Redis ACLs); a password is not: it
	// goes in PasswordFile, so that the config file holds no secret.
	Redis *url.URL
	// PasswordFile holds the Redis password on its first line
	// (key cluster.password_file). Relative to the config file's
	// directory. Empty: no password.
	PasswordFile string
	// Node names this node in the cluster (key cluster.node): letters,
	// digits, ".", "_" and "-", at most 63 characters, unique in the
	// cluster. Default: the machine's host name.
	Node string
	// Prefix begins every key this instance writes (key cluster.prefix),
	// so that several clients can share one Redis: letters, digits and
	// ":._-", at most 64 characters. Default "icpedge:".
	Prefix string
}

const (
	defaultClusterPrefix = "icpedge:"

	expectRedisURL = "a redis:// or rediss:// URL with a host, an optional port and database number and no password, e.g. redis://10.0.0.5:6379/0"
	expectNodeName = `a node name of letters, digits, ".", "_" and "-", at most 63 characters, e.g. edge-bj-1`
	expectPrefix   = `a key prefix of letters, digits and ":._-", at most 64 characters, e.g. "icpedge:client:"`
)

var (
	clusterKeys = []string{"redis", "password_file", "node", "prefix"}
	nodeNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	prefixRE    = regexp.MustCompile(`^[A-Za-z0-9:._-]{1,64}$`)
)

// cluster reads the cluster block.
func (p *parser) cluster(c *Config, top *mapping) {
	if !top.has("cluster") {
		return
	}
	cm := top.sub("cluster", clusterKeys)
	if cm.broken {
		return
	}
	cl := &Cluster{}
	if s, n := cm.required("redis", expectRedisURL); n != nil {
		u, reason := redisURL(s)
		if reason != "" {
			shown := show(n)
			if ru, err := url.Parse(s); err == nil && ru.User != nil {
				shown = strconv.Quote(ru.Redacted()) // keep passwords out of logs
			}
			p.add(n.Line, "cluster.redis", "%s is not a Redis URL (%s); expected %s", shown, reason, expectRedisURL)
		}
		cl.Redis = u
	}
	cl.PasswordFile = p.pathKey(cm, "password_file", "")

	if s, n := cm.scalar("node", expectNodeName); n != nil && s != "" {
		if !nodeNameRE.MatchString(s) {
			p.bad(n, "cluster.node", "a node name", expectNodeName)
		}
		cl.Node = s
	} else {
		h, err := os.Hostname()
		switch {
		case err != nil:
			p.add(cm.line, "cluster.node", "missing, and the host name is unknown (%v); expected %s", err, expectNodeName)
		case !nodeNameRE.MatchString(h):
			p.add(cm.line, "cluster.node", "missing, and the host name %q is not a node name; expected %s", h, expectNodeName)
		default:
			cl.Node = h
		}
	}

	cl.Prefix = defaultClusterPrefix
	if s, n := cm.scalar("prefix", expectPrefix); n != nil && s != "" {
		if !prefixRE.MatchString(s) {
			p.bad(n, "cluster.prefix", "a key prefix", expectPrefix)
		}
		cl.Prefix = s
	}
	c.Cluster = cl
}

// redisURL checks a redis:// or rediss:// URL as go-redis reads it
// (redis://[user@]host[:port][/db]), refusing a password and query
// options so that the file holds no secret and no setting hides in a URL.
func redisURL(s string) (*url.URL, string) {
	if !strings.Contains(s, "://") {
		return nil, "has no scheme"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, "does not parse"
	case u.Scheme == "":
		return nil, "has no scheme"
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return nil, "scheme " + u.Scheme
	case u.Opaque != "" || u.Host == "":
		return nil, "has no host"
	case u.User != nil:
		if _, has := u.User.Password(); has {
			return nil, "has a password; put it in cluster.password_file"
		}
	}
	if r := urlRest(u, s); r != "" {
		return nil, r
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if _, err := strconv.ParseUint(db, 10, 31); err != nil {
			return nil, "database " + strconv.Quote(db) + " is not a number"
		}
	}
	u.Host = strings.ToLower(u.Host)
	return u, ""
}
