package cli

import "strings"

// Repeated is a flag that may be given more than once, each value kept
// whole (curl's --resolve).
type Repeated []string

func (l *Repeated) String() string     { return strings.Join(*l, " ") }
func (l *Repeated) Set(s string) error { *l = append(*l, s); return nil }

// CommaList is a flag that may be given more than once, or with commas;
// blank items are dropped.
type CommaList []string

func (l *CommaList) String() string { return strings.Join(*l, ",") }
func (l *CommaList) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
