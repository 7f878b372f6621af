package edge

import (
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/icpedge/icpedge/cmd/icpedge/internal/compliance"
	"github.com/icpedge/icpedge/config"
	"github.com/icpedge/icpedge/proxy"
)

// CheckSites lists an instance's sites: each host at / over https, or
// http when the instance serves no HTTPS. The public ports (80, 443) are
// assumed, whatever the local listen addresses say; URLs on the command
// line replace them.
func CheckSites(cfg *config.Config) []compliance.Site {
	scheme := "https"
	if cfg.TLS.Mode == "off" {
		scheme = "http"
	}
	var sites []compliance.Site
	for _, h := range cfg.Hosts {
		sites = append(sites, compliance.Site{URL: &url.URL{Scheme: scheme, Host: h, Path: "/"}, Apex: h == cfg.Apex.Host})
	}
	return sites
}

// CheckOptions maps an instance's config onto the checker's options; a
// nil cfg checks what needs no configuration. onEdge says the check runs
// on the edge itself, whose public addresses the hosts must resolve to
// when check.expect_ips is not set.
func CheckOptions(cfg *config.Config, onEdge bool) compliance.Options {
	if cfg == nil {
		return compliance.Options{
			DNSSkip:  "no config: the expected addresses are not known (check.expect_ips)",
			ApexSkip: "no config: the apex is not known (apex.host)",
			Blocked:  blockFunc(proxy.DefaultBlockRules()),
		}
	}
	o := compliance.Options{
		ICP:        cfg.Notice.ICP,
		Police:     cfg.Notice.Police,
		MainHosts:  cfg.Hosts,
		Pages:      cfg.Check.Pages,
		Timeout:    cfg.Check.Timeout,
		Blocked:    blockFunc(blockRules(cfg.Policy)),
		ApexSkip:   "no apex configured: the root domain must show content too; set apex.host and point it here",
		Registrars: cfg.Check.Registrars,
	}
	if o.Pages == 0 {
		o.Pages = -1 // the config's 0 means the home page only
	}
	switch {
	case len(cfg.Check.ExpectIPs) > 0:
		o.ExpectIPs, o.ExpectFrom = cfg.Check.ExpectIPs, "check.expect_ips"
	case !onEdge:
		o.DNSSkip = "no check.expect_ips, and not running on the edge (" + cfg.StateDir + " does not exist here)"
	default:
		if o.ExpectIPs = publicAddrs(); len(o.ExpectIPs) > 0 {
			o.ExpectFrom, o.ExpectGuessed = "this host's public addresses", true
		} else {
			o.DNSSkip = "no check.expect_ips, and this host has no public address on its interfaces (behind NAT?); set check.expect_ips"
		}
	}
	return o
}

// RDAPOptions maps a config onto the RDAP client's options; a nil cfg
// uses the defaults. The bootstrap file is kept in the state directory on
// the edge, else in the user's cache directory.
func RDAPOptions(cfg *config.Config, onEdge bool) compliance.RDAPOptions {
	var o compliance.RDAPOptions
	if cfg != nil {
		o.BootstrapURL, o.Servers, o.Timeout = cfg.Check.RDAPBootstrap, cfg.Check.RDAP, cfg.Check.Timeout
	}
	if onEdge {
		o.BootstrapDir = cfg.StateDir
	} else if dir, err := os.UserCacheDir(); err == nil {
		o.BootstrapDir = filepath.Join(dir, "icpedge")
	}
	return o
}

// publicAddrs are this host's public unicast interface addresses.
func publicAddrs() []netip.Addr {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	cgnat := netip.MustParsePrefix("100.64.0.0/10")
	var out []netip.Addr
	for _, a := range ifAddrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip) && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

func blockFunc(rules []proxy.BlockRule) compliance.BlockFunc {
	return func(p, ctype string, size int64) (string, bool) {
		r, ok := proxy.Match(rules, p, ctype, size)
		return r.Name, ok
	}
}
