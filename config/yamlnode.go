package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parser walks a yaml.Node tree and collects problems instead of stopping
// at the first one. Decoding straight into structs would lose line numbers
// and stop early, which is why the tree is walked by hand.
type parser struct {
	file  string // name used in problems
	dir   string // base for relative paths
	probs []*Problem
	// lines holds the line of every known key given in the file, by
	// dotted path, for problems found after parsing (Config.Line).
	lines map[string]int
}

// add records a problem.
func (p *parser) add(line int, key, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	p.probs = append(p.probs, &Problem{File: p.file, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

// bad records the common "<value> is not <what>; expected <expected>"
// problem for a scalar value.
func (p *parser) bad(n *yaml.Node, key, what, expected string) {
	p.add(n.Line, key, "%s is not %s; expected %s", show(n), what, expected)
}

// wrongType records a value of the wrong YAML kind.
func (p *parser) wrongType(n *yaml.Node, key, expected string) {
	if n.Kind == yaml.ScalarNode {
		p.add(n.Line, key, "%s is %s; expected %s", show(n), kind(n), expected)
		return
	}
	p.add(n.Line, key, "got %s; expected %s", kind(n), expected)
}

// mapping is one YAML mapping whose keys have been checked against the
// keys it may hold.
type mapping struct {
	p    *parser
	path string // dotted path of the mapping itself; "" at the top
	line int    // where the mapping was introduced, for "missing" problems
	// broken is set when the value was not a mapping at all; a problem has
	// been reported and missing keys are not reported on top of it.
	broken bool
	vals   map[string]*yaml.Node
	lines  map[string]int // line of each key
}

// mapping checks that n (which may be nil, for an absent key) is a mapping
// holding only known keys, each once.
func (p *parser) mapping(n *yaml.Node, path string, line int, known []string) *mapping {
	m := &mapping{p: p, path: path, line: line, vals: map[string]*yaml.Node{}, lines: map[string]int{}}
	n = deref(n)
	if n == nil || isNull(n) {
		return m
	}
	if n.Kind != yaml.MappingNode {
		p.wrongType(n, path, "a mapping with keys "+strings.Join(known, ", "))
		m.broken = true
		return m
	}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k.Line, path, "got %s as a key; expected one of %s", kind(k), strings.Join(known, ", "))
			continue
		}
		name := k.Value
		key := join(path, name)
		if line, dup := first[name]; dup {
			p.add(k.Line, key, "duplicate key, first set on line %d; expected each key once", line)
			continue
		}
		first[name] = k.Line
		switch {
		case slices.Contains(known, name):
			m.vals[name] = v
			m.lines[name] = k.Line
			p.lines[key] = k.Line
		case name == "<<":
			p.add(k.Line, key, "merge keys are not supported; expected plain keys")
		default:
			if s := suggest(name, known); s != "" {
				p.add(k.Line, key, "unknown key; did you mean %s?", join(path, s))
			} else {
				p.add(k.Line, key, "unknown key; expected one of %s", strings.Join(known, ", "))
			}
		}
	}
	return m
}

// key returns the dotted path of name inside m.
func (m *mapping) key(name string) string { return join(m.path, name) }

// has reports whether name was given, even with an empty value.
func (m *mapping) has(name string) bool { return m.vals[name] != nil }

// node returns the value of name, or nil if it is absent or empty.
func (m *mapping) node(name string) *yaml.Node {
	n := deref(m.vals[name])
	if n == nil || isNull(n) {
		return nil
	}
	return n
}

// keyLine is the line of name's key, or of the mapping if name is absent.
func (m *mapping) keyLine(name string) int {
	if l, ok := m.lines[name]; ok {
		return l
	}
	return m.line
}

// sub returns the mapping under name.
func (m *mapping) sub(name string, known []string) *mapping {
	sub := m.p.mapping(m.vals[name], m.key(name), m.keyLine(name), known)
	sub.broken = sub.broken || m.broken
	return sub
}

// missing reports that the required key name is absent or empty.
func (m *mapping) missing(name, expected string) {
	switch {
	case m.broken:
	case m.has(name):
		m.p.add(m.keyLine(name), m.key(name), "empty; expected %s", expected)
	default:
		m.p.add(m.line, m.key(name), "missing; expected %s", expected)
	}
}

// scalar returns the text of name, and its node for problems. An absent or
// empty value returns "" and a nil node. Any scalar is accepted here (80 as
// well as "80"): the caller validates the text and reports it with the
// value as written.
func (m *mapping) scalar(name, expected string) (string, *yaml.Node) {
	n := m.node(name)
	if n == nil {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		m.p.wrongType(n, m.key(name), expected)
		return "", nil
	}
	return n.Value, n
}

// list returns the items of the sequence under name, each alias resolved.
// ok is false when name is absent, empty or not a list.
func (m *mapping) list(name, expected string) (items []*yaml.Node, ok bool) {
	n := m.node(name)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		m.p.wrongType(n, m.key(name), expected)
		return nil, false
	}
	items = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = deref(c)
	}
	return items, true
}

// deref follows aliases, so anchors work wherever a value is expected.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kind names the YAML kind of n for messages.
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.ShortTag() {
	case "!!str":
		return "a string"
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "empty"
	case "!!timestamp":
		return "a timestamp"
	}
	return "a " + strings.TrimLeft(n.ShortTag(), "!")
}

// maxShown bounds a value quoted in a message.
const maxShown = 60

// show renders a scalar the way it is quoted in messages: strings in Go
// quotes, so stray spaces and control characters are visible; numbers and
// booleans bare.
func show(n *yaml.Node) string {
	v := n.Value
	if r := []rune(v); len(r) > maxShown {
		v = string(r[:maxShown-3]) + "..."
	}
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool":
		return v
	}
	return strconv.Quote(v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// suggest returns the known key closest to name, if it is close enough to
// be a likely typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 0
	lower := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	for _, k := range known {
		d := distance(lower, k)
		if d > max(1, len(k)/3) {
			continue
		}
		if best == "" || d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in bytes (keys are
// ASCII).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
