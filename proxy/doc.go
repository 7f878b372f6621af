// Package proxy is the edge's http.Handler: it routes by host, fetches from
// the client's origin, decodes and rewrites HTML through package rewrite,
// caches, and compresses for the visitor.
package proxy
