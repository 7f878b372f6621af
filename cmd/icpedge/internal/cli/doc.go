// Package cli holds the conventions every icpedge subcommand follows on
// its command line, as go and kubectl do: --help prints the usage once,
// on stdout, with status 0; a usage error prints to stderr with status 2;
// a flag's default is stated once.
package cli
