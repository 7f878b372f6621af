package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// markerFingerprint marks a stored response with the fingerprint of the
// settings that shaped it. Never sent.
const markerFingerprint = "Icpedge-Fingerprint"

// storageRules is the version of the rules that decide what may be
// stored. Raise it when they tighten.
const storageRules = 4

// fingerprint identifies everything that shapes what the edge stores for
// a URL: the notice, the hosts whose URLs are rewritten, the selector
// (all of rewrite.Options, so fields added there count too) and how
// oversize HTML is treated, and the content policy, so that a hit needs no
// policy check of its own: what was stored passed these rules. A stored
// response whose marker differs was built under other settings (an
// earlier config before a reload) and is a miss, never served, not even
// as stale-if-error; it is replaced by the next fill or ages out by LRU.
//
// storageRules is part of it too: entries stored by a release with looser
// rules about what may be stored (before version 2, a cookie visitor's
// page without Cache-Control; before version 3, a private or no-store
// page under a forced rule, and JSON and inline scripts with origin URLs
// in them; before version 4, feeds and sitemaps with origin URLs in them)
// must not outlive the upgrade as stale copies.
func fingerprint(opts Options) string {
	sum := sha256.New()
	fmt.Fprintf(sum, "%d\n%#v\n%d\n%t\n%s\n%#v\n", storageRules, opts.Rewrite, opts.MaxHTMLSize, opts.PassOversize, opts.OriginHost, opts.Block)
	return hex.EncodeToString(sum.Sum(nil)[:12])
}
