package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/andybalholm/cascadia"
	"go.yaml.in/yaml/v3"
)

// DefaultCA is the ACME directory used when tls.ca is not set: Let's
// Encrypt's production CA.
const DefaultCA = "https://acme-v02.api.letsencrypt.org/directory"

// Defaults that Load fills in; see the field comments in config.go.
const (
	defaultStateRoot     = "/var/lib/icpedge"
	defaultConnect       = 5 * time.Second
	defaultResponse      = 60 * time.Second
	defaultShutdown      = 30 * time.Second
	defaultOriginIdle    = 30 * time.Second
	defaultRequestBodyTO = 30 * time.Second
	defaultBufferMemory  = 64 << 20
	defaultRequestBody   = 64 << 20
	defaultHTMLMax       = 8 << 20
	defaultCacheMax      = 1 << 30
	defaultCacheMemory   = 16 << 20
	defaultStaleIfError  = 7 * 24 * time.Hour
	defaultEarlyHintsAge = 24 * time.Hour
	defaultPresetTTL     = 5 * time.Minute
	defaultAdminListen   = "127.0.0.1:9080"
	defaultOversize      = "stream"
	defaultLogFormat     = "text"
	defaultLogLevel      = "info"
	defaultTokenFileName = "admin.token"
	defaultCacheDirName  = "cache"
)

// What each kind of value should look like, for messages.
const (
	expectHost         = "a DNS name such as icp.client.com, without scheme, port, path or wildcard"
	expectHostList     = "a list of host names, e.g. [icp.client.com]"
	expectHostOrIP     = "a host name such as www.client.com or an IP address, without scheme or port"
	expectHostOrIPList = "a list of host names or IP addresses, e.g. [www.client.com]"
	expectOrigin       = "an absolute http or https URL with a host and no user info, query or fragment, e.g. https://www.client.com"
	expectProxy        = "an IP address or CIDR prefix, e.g. 10.0.0.1, 10.0.0.0/8 or 2001:db8::/32"
	expectAddr         = `host:port or :port, e.g. ":80" or "127.0.0.1:8080"`
	expectDuration     = "a number with a unit (ms, s, m, h or d), e.g. 30s, 5m, 7d or 1d12h"
	expectSize         = "bytes, or a number with a unit (KB, MB, GB in 1000s; KiB, MiB, GiB in 1024s), e.g. 64MiB"
	expectPath         = "a file or directory path"
	expectSelector     = `a CSS selector such as "footer" or "div.copyright"`
	expectRulePath     = `a URL path prefix beginning with "/", e.g. /static/`
	expectCA           = "an absolute https URL of an ACME directory (http only on a loopback host), e.g. " + DefaultCA
	expectEmail        = "an email address such as ops@client.com"
	expectBase64URL    = "the key from the CA in base64url (A-Z a-z 0-9 - _)"
	expectBool         = "true or false"
	expectRule         = "a list of {path, type, ttl, override} mappings"
	expectPathList     = `a list of path globs, e.g. [/wp-admin/, wp-login.php]`
	expectQueryList    = "a list of query parameters, name or name=value, e.g. [s, preview=true]"
	expectQuery        = "a query parameter name, or name=value, e.g. s or preview=true"
	expectCookieGlob   = "a cookie name, or a glob of them with * and ?, e.g. wordpress_logged_in_*"
	expectCookieList   = "a list of cookie names or globs, e.g. [PHPSESSID, wordpress_logged_in_*], or [] for none"
	expectProxyList    = "a list of IP addresses or CIDR prefixes"
	expectListenOnce   = "listen.http or listen.https, e.g. http: \":80\""
	expectTargeted     = "a header field name ending in -Cache-Control, other than CDN-Cache-Control, e.g. ICPEdge-Cache-Control"
)

// The keys each mapping may hold, in the order the example file uses.
var (
	topKeys      = []string{"hosts", "origin", "origin_host", "origin_ca", "rewrite_hosts", "trusted_proxies", "listen", "state_dir", "notice", "timeouts", "html", "limits", "localize", "log", "cache", "admin", "tls", "apex", "policy", "check", "cluster"}
	listenKeys   = []string{"http", "https"}
	noticeKeys   = []string{"icp", "company", "police", "selector"}
	timeoutKeys  = []string{"connect", "response", "origin_idle", "shutdown", "request_body"}
	htmlKeys     = []string{"max_size", "oversize"}
	limitKeys    = []string{"buffer_memory", "request_body"}
	logKeys      = []string{"format", "level", "access_file"}
	cacheKeys    = []string{"enabled", "dir", "max_size", "memory", "stale_if_error", "stale_while_revalidate", "preset", "preset_ttl", "bypass_cookies", "bypass_paths", "bypass_queries", "rules", "targeted", "early_hints_max_age"}
	cacheRuleKey = []string{"path", "type", "ttl", "override"}
	adminKeys    = []string{"listen", "token_file"}
	tlsKeys      = []string{"mode", "email", "ca", "ca_root", "eab", "cert_file", "key_file", "hsts", "challenges"}
	eabKeys      = []string{"key_id", "hmac_key"}
)

// Load reads and validates the config file at path. Relative paths in the
// file are resolved against the file's directory, made absolute. On failure
// the error lists every problem in the file, one per line, each a *Problem
// (see Problem); a file that cannot be read is reported as is, wrapped.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	return parse(path, dir, data)
}

// Parse validates a config held in memory. name is used in problems, as
// Config.File, for the default state_dir, and its directory is the base
// for relative paths in the file (so they stay relative if name is).
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, filepath.Dir(name), data)
}

func parse(name, dir string, data []byte) (*Config, error) {
	p := &parser{file: name, dir: dir, lines: map[string]int{}}
	root, ok := p.document(data)
	var c *Config
	if ok {
		c = p.config(root)
		c.lines = p.lines
	}
	if len(p.probs) > 0 {
		slices.SortStableFunc(p.probs, func(a, b *Problem) int { return a.Line - b.Line })
		errs := make([]error, len(p.probs))
		for i, pr := range p.probs {
			errs[i] = pr
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// yamlErrRE splits the line number off a go-yaml syntax error.
var yamlErrRE = regexp.MustCompile(`^yaml: (?:line ([0-9]+): )?(.*)$`)

// document parses data and returns the top-level node, nil for an empty
// file. ok is false after a syntax error, which makes the rest moot.
func (p *parser) document(data []byte) (root *yaml.Node, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		p.syntax(err)
		return nil, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		p.add(next.Line, "", "a second YAML document; expected one document per file")
	case !errors.Is(err, io.EOF):
		p.syntax(err)
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

func (p *parser) syntax(err error) {
	line, msg := 1, err.Error()
	if m := yamlErrRE.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			line, _ = strconv.Atoi(m[1])
		}
		msg = m[2]
	}
	p.add(line, "", "invalid YAML: %s", msg)
}

// config walks the whole file in order, then applies defaults and checks
// the keys that depend on each other.
func (p *parser) config(root *yaml.Node) *Config {
	c := &Config{File: p.file}
	top := p.mapping(root, "", 1, topKeys)
	if top.broken {
		return c
	}

	hosts, set := p.hostList(top, "hosts", hostName, expectHost, expectHostList)
	switch {
	case !set:
		top.missing("hosts", expectHostList)
	case hosts != nil && len(hosts) == 0 && len(top.node("hosts").Content) == 0:
		p.add(top.node("hosts").Line, "hosts", "empty list; expected at least one host name, e.g. icp.client.com")
	}
	c.Hosts = hosts

	if s, n := top.required("origin", expectOrigin); n != nil {
		u, reason := httpURL(s)
		switch {
		case reason != "":
			shown := show(n)
			if ru, err := url.Parse(s); err == nil && ru.User != nil {
				shown = strconv.Quote(ru.Redacted()) // keep passwords out of logs
			}
			p.add(n.Line, "origin", "%s is not an origin URL (%s); expected %s", shown, reason, expectOrigin)
		case slices.Contains(c.Hosts, u.Hostname()):
			p.add(n.Line, "origin", "%s is served by this edge (see hosts), so the edge would proxy to itself; expected the origin's own address, e.g. https://origin.client.com or an IP address with origin_host", show(n))
		default:
			u.Path = strings.TrimSuffix(u.Path, "/")
			u.RawPath = strings.TrimSuffix(u.RawPath, "/")
			c.Origin = u
		}
	}

	if s, n := top.scalar("origin_host", expectHostOrIP); n != nil {
		if h, reason := hostOrIP(s); reason != "" {
			p.add(n.Line, "origin_host", "%s is not a host name (%s); expected %s", show(n), reason, expectHostOrIP)
		} else {
			c.OriginHost = h
		}
	} else if c.Origin != nil {
		c.OriginHost = strings.ToLower(c.Origin.Hostname())
	}

	c.OriginCA = p.pathKey(top, "origin_ca", "")

	if hosts, set := p.hostList(top, "rewrite_hosts", hostOrIP, expectHostOrIP, expectHostOrIPList); set {
		c.RewriteHosts = hosts
	} else if c.OriginHost != "" {
		c.RewriteHosts = []string{c.OriginHost}
	}

	c.TrustedProxies = p.proxies(top)

	listen := top.sub("listen", listenKeys)
	listenOK := true
	for _, k := range listenKeys {
		s, n := listen.scalar(k, expectAddr)
		if n == nil {
			listenOK = listenOK && listen.node(k) == nil
			continue
		}
		if s == "" {
			continue
		}
		if reason := listenAddr(s); reason != "" {
			p.add(n.Line, listen.key(k), "%s is not a listen address (%s); expected %s", show(n), reason, expectAddr)
			listenOK = false
			continue
		}
		if k == "http" {
			c.Listen.HTTP = s
		} else {
			c.Listen.HTTPS = s
		}
	}
	switch {
	case listenOK && !listen.broken && c.Listen.HTTP == "" && c.Listen.HTTPS == "":
		p.add(listen.line, "listen", "no listener; expected %s", expectListenOnce)
	case c.Listen.HTTP != "" && c.Listen.HTTPS != "" && sameSocket(c.Listen.HTTP, c.Listen.HTTPS):
		n := listen.node("https")
		p.add(n.Line, "listen.https", "%s is the same port as listen.http; expected a different port, e.g. \":443\"", show(n))
	}

	if s, n := top.scalar("state_dir", expectPath); n != nil && s != "" {
		c.StateDir = p.path(s)
	} else {
		c.StateDir = filepath.Join(defaultStateRoot, stem(p.file))
	}

	p.notice(c, top)
	p.timeouts(c, top)

	html := top.sub("html", htmlKeys)
	c.HTML.MaxSize = p.size(html, "max_size", defaultHTMLMax, false)
	c.HTML.Oversize = p.enum(html, "oversize", defaultOversize, "an oversize mode", "stream", "pass")
	limits := top.sub("limits", limitKeys)
	c.Limits.BufferMemory = p.size(limits, "buffer_memory", defaultBufferMemory, false)
	c.Limits.RequestBody = p.size(limits, "request_body", defaultRequestBody, false)
	p.localize(c, top)

	lg := top.sub("log", logKeys)
	c.Log.Format = p.enum(lg, "format", defaultLogFormat, "a log format", "text", "json")
	c.Log.Level = p.enum(lg, "level", defaultLogLevel, "a log level", "debug", "info", "warn", "error")
	c.Log.AccessFile = p.pathKey(lg, "access_file", "")

	p.cache(c, top)

	admin := top.sub("admin", adminKeys)
	c.Admin.Listen = defaultAdminListen
	if admin.has("listen") {
		s, n := admin.scalar("listen", expectAddr)
		c.Admin.Listen = s
		if n != nil && s != "" {
			switch reason := listenAddr(s); {
			case reason != "":
				p.add(n.Line, "admin.listen", "%s is not a listen address (%s); expected %s, or \"\" for no admin listener", show(n), reason, expectAddr)
			case c.Listen.HTTP != "" && sameSocket(s, c.Listen.HTTP):
				p.add(n.Line, "admin.listen", "%s is the same port as listen.http; expected a different port, e.g. \"127.0.0.1:9080\"", show(n))
			case c.Listen.HTTPS != "" && sameSocket(s, c.Listen.HTTPS):
				p.add(n.Line, "admin.listen", "%s is the same port as listen.https; expected a different port, e.g. \"127.0.0.1:9080\"", show(n))
			}
		}
	}
	c.Admin.TokenFile = p.pathKey(admin, "token_file", filepath.Join(c.StateDir, defaultTokenFileName))

	p.tls(c, top, listen)
	p.compliance(c, top)
	p.cluster(c, top)
	return c
}

// required is scalar for a key that must be given.
func (m *mapping) required(name, expected string) (string, *yaml.Node) {
	if m.node(name) == nil {
		m.missing(name, expected)
		return "", nil
	}
	s, n := m.scalar(name, expected)
	if n != nil && s == "" {
		m.missing(name, expected)
		return "", nil
	}
	return s, n
}

// item returns the text of a list item that must be a non-empty scalar.
func (p *parser) item(n *yaml.Node, key, expected string) (string, bool) {
	switch {
	case isNull(n):
		p.add(n.Line, key, "empty; expected %s", expected)
		return "", false
	case n.Kind != yaml.ScalarNode:
		p.wrongType(n, key, expected)
		return "", false
	}
	return n.Value, true
}

// hostList reads a list of host names, checked by check, without
// duplicates. set reports whether the key was given; hosts is non-nil
// when it was given as a list, even an empty one.
func (p *parser) hostList(m *mapping, name string, check func(string) (string, string), expected, expectedList string) (hosts []string, set bool) {
	if m.node(name) == nil {
		return nil, false
	}
	items, ok := m.list(name, expectedList)
	if !ok {
		return nil, true
	}
	hosts = []string{}
	first := map[string]string{}
	for i, n := range items {
		key := index(m.key(name), i)
		s, ok := p.item(n, key, expected)
		if !ok {
			continue
		}
		h, reason := check(s)
		if reason != "" {
			p.add(n.Line, key, "%s is not a host name (%s); expected %s", show(n), reason, expected)
			continue
		}
		if k, dup := first[h]; dup {
			p.add(n.Line, key, "%s repeats %s; expected each host once", show(n), k)
			continue
		}
		first[h] = key
		hosts = append(hosts, h)
	}
	return hosts, true
}

func (p *parser) proxies(top *mapping) []netip.Prefix {
	items, _ := top.list("trusted_proxies", expectProxyList)
	var out []netip.Prefix
	for i, n := range items {
		key := index("trusted_proxies", i)
		s, ok := p.item(n, key, expectProxy)
		if !ok {
			continue
		}
		var pfx netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			pfx, err = netip.ParsePrefix(s)
			if err == nil && pfx != pfx.Masked() {
				p.add(n.Line, key, "%s has bits set past the prefix length; expected %s", show(n), pfx.Masked())
				continue
			}
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(s)
			if err == nil && a.Zone() != "" {
				err = errors.New("zone")
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			p.add(n.Line, key, "%s is not an IP address or CIDR prefix; expected %s", show(n), expectProxy)
			continue
		}
		out = append(out, pfx)
	}
	return out
}

func (p *parser) notice(c *Config, top *mapping) {
	nt := top.sub("notice", noticeKeys)
	if s, n := nt.required("icp", "an ICP number: "+expectICP); n != nil {
		if !icpRE.MatchString(s) {
			p.bad(n, "notice.icp", "an ICP number", expectICP)
		}
		c.Notice.ICP = s
	}
	if s, n := nt.scalar("company", expectCompany); n != nil {
		if reason := companyProblem(s); reason != "" {
			p.add(n.Line, "notice.company", "%s %s; expected %s", show(n), reason, expectCompany)
		}
		c.Notice.Company = s
	}
	if s, n := nt.scalar("police", expectPolice); n != nil && s != "" {
		if !policeRE.MatchString(s) {
			p.bad(n, "notice.police", "a public security filing number", expectPolice)
		}
		c.Notice.Police = s
	}
	if s, n := nt.scalar("selector", expectSelector); n != nil && s != "" {
		if _, err := cascadia.Compile(s); err != nil {
			p.add(n.Line, "notice.selector", "%s is not a CSS selector (%v); expected %s", show(n), err, expectSelector)
		}
		c.Notice.Selector = s
	}
}

func (p *parser) timeouts(c *Config, top *mapping) {
	t := top.sub("timeouts", timeoutKeys)
	c.Timeouts.Connect = p.duration(t, "connect", defaultConnect, true)
	c.Timeouts.Response = p.duration(t, "response", defaultResponse, true)
	c.Timeouts.OriginIdle = p.duration(t, "origin_idle", defaultOriginIdle, true)
	c.Timeouts.Shutdown = p.duration(t, "shutdown", defaultShutdown, true)
	c.Timeouts.RequestBody = p.duration(t, "request_body", defaultRequestBodyTO, true)
}

func (p *parser) cache(c *Config, top *mapping) {
	cm := top.sub("cache", cacheKeys)
	c.Cache.Enabled = p.boolean(cm, "enabled", true)
	c.Cache.Dir = p.pathKey(cm, "dir", filepath.Join(c.StateDir, defaultCacheDirName))
	c.Cache.MaxSize = p.size(cm, "max_size", defaultCacheMax, false)
	c.Cache.Memory = p.size(cm, "memory", defaultCacheMemory, true)
	c.Cache.StaleIfError = p.duration(cm, "stale_if_error", defaultStaleIfError, false)
	c.Cache.StaleWhileRevalidate = p.duration(cm, "stale_while_revalidate", 0, false)
	c.Cache.BypassCookies = p.cookieGlobs(cm, "bypass_cookies")
	c.Cache.Targeted = p.targetedField(cm, "targeted")
	c.Cache.EarlyHintsMaxAge = p.duration(cm, "early_hints_max_age", defaultEarlyHintsAge, false)
	c.Cache.BypassPaths = p.pathGlobs(cm, "bypass_paths")
	c.Cache.BypassQueries = p.queryParams(cm, "bypass_queries")
	c.Cache.Preset = p.enum(cm, "preset", "", "a cache preset", "wordpress")
	if c.Cache.Preset != "" {
		c.Cache.PresetTTL = p.duration(cm, "preset_ttl", defaultPresetTTL, true)
	} else if cm.node("preset_ttl") != nil {
		p.add(cm.keyLine("preset_ttl"), cm.key("preset_ttl"), "only used with cache.preset; expected cache.preset: wordpress, or no cache.preset_ttl")
	}

	items, _ := cm.list("rules", expectRule)
	first := map[string]string{}
	for i, item := range items {
		key := index("cache.rules", i)
		r := p.mapping(item, key, item.Line, cacheRuleKey)
		if isNull(item) {
			p.add(item.Line, key, "empty; expected a mapping with keys path, ttl and optionally type, override")
			continue
		}
		var rule CacheRule
		if s, n := r.scalar("type", expectType); n != nil && s != "" {
			if !mediaTypeRE.MatchString(s) {
				p.bad(n, r.key("type"), "a media type", expectType)
			}
			rule.Type = s
		}
		if s, n := r.required("path", expectRulePath); n != nil {
			// A path may have one rule of each type.
			id := s + " " + rule.Type
			switch {
			case !strings.HasPrefix(s, "/") || strings.ContainsAny(s, "?# \t"):
				p.bad(n, r.key("path"), "a path prefix", expectRulePath)
			case first[id] != "" && rule.Type == "":
				p.add(n.Line, r.key("path"), "%s repeats %s; expected each path once, or once per type", show(n), first[id])
			case first[id] != "":
				p.add(n.Line, r.key("path"), "%s with type %s repeats %s; expected each path once per type", show(n), rule.Type, first[id])
			default:
				first[id] = r.key("path")
			}
			rule.Path = s
		}
		if r.node("ttl") == nil {
			r.missing("ttl", "a duration such as 5m")
		} else {
			rule.TTL = p.duration(r, "ttl", 0, true)
		}
		rule.OverridePrivate = p.enum(r, "override", "", "an override", "private") == "private"
		c.Cache.Rules = append(c.Cache.Rules, rule)
	}
}

// targetedField reads the name of a targeted cache field (RFC 9213 §2):
// a field name (a token, RFC 9110 §5.1) ending in -Cache-Control as
// §2 recommends, which keeps it from naming a field with another meaning,
// and not CDN-Cache-Control, which is obeyed anyway. It is returned in
// canonical form.
func (p *parser) targetedField(m *mapping, name string) string {
	s, n := m.scalar(name, expectTargeted)
	if n == nil || s == "" {
		return ""
	}
	canon := textproto.CanonicalMIMEHeaderKey(s)
	ok := len(s) <= 64
	for i := 0; i < len(s) && ok; i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	}
	switch {
	case !ok:
		p.bad(n, m.key(name), "a header field name", expectTargeted)
	case !strings.HasSuffix(canon, "-Cache-Control") || canon == "-Cache-Control":
		p.add(n.Line, m.key(name), "%s does not end in -Cache-Control; expected %s", show(n), expectTargeted)
	case canon == "Cdn-Cache-Control":
		p.add(n.Line, m.key(name), "%s is obeyed without being named; expected %s", show(n), expectTargeted)
	default:
		return canon
	}
	return ""
}

// pathGlobs reads a list of path globs (as policy.block[].path); absent
// or empty means none.
func (p *parser) pathGlobs(m *mapping, name string) []string {
	items, _ := m.list(name, expectPathList)
	return p.uniqueItems(m.key(name), items, expectGlob, "glob", func(s string) string {
		if reason := globProblem(s); reason != "" {
			return "is not a path glob (" + reason + ")"
		}
		return ""
	})
}

// queryParams reads a list of query parameters, "name" or "name=value";
// absent or empty means none.
func (p *parser) queryParams(m *mapping, name string) []string {
	items, _ := m.list(name, expectQueryList)
	return p.uniqueItems(m.key(name), items, expectQuery, "parameter", func(s string) string {
		switch param, _, _ := strings.Cut(s, "="); {
		case param == "":
			return "has no parameter name"
		case strings.ContainsAny(s, "&#? \t"):
			return "is not one query parameter (it holds &, #, ? or a space)"
		}
		return ""
	})
}

// cookieGlobs reads a list of cookie-name globs; absent or empty means the
// default list, [] means none.
func (p *parser) cookieGlobs(m *mapping, name string) []string {
	if m.node(name) == nil {
		return DefaultBypassCookies()
	}
	items, ok := m.list(name, expectCookieList)
	if !ok {
		return DefaultBypassCookies()
	}
	out := p.uniqueItems(m.key(name), items, expectCookieGlob, "pattern", func(s string) string {
		if reason := cookieGlobProblem(s); reason != "" {
			return "is not a cookie name pattern (" + reason + ")"
		}
		return ""
	})
	if out == nil {
		out = []string{} // [] means none, not the default
	}
	return out
}

// uniqueItems reads the string items of the list at path, each once:
// problem says what is wrong with one ("" for nothing), and unit names an
// item in the message for a repeat. An item with a problem or a repeat is
// reported and left out.
func (p *parser) uniqueItems(path string, items []*yaml.Node, expected, unit string, problem func(string) string) []string {
	var out []string
	first := map[string]string{}
	for i, n := range items {
		key := index(path, i)
		s, ok := p.item(n, key, expected)
		if !ok {
			continue
		}
		if what := problem(s); what != "" {
			p.add(n.Line, key, "%s %s; expected %s", show(n), what, expected)
			continue
		}
		if k, dup := first[s]; dup {
			p.add(n.Line, key, "%s repeats %s; expected each %s once", show(n), k, unit)
			continue
		}
		first[s] = key
		out = append(out, s)
	}
	return out
}

// cookieGlobProblem says what is wrong with a cookie-name glob, or "". A
// cookie name is an RFC 9110 §5.6.2 token (RFC 6265 §4.1.1); "*" is one
// of its characters and "?" is added as a wildcard.
func cookieGlobProblem(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			return "has a space"
		case c == '=' || c == ';' || c == ',':
			return "has " + strconv.QuoteRune(rune(c)) + ", which separates cookies or their values"
		case c >= 0x80 || c < 0x20 || c == 0x7f:
			return "has a character outside printable ASCII"
		case c == '?' || c == '*':
		case strings.IndexByte("\"(),/:<>@[\\]{}", c) >= 0:
			return "has the character " + strconv.QuoteRune(rune(c)) + ", which no cookie name holds"
		}
	}
	return ""
}

func (p *parser) tls(c *Config, top, listen *mapping) {
	t := top.sub("tls", tlsKeys)
	def := "off"
	if c.Listen.HTTPS != "" {
		def = "acme"
	}
	c.TLS.Mode = p.enum(t, "mode", def, "a TLS mode", "acme", "manual", "off")
	modeOK := true
	mode := c.TLS.Mode // as named in messages
	if n := t.node("mode"); n == nil && c.Listen.HTTPS == "" {
		mode += " (the default without listen.https)"
	} else if n != nil && n.Value != c.TLS.Mode {
		modeOK = false // already reported; checks against a guess would mislead
	}

	if s, n := t.scalar("email", expectEmail); n != nil && s != "" {
		if !isEmail(s) {
			p.bad(n, "tls.email", "an email address", expectEmail)
		}
		c.TLS.Email = s
	}
	if s, n := t.scalar("ca", expectCA); n != nil && s != "" {
		u, reason := httpURL(s)
		if reason == "" && u.Scheme == "http" && !isLoopback(u.Hostname()) {
			reason = "http is only allowed on a loopback host"
		}
		if reason != "" {
			p.add(n.Line, "tls.ca", "%s is not an ACME directory URL (%s); expected %s", show(n), reason, expectCA)
		}
		c.TLS.CA = s
	} else if c.TLS.Mode == "acme" {
		c.TLS.CA = DefaultCA
	}
	c.TLS.CARoot = p.pathKey(t, "ca_root", "")
	if t.node("eab") != nil {
		e := t.sub("eab", eabKeys)
		var eab EAB
		if s, n := e.required("key_id", "the key ID from the CA"); n != nil {
			eab.KeyID = s
		}
		if s, n := e.required("hmac_key", expectBase64URL); n != nil {
			if !isBase64URL(s) {
				// The key is a secret: say where it is, not what it is.
				p.add(n.Line, "tls.eab.hmac_key", "the value is not base64url; expected %s", expectBase64URL)
			}
			eab.HMACKey = s
		}
		c.TLS.EAB = &eab
	}
	c.TLS.CertFile = p.pathKey(t, "cert_file", "")
	c.TLS.KeyFile = p.pathKey(t, "key_file", "")
	c.TLS.HSTS = p.duration(t, "hsts", 0, false)
	c.TLS.Challenges = p.challenges(t, c, listen)

	if !modeOK {
		return
	}
	// Settings that the chosen mode would silently ignore are mistakes.
	only := map[string][]string{
		"email": {"acme"}, "ca": {"acme"}, "ca_root": {"acme"}, "eab": {"acme"},
		"cert_file": {"manual"}, "key_file": {"manual"},
		"hsts":       {"acme", "manual"},
		"challenges": {"acme"},
	}
	for _, k := range tlsKeys[1:] {
		n := t.node(k)
		if n == nil || slices.Contains(only[k], c.TLS.Mode) {
			continue
		}
		p.add(n.Line, t.key(k), "only used with tls.mode %s; expected no tls.%s when tls.mode is %s", strings.Join(only[k], " or "), k, mode)
	}
	modeLine := listen.line
	if n := t.node("mode"); n != nil {
		modeLine = n.Line
	}
	switch c.TLS.Mode {
	case "acme", "manual":
		if c.Listen.HTTPS == "" && listen.node("https") == nil {
			p.add(modeLine, "tls.mode", "%q needs an HTTPS listener; expected listen.https, e.g. \":443\", or tls.mode off", c.TLS.Mode)
		}
		if c.TLS.Mode == "manual" {
			for _, k := range []string{"cert_file", "key_file"} {
				if t.node(k) == nil {
					t.missing(k, "a PEM file path when tls.mode is manual")
				}
			}
		}
	case "off":
		if c.Listen.HTTPS != "" {
			n := listen.node("https")
			p.add(n.Line, "listen.https", "%s needs TLS but tls.mode is off; expected tls.mode acme or manual, or no listen.https", show(n))
		}
	}
}

// challenges reads tls.challenges: ACME challenge types, each once. In
// acme mode the default is both, or tls-alpn-01 alone without an HTTP
// listener to answer http-01.
func (p *parser) challenges(t *mapping, c *Config, listen *mapping) []string {
	const expected = "http-01 or tls-alpn-01"
	noHTTP := c.Listen.HTTP == "" && listen.node("http") == nil
	if t.node("challenges") == nil {
		switch {
		case c.TLS.Mode != "acme":
			return nil
		case noHTTP:
			return []string{"tls-alpn-01"}
		}
		return []string{"http-01", "tls-alpn-01"}
	}
	items, ok := t.list("challenges", "a list of ACME challenge types, e.g. [http-01, tls-alpn-01]")
	if !ok {
		return nil
	}
	key := t.key("challenges")
	if len(items) == 0 {
		p.add(t.node("challenges").Line, key, "empty list; expected at least one of %s", expected)
		return nil
	}
	var out []string
	for i, n := range items {
		k := index(key, i)
		s, ok := p.item(n, k, expected)
		if !ok {
			continue
		}
		switch {
		case s != "http-01" && s != "tls-alpn-01":
			p.bad(n, k, "an ACME challenge type", expected)
		case slices.Contains(out, s):
			p.add(n.Line, k, "%s is listed twice; expected each challenge type once", show(n))
		case s == "http-01" && noHTTP:
			p.add(n.Line, k, "%s needs an HTTP listener; expected listen.http, e.g. \":80\", or only tls-alpn-01", show(n))
		default:
			out = append(out, s)
		}
	}
	return out
}

// duration reads an optional duration. positive rejects zero.
func (p *parser) duration(m *mapping, name string, def time.Duration, positive bool) time.Duration {
	s, n := m.scalar(name, expectDuration)
	if n == nil || s == "" {
		return def
	}
	d, ok := parseDuration(s)
	switch {
	case strings.HasPrefix(s, "-"):
		p.add(n.Line, m.key(name), "%s is negative; expected %s", show(n), expectDuration)
	case !ok:
		p.bad(n, m.key(name), "a duration", expectDuration)
	case positive && d == 0:
		p.add(n.Line, m.key(name), "%s is zero; expected a positive duration, e.g. 30s", show(n))
	default:
		return d
	}
	return def
}

// size reads an optional byte size. zero allows 0.
func (p *parser) size(m *mapping, name string, def int64, zero bool) int64 {
	s, n := m.scalar(name, expectSize)
	if n == nil || s == "" {
		return def
	}
	v, ok := parseSize(s)
	switch {
	case strings.HasPrefix(s, "-"):
		p.add(n.Line, m.key(name), "%s is negative; expected %s", show(n), expectSize)
	case !ok:
		p.bad(n, m.key(name), "a size", expectSize)
	case !zero && v == 0:
		p.add(n.Line, m.key(name), "%s is zero; expected a positive size, e.g. 64MiB", show(n))
	default:
		return v
	}
	return def
}

// enum reads an optional value that must be one of choices.
func (p *parser) enum(m *mapping, name, def, what string, choices ...string) string {
	expected := choices[0]
	if len(choices) > 1 {
		expected = strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
	}
	s, n := m.scalar(name, expected)
	if n == nil || s == "" {
		return def
	}
	if !slices.Contains(choices, s) {
		p.bad(n, m.key(name), what, expected)
		return def
	}
	return s
}

func (p *parser) boolean(m *mapping, name string, def bool) bool {
	n := m.node(name)
	if n == nil {
		return def
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		p.wrongType(n, m.key(name), expectBool)
		return def
	}
	return strings.EqualFold(n.Value, "true")
}

// pathKey reads an optional path, resolved against the file's directory.
func (p *parser) pathKey(m *mapping, name, def string) string {
	s, n := m.scalar(name, expectPath)
	if n == nil || s == "" {
		return def
	}
	if strings.ContainsRune(s, 0) {
		p.bad(n, m.key(name), "a path", expectPath)
		return def
	}
	return p.path(s)
}

func (p *parser) path(s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(p.dir, s)
}

// stem is the config file's base name without its .yaml or .yml
// extension, which names the default state directory.
func stem(name string) string {
	base := filepath.Base(name)
	for _, ext := range []string{".yaml", ".yml"} {
		base = strings.TrimSuffix(base, ext)
	}
	if base == "" || base == "." || base == string(filepath.Separator) {
		return "default"
	}
	return base
}
