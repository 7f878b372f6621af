package rewrite

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// A UTF-16 page is rewritten through a transcoding that loses nothing: its
// code units become WTF-8 (UTF-8 that also spells a lone surrogate, as
// the three bytes ED A0-BF xx), the UTF-8 rewriter works on that, and the
// result is turned back into code units in the page's own byte order.
// Valid pairs and lone surrogates alike come back as the same two bytes,
// so everything but the edits is byte-identical, and the edits (the
// notice, URLs) are whole characters at ASCII tag boundaries. A trailing
// odd byte, which is no code unit, is kept raw at the very end.

// utf16BigEndian reports whether a UTF-16 encoding name is big-endian.
func utf16BigEndian(name string) bool { return name == "utf-16be" }

func unit16(b []byte, be bool) uint16 {
	if be {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return uint16(b[1])<<8 | uint16(b[0])
}

func appendUnit16(dst []byte, u uint16, be bool) []byte {
	if be {
		return append(dst, byte(u>>8), byte(u))
	}
	return append(dst, byte(u), byte(u>>8))
}

func isHighSurrogate(u uint16) bool { return u >= 0xD800 && u < 0xDC00 }
func isLowSurrogate(u uint16) bool  { return u >= 0xDC00 && u < 0xE000 }

// decode16 appends the WTF-8 form of the code units in src to dst and
// returns how many bytes of src it used. It stops before a trailing odd
// byte, and, unless final, before a trailing high surrogate that the next
// unit may pair with.
func decode16(dst, src []byte, be, final bool) ([]byte, int) {
	i := 0
	for i+2 <= len(src) {
		u := unit16(src[i:], be)
		if isHighSurrogate(u) {
			if i+4 <= len(src) {
				if lo := unit16(src[i+2:], be); isLowSurrogate(lo) {
					r := 0x10000 + (rune(u)-0xD800)<<10 + (rune(lo) - 0xDC00)
					dst = utf8.AppendRune(dst, r)
					i += 4
					continue
				}
			} else if !final {
				break
			}
		}
		if u >= 0xD800 && u < 0xE000 {
			// A lone surrogate, which UTF-8 cannot spell: WTF-8.
			dst = append(dst, 0xE0|byte(u>>12), 0x80|byte(u>>6)&0x3F, 0x80|byte(u)&0x3F)
		} else {
			dst = utf8.AppendRune(dst, rune(u))
		}
		i += 2
	}
	return dst, i
}

// encode16 appends the code units of the WTF-8 text in src to dst and
// returns how many bytes of src it used. Unless final, it stops before an
// incomplete sequence at the end. A byte that starts no sequence becomes
// U+FFFD; text made by decode16 and UTF-8 edits has none.
func encode16(dst, src []byte, be, final bool) ([]byte, int) {
	i := 0
	for i < len(src) {
		c := src[i]
		if c < 0x80 {
			dst = appendUnit16(dst, uint16(c), be)
			i++
			continue
		}
		var n int
		var cp rune
		lo, hi := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			n, cp = 2, rune(c&0x1F)
		case c >= 0xE0 && c <= 0xEF:
			n, cp = 3, rune(c&0x0F)
			if c == 0xE0 {
				lo = 0xA0
			}
		case c >= 0xF0 && c <= 0xF4:
			n, cp = 4, rune(c&0x07)
			if c == 0xF0 {
				lo = 0x90
			} else if c == 0xF4 {
				hi = 0x8F
			}
		default:
			dst = appendUnit16(dst, 0xFFFD, be)
			i++
			continue
		}
		if i+n > len(src) && !final {
			// Complete so far? Then wait for the rest.
			ok := true
			for k := 1; i+k < len(src); k++ {
				if b := src[i+k]; b < 0x80 || b > 0xBF || k == 1 && (b < lo || b > hi) {
					ok = false
				}
			}
			if ok {
				break
			}
		}
		valid := i+n <= len(src)
		for k := 1; valid && k < n; k++ {
			b := src[i+k]
			if b < 0x80 || b > 0xBF || k == 1 && (b < lo || b > hi) {
				valid = false
				break
			}
			cp = cp<<6 | rune(b&0x3F)
		}
		if !valid {
			dst = appendUnit16(dst, 0xFFFD, be)
			i++
			continue
		}
		if cp >= 0x10000 {
			cp -= 0x10000
			dst = appendUnit16(dst, uint16(0xD800+cp>>10), be)
			dst = appendUnit16(dst, uint16(0xDC00+cp&0x3FF), be)
		} else {
			dst = appendUnit16(dst, uint16(cp), be)
		}
		i += n
	}
	return dst, i
}

// htmlUTF16 rewrites a UTF-16 document: the UTF-8 rewriter works on its
// WTF-8 form, with the notice in its own characters, and the result goes
// back into the page's code units and byte order after the page's own
// byte order mark.
func (r *Rewriter) htmlUTF16(src []byte, contentType string, pc pageCharset, how placement) Result {
	be := utf16BigEndian(pc.name)
	body := src[pc.bom:]
	odd := len(body) % 2
	text, _ := decode16(make([]byte, 0, len(body)*3/2), body[:len(body)-odd], be, true)
	s := r.scan(text, 0, how.prefix, "utf-8") // decoded
	// The UTF-8 result is a step on the way: the page goes into the
	// buffer when it is encoded back.
	buffer := how.buffer
	how.blocks, how.buffer = &r.blocksUTF8, nil
	out := r.edit(text, s, pageCharset{name: "utf-8"}, how)
	r.release(s)
	res := Result{Body: src, ContentType: pageContentType(contentType, pc), Hints: s.hints, Base: s.base}
	if bytes.Equal(out, text) {
		return res
	}
	b := bufferOf(buffer, len(src)+2*(len(out)-len(text))+16)
	b = append(b, src[:pc.bom]...)
	b, _ = encode16(b, out, be, true)
	res.Body = append(b, body[len(body)-odd:]...)
	return res
}

// stream16 is Rewriter.Stream for a UTF-16 document: bytes are decoded
// to WTF-8 as they come, rewritten by a UTF-8 stream, and encoded back.
type stream16 struct {
	inner *stream
	out   *writer16
	be    bool
	pend  []byte // undecoded: an odd byte, or a high surrogate waiting for its pair
	text  []byte
}

// newStream16 is the stream for the rest of s's document, which is UTF-16
// (big-endian when be) after its byte order mark bom.
func (s *stream) newStream16(be bool, bom []byte) *stream16 {
	w := &writer16{dst: s.dst, be: be, head: bom}
	inner := &stream{r: s.r, dst: w, ct: "text/html; charset=utf-8", prefix: s.prefix, started: true, blocks: &s.r.blocksUTF8}
	return &stream16{inner: inner, out: w, be: be}
}

func (s *stream16) Write(p []byte) (int, error) {
	s.pend = append(s.pend, p...)
	var n int
	s.text, n = decode16(s.text[:0], s.pend, s.be, false)
	s.pend = append(s.pend[:0], s.pend[n:]...)
	if len(s.text) > 0 {
		if _, err := s.inner.Write(s.text); err != nil {
			return 0, err
		}
	}
	return len(p), s.out.err
}

func (s *stream16) Close() error {
	var n int
	s.text, n = decode16(s.text[:0], s.pend, s.be, true)
	s.pend = s.pend[n:]
	if len(s.text) > 0 {
		if _, err := s.inner.Write(s.text); err != nil {
			return err
		}
	}
	if err := s.inner.Close(); err != nil {
		return err
	}
	s.out.flush()
	// A trailing odd byte stays where it was: last.
	s.out.write(s.pend)
	return s.out.err
}

// writer16 encodes the UTF-8 stream's output back into code units, after
// the page's byte order mark.
type writer16 struct {
	dst  io.Writer
	be   bool
	head []byte // the byte order mark, written before anything else
	pend []byte // an incomplete sequence from the last write
	buf  []byte
	err  error
}

func (w *writer16) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.pend = append(w.pend, p...)
	var n int
	w.buf, n = encode16(append(w.buf[:0], w.head...), w.pend, w.be, false)
	w.head = nil
	w.pend = append(w.pend[:0], w.pend[n:]...)
	w.write(w.buf)
	return len(p), w.err
}

// flush encodes what is left; only an unfinished sequence can be, and
// there is none in what the UTF-8 stream writes.
func (w *writer16) flush() {
	var n int
	w.buf, n = encode16(append(w.buf[:0], w.head...), w.pend, w.be, true)
	w.head = nil
	w.pend = w.pend[n:]
	w.write(w.buf)
}

func (w *writer16) write(b []byte) {
	if w.err == nil && len(b) > 0 {
		_, w.err = w.dst.Write(b)
	}
}
