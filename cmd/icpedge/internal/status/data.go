package status

import "time"

// Page is everything the status page shows. The edge builds one for each
// request to the page; the package only reads it.
type Page struct {
	// Started is when the process started. Zero: not shown.
	Started time.Time
	// Version is the binary's version. "": not shown.
	Version string
	// Sites are shown in this order.
	Sites []Site
	// Refused are the config files the last reload (or the start)
	// refused that no site is served from (a new client's file that does not load): a site
	// whose new file was refused keeps serving and shows it under its
	// Reload instead.
	Refused []Refused
	// Compression is what the edge's compression saved, for the whole
	// process. Zero: not shown.
	Compression Compression
}

// Compression is the bandwidth the edge's compression saved since the
// process started.
type Compression struct {
	// Sent is body bytes sent, by Content-Encoding ("identity" for none).
	Sent map[string]int64
	// Saved is what compressed responses sent whole would have taken
	// more without compression, and Ratio that saving over their
	// uncompressed size (0 to 1).
	Saved int64
	Ratio float64
}

// Refused is a config file a reload did not take.
type Refused struct {
	Name string // the client's name (the file's name without .yaml)
	Err  string
	At   time.Time
}

// Site is one client of the process: one config file.
type Site struct {
	// Name identifies the client (its config file's name in a
	// --config-dir process); "" shows Hosts[0] instead.
	Name string
	// Hosts are the host names the site serves.
	Hosts []string
	// Checks are the self-audit's checks, in the order they ran. Empty
	// shows that no audit has run yet (or check.interval is 0), with
	// AuditNote as the reason when set.
	Checks    []Check
	AuditNote string
	// Certs are the site's certificates, one per host that has one.
	// Empty means the site serves no HTTPS.
	Certs []Cert
	// Traffic is the last hour's figures, from Window.Traffic.
	Traffic Traffic
	// CacheBytes is what the site's cache holds on disk now; zero or
	// less is not shown.
	CacheBytes int64
	// Reload is the outcome of the last reload that concerned the site.
	Reload Reload
}

// Result is a check's last outcome.
type Result string

const (
	OK   Result = "ok"
	Warn Result = "warn" // passed, but needs attention soon
	Fail Result = "fail"
	Skip Result = "skip" // needs configuration, or does not apply
)

// Check is one self-audit check's last outcome.
type Check struct {
	Name string
	// Target is what was checked (a host or domain) when the site has
	// several; "" for the site as a whole.
	Target string
	Result Result
	// At is when the check last ran.
	At time.Time
	// Reason says what was found; Fix, for a failure or warning, how to
	// put it right. Both may hold anything a checked page said, and are
	// escaped.
	Reason string
	Fix    string
}

// Cert is the certificate a host is served with.
type Cert struct {
	Host   string
	Issuer string
	// NotAfter is when it expires. Zero: no certificate yet (Err says
	// why, or it is being obtained).
	NotAfter time.Time
	// Err is the last error obtaining or renewing it, "" for none.
	Err string
}

// Reload is the outcome of a reload: a SIGHUP or the admin API's reload.
type Reload struct {
	// At is when it happened. Zero: none since the process started.
	At time.Time
	// Err is why it was refused ("" when it succeeded). A refused
	// reload leaves the previous config serving.
	Err string
}
