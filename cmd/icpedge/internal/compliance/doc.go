// Package compliance checks what keeps an ICP filing: that a site answers
// with real content, shows its filing number exactly as filed and linked
// to MIIT, visibly, without dead MIIT links or links to content the
// content policy blocks, that its root domain is live, and that its DNS
// and certificate point at and belong to the filing provider's edge; and,
// through RDAP, that the domain behind them is neither expiring nor on
// hold, and where its registrar is. It serves both "icpedge check" and the
// self-audit of a running edge.
package compliance
