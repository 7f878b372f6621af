package proxy

import (
	"io"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"

	"github.com/icpedge/icpedge/proxy/internal/bufpool"
)

// minCompressSize is the smallest body worth compressing.
const minCompressSize = 256

// Compression levels. A body compressed while its visitor waits (a miss,
// a response that is not stored) is gzip at its fastest level: a tenth of
// the CPU of brotli at quality 4 for a 60 KB page, and about a tenth
// larger. What the cache stores for hits is made again, smaller, off the
// request path (Compressor).
//
// Gzip written while a visitor waits is klauspost/compress's, the Go
// ecosystem's usual faster deflate (already in the build through the
// metrics library): at level 1 it takes about half the CPU of
// compress/gzip on a 60 KB page, for slightly smaller output. The stored
// level-9 variant, made once in the background, stays with the standard
// library.
const (
	fastGzipLevel = gzip.BestSpeed
	// fastBrotliLevel is for the rare visitor who accepts br but not
	// gzip.
	fastBrotliLevel = 1
	// streamBrotliLevel and streamGzipLevel are for responses too large
	// to buffer, compressed as they stream to their visitor.
	streamBrotliLevel = 4
	streamGzipLevel   = 5
	// storedBrotliLevel and storedGzipLevel are the variants the
	// Compressor stores: the smallest each coding makes. A stored page
	// is compressed once and sent thousands of times, so its bytes
	// across the border matter more than the CPU of one compression
	// (brotli's highest quality is tens of times slower than level 4,
	// and about a fifth smaller).
	storedBrotliLevel = 11
	storedGzipLevel   = gzip.BestCompression
	// largeBrotliLevel is the stored br of a body over
	// maxBestBrotliSize: quality 11 takes about 11s of CPU and allocates
	// over 100 MB for 1 MB, quality 9 half a second and a third of that,
	// for a body about a seventh larger.
	largeBrotliLevel  = 9
	maxBestBrotliSize = 256 << 10
)

// brotliWindow is the base-2 logarithm of the brotli window for whole
// bodies: 256 KiB, longer than nearly every page, so the output is as
// small as with the default 4 MiB window, and a writer that compressed an
// 8 MiB page holds 7 MB instead of over 30.
const brotliWindow = 18

// encoders reuses the compressors of bodies compressed while a visitor
// waits: a new writer allocates its tables each time, which under a burst
// of misses dominates the heap. It also bounds how many such compressions
// run at once, since they are CPU-bound. The writers live in the slots
// themselves rather than in a sync.Pool: a burst of misses runs the
// collector many times a second, and each run would empty a pool.
type encoders struct {
	slots chan *encoderSet
}

// encoderSet is one slot's writers, each made on its first use.
type encoderSet struct {
	br *brotli.Writer
	gz *gzip.Writer
}

func newEncoders(parallel int) *encoders {
	e := &encoders{slots: make(chan *encoderSet, max(parallel, 1))}
	for range cap(e.slots) {
		e.slots <- &encoderSet{}
	}
	return e
}

// fastCoding picks the coding of a body compressed while its visitor
// waits, from the visitor's Accept-Encoding: gzip, then br, else "" for
// identity.
func fastCoding(accept string) string {
	switch {
	case acceptsEncoding(accept, "gzip"):
		return "gzip"
	case acceptsEncoding(accept, "br"):
		return "br"
	}
	return ""
}

// compress returns body encoded as coding ("br" or "gzip") at the fast
// levels.
func (e *encoders) compress(coding string, body []byte) []byte {
	set := <-e.slots
	defer func() { e.slots <- set }()
	// Into a reused buffer, as the page itself is (fill.build lends
	// both to the entry).
	buf := &appendWriter{b: bufpool.Get(int64(len(body)/3 + 64))}
	switch coding {
	case "br":
		if set.br == nil {
			set.br = brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: fastBrotliLevel, LGWin: brotliWindow})
		}
		set.br.Reset(buf)
		_, _ = set.br.Write(body)
		_ = set.br.Close()
		set.br.Reset(io.Discard)
	case "gzip":
		if set.gz == nil {
			set.gz, _ = gzip.NewWriterLevel(io.Discard, fastGzipLevel)
		}
		set.gz.Reset(buf)
		_, _ = set.gz.Write(body)
		_ = set.gz.Close()
		set.gz.Reset(io.Discard)
	default:
		return body
	}
	return buf.b
}

// appendWriter appends what is written to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// compressible reports whether a media type gains from compression.
func compressible(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/javascript", "application/json", "application/xml", "application/x-javascript",
		"image/svg+xml", "application/wasm", "application/manifest+json", "font/ttf", "font/otf",
		"application/vnd.ms-fontobject", "image/x-icon", "image/vnd.microsoft.icon":
		return true
	}
	return false
}

// negotiateEncoding picks br, then gzip, from an Accept-Encoding field,
// honouring q-values (RFC 9110 §12.5.3), among the codings available
// (br, gzip). "" means identity.
func negotiateEncoding(accept string, br, gzip bool) string {
	if br && acceptsEncoding(accept, "br") {
		return "br"
	}
	if gzip && acceptsEncoding(accept, "gzip") {
		return "gzip"
	}
	return ""
}

// acceptsEncoding reports whether an Accept-Encoding field allows coding
// (RFC 9110 §12.5.3). It runs on every hit, so it doesn't allocate.
func acceptsEncoding(accept, coding string) bool {
	star := false
	for accept != "" {
		var part string
		part, accept, _ = strings.Cut(accept, ",")
		name, params, _ := strings.Cut(part, ";")
		name = strings.TrimSpace(name)
		q := 1.0
		for params != "" {
			var p string
			p, params, _ = strings.Cut(params, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		switch {
		case strings.EqualFold(name, coding) || (coding == "gzip" && strings.EqualFold(name, "x-gzip")):
			return q > 0
		case name == "*":
			star = q > 0
		}
	}
	return star
}

// Streaming compressors hold their state for the whole response, however
// slowly the visitor reads, so they are drawn from the budget, and gzip is
// preferred: a brotli writer holds eight times as much.
const (
	brotliStreamWindow = 18 // 256 KiB
	brotliStreamCost   = 8 << 20
	gzipStreamCost     = 1 << 20
)

// streamEncoding picks the coding of a streamed response from an
// Accept-Encoding field: gzip, then br, when the budget has room for its
// compressor (taken into l), else "" for identity.
func streamEncoding(accept string, l *lease) string {
	switch {
	case acceptsEncoding(accept, "gzip") && l.grow(gzipStreamCost):
		return "gzip"
	case acceptsEncoding(accept, "br") && l.grow(brotliStreamCost):
		return "br"
	}
	return ""
}

// newStreamEncoder returns a writer that encodes to enc ("br", "gzip" or
// "").
func newStreamEncoder(w io.Writer, enc string) io.WriteCloser {
	switch enc {
	case "br":
		return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: streamBrotliLevel, LGWin: brotliStreamWindow})
	case "gzip":
		gw, _ := gzip.NewWriterLevel(w, streamGzipLevel)
		return gw
	}
	return nopCloser{w}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
