// Package fleetcheck runs "icpedge check": it maps clients' configs and
// URLs onto the sites and options of the compliance checker, applies
// what the command line overrides, checks several clients at once with a
// line of progress for each, and joins their results into one report.
// The checks themselves are cmd/icpedge/internal/compliance.
package fleetcheck
