package cache

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// appendMeta appends m as encoding/json would marshal it, byte for byte,
// without reflection: a fill writes one per entry, and json.Marshal made
// two allocations per header field. Strings that need escaping, and
// times json would refuse, go through encoding/json itself.
func appendMeta(b []byte, m metaJSON) ([]byte, error) {
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(m.Status), 10)
	b = append(b, `,"header":`...)
	if m.Header == nil {
		b = append(b, "null"...)
	} else {
		var stack [32]string
		keys := stack[:0]
		for k := range m.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			vs := m.Header[k]
			if vs == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '[')
			for j, v := range vs {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, v)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	var err error
	b = append(b, `,"request_time":`...)
	if b, err = appendJSONTime(b, m.RequestTime); err != nil {
		return nil, err
	}
	b = append(b, `,"response_time":`...)
	if b, err = appendJSONTime(b, m.ResponseTime); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSONString appends s quoted as json.Marshal quotes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		// What json escapes or replaces: controls, quote, backslash,
		// the HTML-sensitive <, > and &, and anything not ASCII
		// (invalid UTF-8, U+2028, U+2029).
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			js, _ := json.Marshal(s) // a string always marshals
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONTime appends t as time.Time's MarshalJSON does, with its error
// for a time RFC 3339 can't carry.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	out, err := t.AppendText(append(b, '"'))
	if err != nil {
		return b, err
	}
	return append(out, '"'), nil
}
