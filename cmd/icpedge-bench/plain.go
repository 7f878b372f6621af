package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The reference server runs as a child process of this same binary, in a
// mode chosen by the environment rather than a flag, so that it stays out
// of --help and works from a test binary too. Like the edge it is a
// separate process with its own Go runtime and GC, so neither server
// shares a heap or a scheduler with the load generator.
const (
	roleEnv   = "ICPEDGE_BENCH_ROLE"
	rolePlain = "plain"
	plainDir  = "ICPEDGE_BENCH_PLAIN_DIR"
)

// plainLifetime ends a reference server that was somehow left behind.
const plainLifetime = 2 * time.Hour

// variant is one encoding of the page as the edge served it.
type variant struct {
	encoding string // Content-Encoding; "" is identity
	// header is the edge's response header as the plain server sends
	// it: every field but Date, which net/http adds itself.
	header http.Header
	body   []byte
}

// servedHeader is the header a response came with, less the fields that
// net/http writes by itself (Date) or that belong to the connection.
func servedHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range []string{"Date", "Connection", "Keep-Alive"} {
		delete(out, k)
	}
	return out
}

// variantFile names the file a variant's body is handed over in, and
// headerFile the one its header is.
func variantFile(dir, encoding string) string {
	return filepath.Join(dir, encodingName(encoding)+".body")
}

func headerFile(dir, encoding string) string {
	return filepath.Join(dir, encodingName(encoding)+".header")
}

// encodingName names a content coding, identity included.
func encodingName(encoding string) string {
	if encoding == "" {
		return "identity"
	}
	return encoding
}

// startPlain writes the variants to dir and starts the reference server
// on them. It stops when its stdin closes: when stop is called, or when
// this process dies.
func startPlain(ctx context.Context, dir string, vs []variant) (*child, error) {
	var encodings []string
	for _, v := range vs {
		if err := os.WriteFile(variantFile(dir, v.encoding), v.body, 0o644); err != nil {
			return nil, err
		}
		var hdr bytes.Buffer
		if err := v.header.Write(&hdr); err != nil {
			return nil, err
		}
		hdr.WriteString("\r\n")
		if err := os.WriteFile(headerFile(dir, v.encoding), hdr.Bytes(), 0o644); err != nil {
			return nil, err
		}
		encodings = append(encodings, encodingName(v.encoding))
	}
	if err := os.WriteFile(filepath.Join(dir, "encodings"), []byte(strings.Join(encodings, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &child{name: "plain server", cmd: exec.Command(self)}
	c.cmd.Env = append(os.Environ(), roleEnv+"="+rolePlain, plainDir+"="+dir)
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	stderr, err := c.start(pw)
	if err != nil {
		return nil, err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				select {
				case addrc <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go c.follow(stderr, func() { pw.Close() })
	// Closing stdin is the reference server's signal to exit.
	c.quit = func() { _ = stdin.Close() }
	if err := c.waitAddr(ctx, addrc); err != nil {
		return nil, err
	}
	return c, nil
}

// plainMain is the reference server: it serves the variants in
// $ICPEDGE_BENCH_PLAIN_DIR from memory on 127.0.0.1, prints
// "listening ADDR", and exits when stdin reaches EOF.
func plainMain(stdin io.Reader, stdout, stderr io.Writer) int {
	h, err := loadPlainHandler(os.Getenv(plainDir))
	if err != nil {
		fmt.Fprintf(stderr, "plain server: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "plain server: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening %s\n", ln.Addr())

	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(plainLifetime):
	case err := <-errc:
		fmt.Fprintf(stderr, "plain server: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "plain server: %v\n", err)
	}
	return 0
}

// plainHandler serves one page from memory in the encoding the request
// accepts, br before gzip before identity, as the edge chooses, with the
// header the edge sent with it: the same response, with none of the
// edge's work. Header values are built once: it is meant to be as cheap
// as net/http allows.
type plainHandler struct {
	identity, gzip, br *plainVariant
}

type plainVariant struct {
	header map[string][]string
	body   []byte
}

func loadPlainHandler(dir string) (*plainHandler, error) {
	if dir == "" {
		return nil, fmt.Errorf("%s is not set", plainDir)
	}
	list, err := os.ReadFile(filepath.Join(dir, "encodings"))
	if err != nil {
		return nil, err
	}
	h := &plainHandler{}
	for _, enc := range strings.Fields(string(list)) {
		if enc == "identity" {
			enc = ""
		}
		body, err := os.ReadFile(variantFile(dir, enc))
		if err != nil {
			return nil, err
		}
		f, err := os.Open(headerFile(dir, enc))
		if err != nil {
			return nil, err
		}
		hdr, err := textproto.NewReader(bufio.NewReader(f)).ReadMIMEHeader()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", headerFile(dir, enc), err)
		}
		if got := http.Header(hdr).Get("Content-Encoding"); got != enc {
			return nil, fmt.Errorf("%s: Content-Encoding %q; want %q", headerFile(dir, enc), got, enc)
		}
		v := &plainVariant{body: body, header: hdr}
		switch enc {
		case "":
			h.identity = v
		case "gzip":
			h.gzip = v
		case "br":
			h.br = v
		default:
			return nil, fmt.Errorf("unknown encoding %q", enc)
		}
	}
	if h.identity == nil {
		return nil, errors.New("no identity body")
	}
	return h, nil
}

func (h *plainHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := h.identity
	// The load generator's Accept-Encoding values have no q-values, so
	// a substring test picks what the edge's negotiation picks.
	switch ae := r.Header.Get("Accept-Encoding"); {
	case h.br != nil && strings.Contains(ae, "br"):
		v = h.br
	case h.gzip != nil && strings.Contains(ae, "gzip"):
		v = h.gzip
	}
	hdr := w.Header()
	for k, vals := range v.header {
		hdr[k] = vals
	}
	_, _ = w.Write(v.body)
}
