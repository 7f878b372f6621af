// Package cache holds the edge's response cache: HTTP caching rules
// (RFC 9111, RFC 5861, and the conditional and range requests of RFC 9110)
// as pure functions of headers, status, method and time, and Store, a
// crash-safe, size-bounded disk store with an in-memory tier for hot
// entries. Package proxy combines them; this package does no HTTP itself.
package cache
