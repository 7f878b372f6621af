package config

import "fmt"

// Problem is one thing wrong with a config file. Load and Parse collect
// every Problem in a file and return them together, joined with
// errors.Join and sorted by line, so err.Error() lists one per line. Use
// errors.As to reach the first, or the joined error's Unwrap() []error to
// walk them all.
type Problem struct {
	File string // the path given to Load or the name given to Parse
	Line int    // 1-based line number
	// Key is the dotted path of the offending key, e.g. "notice.icp" or
	// "cache.rules[0].ttl" (list indexes count from 0). Empty when the
	// problem is with the file as a whole, such as a YAML syntax error.
	Key string
	// Message says what is wrong, quoting the bad value, and then after
	// "; expected" what would have been accepted.
	Message string
}

// Error formats p as "file:line: key: message".
func (p *Problem) Error() string {
	if p.Key == "" {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Key, p.Message)
}
