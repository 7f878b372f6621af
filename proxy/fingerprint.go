package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// markerFingerprint marks a stored response with the fingerprint of the
// settings that shaped it. Never sent.
const markerFingerprint = "Icpedge-Fingerprint"

// fingerprint identifies everything that shapes what the edge stores for
// a URL: the notice, the hosts whose URLs are rewritten, the selector
// (all of rewrite.Options, so fields added there count too) and how
// oversize HTML is treated, and the content policy, so that a hit needs no
// policy check of its own: what was stored passed these rules. A stored
// response whose marker differs was built under other settings (an
// earlier config before a reload) and is a miss, never served, not even
// as stale-if-error; it is replaced by the next fill or ages out by LRU.
func fingerprint(opts Options) string {
	sum := sha256.New()
	fmt.Fprintf(sum, "%#v\n%d\n%t\n%s\n%#v\n", opts.Rewrite, opts.MaxHTMLSize, opts.PassOversize, opts.OriginHost, opts.Block)
	return hex.EncodeToString(sum.Sum(nil)[:12])
}
