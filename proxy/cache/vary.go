package cache

import (
	"net/http"
	"slices"
	"strings"
)

// varyStar reports whether Vary lists "*", which no later request can
// match (RFC 9111 §4.1).
func varyStar(h http.Header) bool {
	for _, line := range h.Values("Vary") {
		for name := range strings.SplitSeq(line, ",") {
			if strings.TrimSpace(name) == "*" {
				return true
			}
		}
	}
	return false
}

// SecondaryKey computes the secondary cache key of RFC 9111 §4.1: the
// values, in reqHeader, of the request fields named by the stored
// response's Vary (respHeader). A stored response may serve a request
// only if the key computed from the request that produced it equals the
// key computed from the new one; the caller stores the former with the
// entry, typically as part of the store key.
//
// Names are compared case-insensitively and sorted, so "Vary: A, B" and
// "Vary: b, a" give the same key. Values are normalised as §4.1 allows:
// field lines are combined with commas, and whitespace around list
// members is trimmed. A field absent from the request differs from one
// present but empty. Names in ignore are left out (icpedge chooses
// Accept-Encoding itself and stores every encoding in one entry).
//
// ok is false when Vary contains "*": such a response matches no request.
// Without Vary the key is "".
func SecondaryKey(respHeader, reqHeader http.Header, ignore ...string) (key string, ok bool) {
	var names []string
	for _, line := range respHeader.Values("Vary") {
		for name := range strings.SplitSeq(line, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			switch {
			case name == "":
				continue
			case name == "*":
				return "", false
			}
			if !slices.ContainsFunc(ignore, func(s string) bool { return strings.EqualFold(s, name) }) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var b strings.Builder
	for _, name := range names {
		b.WriteString(name)
		vals := reqHeader.Values(name)
		if vals == nil {
			b.WriteString("\n") // absent: no ':' at all
			continue
		}
		b.WriteString(":")
		first := true
		for _, v := range vals {
			for member := range strings.SplitSeq(v, ",") {
				if !first {
					b.WriteString(",")
				}
				first = false
				b.WriteString(strings.TrimSpace(member))
			}
		}
		b.WriteString("\n")
	}
	return b.String(), true
}
