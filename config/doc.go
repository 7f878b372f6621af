// Package config turns one client instance's YAML file into a validated
// Config with every default filled in. It reports every problem in the file
// at once, each naming the file, line, key, bad value and what was expected,
// so an operator can fix a file in one pass. It never touches the network.
package config
