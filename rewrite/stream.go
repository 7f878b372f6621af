package rewrite

import "io"

func newStream(r *Rewriter, dst io.Writer, contentType string, edge Edge) io.WriteCloser {
	panic("todo")
}
