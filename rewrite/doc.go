// Package rewrite transforms HTML documents for the edge: it injects the ICP
// filing notice, moves the origin's absolute URLs onto the edge host, and
// repairs dead MIIT links.
//
// Edits are spliced into the original bytes; the document is parsed (with
// goquery) only to decide where the notice goes, never re-serialized, so
// everything outside an edited attribute and the inserted block stays
// byte-identical. It is a pure library: bytes in, bytes out, no network and
// no HTTP.
package rewrite
