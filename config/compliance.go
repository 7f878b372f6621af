package config

import (
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Apex is the client's root domain, served by this instance as well so
// that it is never empty: filings are revoked when the filed root domain
// shows no content.
type Apex struct {
	// Host is the root domain (key apex.host), e.g. client.com. Empty when
	// no apex is configured. When set, Load adds it to Config.Hosts, so it
	// is served and gets a certificate like every other host.
	Host string
	// Mode is what the apex serves (key apex.mode): "landing", a minimal
	// built-in page with the company name, a link to the main site and the
	// notice, which never depends on the origin; or "proxy", the same
	// proxied site as Hosts. Default "landing".
	Mode string
}

// Policy is the content policy: responses the edge refuses with 451
// because content like them gets filings revoked.
type Policy struct {
	// Defaults turns on the built-in rules (key policy.defaults), listed
	// in the README: torrents, and video files over 1 GiB. Default true.
	Defaults bool
	// Block are the instance's own rules (key policy.block), checked
	// besides the defaults. A response is blocked when any rule matches.
	Block []BlockRule
}

// BlockRule matches responses to refuse. Every condition given must hold;
// at least one is given.
type BlockRule struct {
	// Path is a glob on the request path (key policy.block[].path),
	// matched without regard to case. A pattern with no "/" matches the
	// last path segment anywhere ("*.torrent"); one beginning with "/"
	// matches the whole path ("/films/*.mp4"), and one ending in "/"
	// matches everything under it ("/downloads/"). "*" and "?" do not
	// cross "/". Empty means any path.
	Path string
	// Type is a media type, or a type with "/*" (key policy.block[].type),
	// lower-case, e.g. application/x-bittorrent or video/*. Empty means any
	// type.
	Type string
	// MaxSize, in bytes, blocks responses larger than it
	// (key policy.block[].max_size). Zero means any size.
	MaxSize int64
	// Key names the rule in logs, e.g. "policy.block[0]".
	Key string
}

// Check configures compliance checking: icpedge check, and the self-audit
// of a running instance.
type Check struct {
	// Interval is how often a running instance audits itself
	// (key check.interval). Zero, the default, turns the audit off.
	Interval time.Duration
	// Pages is how many pages linked from the home page are checked
	// besides it, on the same host (key check.pages). Default 10; 0
	// checks the home page only.
	Pages int
	// ExpectIPs are the addresses every served host must resolve to
	// (key check.expect_ips): this edge's public addresses. Default none:
	// on the edge itself, the host's own public interface addresses.
	ExpectIPs []netip.Addr
	// Timeout bounds each request a check makes (key check.timeout).
	// Default 15s.
	Timeout time.Duration
	// RDAPBootstrap is the URL of the RDAP bootstrap file for domain
	// names, RFC 9224 (key check.rdap_bootstrap). Default
	// DefaultRDAPBootstrap, IANA's.
	RDAPBootstrap string
	// RDAP maps a domain suffix, a TLD such as "cn" or a longer one such
	// as "com.cn", lower-case and in xn-- form, to the base URL of the RDAP
	// server to ask for domains under it instead of the one the bootstrap
	// file names (key check.rdap). Each URL ends in "/" (RFC 9224 §3).
	// Default none.
	RDAP map[string]string
	// Registrars are the registrars the agency accepts wherever they are
	// (key check.registrars): names as RDAP gives them, or IANA registrar
	// IDs. Default none.
	Registrars []string
}

// DefaultRDAPBootstrap is IANA's RDAP bootstrap file for domain names
// (RFC 9224).
const DefaultRDAPBootstrap = "https://data.iana.org/rdap/dns.json"

const (
	defaultApexMode     = "landing"
	defaultCheckPages   = 10
	maxCheckPages       = 100
	defaultCheckTimeout = 15 * time.Second

	expectGlob     = `a path glob: "*.torrent" (any last segment), "/films/*.mp4" (a whole path) or "/downloads/" (everything under it)`
	expectType     = "a media type, or a type with /*, e.g. application/x-bittorrent or video/*"
	expectIP       = "an IP address, e.g. 203.0.113.10 or 2001:db8::10"
	expectBlock    = "a list of {path, type, max_size} mappings"
	expectBlockOne = "at least one of path, type, max_size"
	expectRDAPBoot = "an http or https URL of an RDAP bootstrap file (RFC 9224), e.g. " + DefaultRDAPBootstrap
	expectRDAPURL  = "the http or https base URL of an RDAP server, e.g. https://rdap.example.cn/"
	expectRDAPMap  = "a mapping of domain suffixes to RDAP server URLs, e.g. {cn: https://rdap.example.cn/}"
	expectSuffix   = "a TLD or domain suffix such as cn or com.cn, without a leading dot"
	expectRegistr  = "a registrar's name as icpedge check shows it, or its IANA ID"
)

var (
	apexKeys   = []string{"host", "mode"}
	policyKeys = []string{"defaults", "block"}
	blockKeys  = []string{"path", "type", "max_size"}
	checkKeys  = []string{"interval", "pages", "expect_ips", "timeout", "rdap_bootstrap", "rdap", "registrars"}
)

// mediaTypeRE is a media type (RFC 9110 §8.3.1 token/token), or a type
// with a "*" subtype.
var mediaTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]*/(?:\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$`)

// compliance reads the apex, policy and check sections.
func (p *parser) compliance(c *Config, top *mapping) {
	p.apex(c, top)
	p.policy(c, top)
	p.check(c, top)
}

func (p *parser) apex(c *Config, top *mapping) {
	if top.node("apex") == nil {
		return
	}
	a := top.sub("apex", apexKeys)
	if s, n := a.required("host", expectHost); n != nil {
		h, reason := hostName(s)
		switch {
		case reason != "":
			p.add(n.Line, "apex.host", "%s is not a host name (%s); expected %s", show(n), reason, expectHost)
		case slices.Contains(c.Hosts, h):
			p.add(n.Line, "apex.host", "%s is also in hosts; expected it only under apex, or only in hosts", show(n))
		case c.Origin != nil && h == strings.ToLower(c.Origin.Hostname()):
			p.add(n.Line, "apex.host", "%s is the origin's host, so the edge would proxy to itself; expected the root domain pointed at this edge", show(n))
		default:
			c.Apex.Host = h
		}
	}
	c.Apex.Mode = p.enum(a, "mode", defaultApexMode, "an apex mode", "landing", "proxy")
	if c.Apex.Host != "" {
		c.Hosts = append(c.Hosts, c.Apex.Host)
	}
}

func (p *parser) policy(c *Config, top *mapping) {
	pm := top.sub("policy", policyKeys)
	c.Policy.Defaults = p.boolean(pm, "defaults", true)
	items, _ := pm.list("block", expectBlock)
	for i, item := range items {
		key := index("policy.block", i)
		if isNull(item) {
			p.add(item.Line, key, "empty; expected a mapping with %s", expectBlockOne)
			continue
		}
		r := p.mapping(item, key, item.Line, blockKeys)
		if r.broken {
			continue
		}
		rule := BlockRule{Key: key}
		if s, n := r.scalar("path", expectGlob); n != nil && s != "" {
			if reason := globProblem(s); reason != "" {
				p.add(n.Line, r.key("path"), "%s is not a path glob (%s); expected %s", show(n), reason, expectGlob)
			}
			rule.Path = s
		}
		if s, n := r.scalar("type", expectType); n != nil && s != "" {
			if !mediaTypeRE.MatchString(s) {
				p.bad(n, r.key("type"), "a media type", expectType)
			}
			rule.Type = s
		}
		rule.MaxSize = p.size(r, "max_size", 0, false)
		if rule.Path == "" && rule.Type == "" && r.node("max_size") == nil {
			p.add(item.Line, key, "no condition; expected %s", expectBlockOne)
		}
		c.Policy.Block = append(c.Policy.Block, rule)
	}
}

// globProblem says what is wrong with a policy path glob, or "".
func globProblem(s string) string {
	switch {
	case strings.Contains(s, "#"):
		return "has a fragment"
	case strings.ContainsAny(s, " \t"):
		return "has a space"
	case strings.Contains(s, "/") && !strings.HasPrefix(s, "/"):
		return `has a "/" but does not begin with one`
	}
	if _, err := path.Match(s, ""); err != nil {
		return "unbalanced [ ] or a trailing \\"
	}
	return ""
}

func (p *parser) check(c *Config, top *mapping) {
	cm := top.sub("check", checkKeys)
	c.Check.Interval = p.duration(cm, "interval", 0, false)
	c.Check.Timeout = p.duration(cm, "timeout", defaultCheckTimeout, true)
	c.Check.Pages = defaultCheckPages
	if s, n := cm.scalar("pages", "a whole number from 0 to 100"); n != nil && s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > maxCheckPages {
			p.bad(n, "check.pages", "a page count", "a whole number from 0 to 100")
		} else {
			c.Check.Pages = v
		}
	}
	items, _ := cm.list("expect_ips", "a list of IP addresses, e.g. [203.0.113.10]")
	for i, n := range items {
		key := index("check.expect_ips", i)
		s, ok := p.item(n, key, expectIP)
		if !ok {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			p.bad(n, key, "an IP address", expectIP)
			continue
		}
		a = a.Unmap()
		if slices.Contains(c.Check.ExpectIPs, a) {
			p.add(n.Line, key, "%s is listed twice; expected each address once", show(n))
			continue
		}
		c.Check.ExpectIPs = append(c.Check.ExpectIPs, a)
	}
	p.rdap(c, cm)
}

// rdap reads check.rdap_bootstrap, check.rdap and check.registrars.
func (p *parser) rdap(c *Config, cm *mapping) {
	c.Check.RDAPBootstrap = DefaultRDAPBootstrap
	if s, n := cm.scalar("rdap_bootstrap", expectRDAPBoot); n != nil && s != "" {
		if u, reason := httpURL(s); reason != "" {
			p.add(n.Line, "check.rdap_bootstrap", "%s is not a URL (%s); expected %s", show(n), reason, expectRDAPBoot)
		} else {
			c.Check.RDAPBootstrap = u.String()
		}
	}

	if n := cm.node("rdap"); n != nil {
		if n.Kind != yaml.MappingNode {
			p.wrongType(n, "check.rdap", expectRDAPMap)
		} else {
			p.rdapServers(c, n)
		}
	}

	items, _ := cm.list("registrars", "a list of registrar names or IANA IDs")
	first := map[string]string{}
	for i, n := range items {
		key := index("check.registrars", i)
		s, ok := p.item(n, key, expectRegistr)
		if !ok {
			continue
		}
		norm := strings.ToLower(strings.Join(strings.Fields(s), " "))
		if norm == "" {
			p.add(n.Line, key, "%s is blank; expected %s", show(n), expectRegistr)
			continue
		}
		if k, dup := first[norm]; dup {
			p.add(n.Line, key, "%s repeats %s; expected each registrar once", show(n), k)
			continue
		}
		first[norm] = key
		c.Check.Registrars = append(c.Check.Registrars, strings.Join(strings.Fields(s), " "))
	}
}

// rdapServers reads the check.rdap mapping of domain suffixes to RDAP
// base URLs.
func (p *parser) rdapServers(c *Config, n *yaml.Node) {
	c.Check.RDAP = map[string]string{}
	first := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.add(k.Line, "check.rdap", "got %s as a key; expected %s", kind(k), expectSuffix)
			continue
		}
		key := "check.rdap." + k.Value
		suffix, reason := hostName(strings.TrimSpace(k.Value))
		if reason != "" {
			p.add(k.Line, key, "%s is not a domain suffix (%s); expected %s", show(k), reason, expectSuffix)
			continue
		}
		if prev, dup := first[suffix]; dup {
			p.add(k.Line, key, "repeats %s; expected each suffix once", prev)
			continue
		}
		first[suffix] = key
		switch {
		case isNull(v):
			p.add(v.Line, key, "empty; expected %s", expectRDAPURL)
			continue
		case v.Kind != yaml.ScalarNode:
			p.wrongType(v, key, expectRDAPURL)
			continue
		}
		u, reason := httpURL(v.Value)
		if reason != "" {
			p.add(v.Line, key, "%s is not a URL (%s); expected %s", show(v), reason, expectRDAPURL)
			continue
		}
		base := u.String()
		if !strings.HasSuffix(base, "/") {
			// RFC 9224 §3: base URLs end in "/", as path segments
			// such as domain/<name> are appended to them.
			base += "/"
		}
		c.Check.RDAP[suffix] = base
	}
}
