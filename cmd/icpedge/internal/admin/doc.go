// Package admin is the client side of a running edge's admin API: it
// finds the admin listener and token a config names, and asks the edge
// to purge its cache or reload its config. The server side is
// cmd/icpedge/internal/edge.
package admin
