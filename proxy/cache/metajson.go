package cache

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
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

// parseMeta reads metadata as appendMeta writes it when no string needed
// escaping, into m, making one string for all the header's names and
// values and one slice for its value lists: a hit from disk reads one
// per request, and json.Unmarshal made several allocations per field.
// It reports false, with m partly set, for anything else, which
// json.Unmarshal then reads.
func parseMeta(b []byte, m *metaJSON) bool {
	p := metaParser{b: b}
	if !p.lit(`{"status":`) {
		return false
	}
	status, ok := p.int()
	if !ok || !p.lit(`,"header":{`) {
		return false
	}
	// The header's strings and lists, counted first: one allocation each.
	fields, values, ok := p.countHeader()
	if !ok {
		return false
	}
	text := string(b[p.i:])
	vals := make([]string, values)
	h := make(http.Header, fields)
	for first := true; !p.lit("}"); first = false {
		if !first && !p.lit(",") {
			return false
		}
		k, ok := p.str(text)
		if !ok || !p.lit(":[") {
			return false
		}
		n := 0
		for !p.lit("]") {
			if n > 0 && !p.lit(",") {
				return false
			}
			v, ok := p.str(text)
			if !ok || n == len(vals) {
				return false
			}
			vals[n] = v
			n++
		}
		h[k], vals = vals[:n:n], vals[n:]
	}
	if !p.lit(`,"request_time":`) || !p.time(&m.RequestTime) || !p.lit(`,"response_time":`) || !p.time(&m.ResponseTime) || !p.lit("}") || p.i != len(b) {
		return false
	}
	m.Status, m.Header = status, h
	return true
}

// metaParser is parseMeta's cursor.
type metaParser struct {
	b []byte
	i int
}

func (p *metaParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// int reads a non-negative integer of up to 9 digits, without leading
// zeros, as JSON writes it.
func (p *metaParser) int() (int, bool) {
	start, n := p.i, 0
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' && p.i-start < 9 {
		n = n*10 + int(p.b[p.i]-'0')
		p.i++
	}
	digits := p.i - start
	return n, digits == 1 || digits > 1 && p.b[start] != '0'
}

// rawString finds the quoted string at the cursor and moves past it:
// its bytes are b[start:end], with escapes when escaped is set.
func (p *metaParser) rawString() (start, end int, escaped, ok bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return 0, 0, false, false
	}
	start = p.i + 1
	for end = start; end < len(p.b); end++ {
		switch c := p.b[end]; {
		case c == '"':
			if !utf8.Valid(p.b[start:end]) {
				return 0, 0, false, false // json would replace what is invalid
			}
			p.i = end + 1
			return start, end, escaped, true
		case c == '\\':
			escaped = true
			end++ // the escaped byte is never the end
		case c < 0x20:
			return 0, 0, false, false
		}
	}
	return 0, 0, false, false
}

// str returns the string at the cursor: a part of text, which holds b
// from where the header begins, unless it has escapes.
func (p *metaParser) str(text string) (string, bool) {
	base := len(p.b) - len(text)
	start, end, escaped, ok := p.rawString()
	switch {
	case !ok:
		return "", false
	case escaped:
		return unescape(p.b[start:end])
	}
	return text[start-base : end-base], true
}

// unescape reads the escapes json.Marshal writes: \", \\, \n, \r, \t,
// \b, \f, \/ and \u of any character but a surrogate.
func unescape(b []byte) (string, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		if i++; i == len(b) {
			return "", false
		}
		switch c := b[i]; c {
		case '"', '\\', '/':
			out = append(out, c)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			if len(b)-i < 5 {
				return "", false
			}
			r, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				return "", false
			}
			out = utf8.AppendRune(out, rune(r))
			i += 4
		default:
			return "", false
		}
	}
	return string(out), true
}

// countHeader counts the header's fields and values ahead of the cursor,
// which it leaves where it was.
func (p *metaParser) countHeader() (fields, values int, ok bool) {
	q := *p
	for first := true; !q.lit("}"); first = false {
		if !first && !q.lit(",") {
			return 0, 0, false
		}
		if _, _, _, ok := q.rawString(); !ok || !q.lit(":[") {
			return 0, 0, false
		}
		fields++
		for n := 0; !q.lit("]"); n++ {
			if n > 0 && !q.lit(",") {
				return 0, 0, false
			}
			if _, _, _, ok := q.rawString(); !ok {
				return 0, 0, false
			}
			values++
		}
	}
	return fields, values, true
}

func (p *metaParser) time(t *time.Time) bool {
	start, end, escaped, ok := p.rawString()
	return ok && !escaped && t.UnmarshalText(p.b[start:end]) == nil
}
