package config

import _ "embed"

//go:embed example.yaml
var exampleYAML []byte

// ExampleYAML returns the annotated example config: every key, with what it
// does and its default. It loads as is. Each call returns a fresh copy, so
// callers may modify it.
func ExampleYAML() []byte {
	return append([]byte(nil), exampleYAML...)
}
