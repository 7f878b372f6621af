package proxy

import (
	"bytes"
	"compress/gzip"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
)

// brotliWindow is the base-2 logarithm of the brotli window for whole
// bodies: 256 KiB, longer than nearly every page, so the output is as
// small as with the default 4 MiB window, and a writer that compressed an
// 8 MiB page holds 7 MB instead of over 30.
const brotliWindow = 18

// encoders reuses compressors: a new brotli writer allocates megabytes of
// tables, which under a burst of misses dominates the heap. It also bounds
// how many whole-body compressions run at once, since they are CPU-bound
// and each holds its tables while it runs.
type encoders struct {
	br, gz sync.Pool
	slots  chan struct{}
}

func newEncoders(parallel int) *encoders {
	e := &encoders{slots: make(chan struct{}, max(parallel, 1))}
	e.br.New = func() any {
		return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: brotliLevel, LGWin: brotliWindow})
	}
	e.gz.New = func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
		return w
	}
	return e
}

// compress returns body encoded as enc ("br" or "gzip").
func (e *encoders) compress(enc string, body []byte) []byte {
	e.slots <- struct{}{}
	defer func() { <-e.slots }()
	var buf bytes.Buffer
	buf.Grow(len(body)/3 + 64)
	switch enc {
	case "br":
		w := e.br.Get().(*brotli.Writer)
		w.Reset(&buf)
		_, _ = w.Write(body)
		_ = w.Close()
		w.Reset(io.Discard)
		e.br.Put(w)
	case "gzip":
		w := e.gz.Get().(*gzip.Writer)
		w.Reset(&buf)
		_, _ = w.Write(body)
		_ = w.Close()
		w.Reset(io.Discard)
		e.gz.Put(w)
	default:
		return body
	}
	return buf.Bytes()
}
