// Package status renders the admin listener's HTML status page: for every
// site of the process, its self-audit checks, certificates, cache and
// origin figures over the last hour, and the last reload's outcome.
//
// The page is plain server-rendered HTML with inline CSS and no script, so
// it loads from a host in China without reaching any other server. Window
// gathers the last hour's figures from the request path in bounded memory.
package status
