package warm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Limits bound what a sitemap may make warm do. Zero fields take the
// defaults given with each.
type Limits struct {
	// MaxBytes is the largest sitemap, after decompression, and the most
	// read from the network for one. Default 50 MiB, sitemaps.org's limit.
	MaxBytes int64
	// MaxURLs is the most <loc> entries one sitemap or index may list.
	// Default 50,000, sitemaps.org's limit.
	MaxURLs int
	// MaxDepth is how deep sitemap indexes may nest: 1 is an index of
	// URL sets, as sitemaps.org allows; more tolerates indexes of indexes.
	// Default 3.
	MaxDepth int
	// MaxSitemaps is the most sitemap files read in one run. Default 1,000.
	MaxSitemaps int
	// MaxPages is the most pages warmed in one run. Default 1,000,000.
	MaxPages int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 50 << 20
	}
	if l.MaxURLs <= 0 {
		l.MaxURLs = 50000
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 3
	}
	if l.MaxSitemaps <= 0 {
		l.MaxSitemaps = 1000
	}
	if l.MaxPages <= 0 {
		l.MaxPages = 1000000
	}
	return l
}

// maxLoc is the longest <loc> accepted. sitemaps.org allows 2,048
// characters; some generators go past that with long queries.
const maxLoc = 8 << 10

// errTooLarge is returned by a capped reader past its limit.
var errTooLarge = errors.New("too large")

// cappedReader reads from r and fails, rather than truncates, past n
// bytes: a sitemap cut short would silently lose pages.
type cappedReader struct {
	r io.Reader
	n int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return n, errTooLarge
	}
	return n, err
}

// sitemap is what one sitemap file lists.
type sitemap struct {
	index bool     // a <sitemapindex>: locs are sitemaps
	locs  []string // absolute URLs, as listed
}

// parseSitemap reads one sitemap body of at most lim.MaxBytes, gzip'ed or
// not (told by its magic number, whatever the name or Content-Type say),
// in the XML format or the text format of sitemaps.org.
func parseSitemap(body io.Reader, lim Limits) (*sitemap, error) {
	br := bufio.NewReader(&cappedReader{r: body, n: lim.MaxBytes})
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip'ed sitemap: %w", err)
		}
		defer zr.Close()
		r = bufio.NewReader(&cappedReader{r: zr, n: lim.MaxBytes})
	}
	sm, err := decodeSitemap(r.(*bufio.Reader), lim)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("sitemap larger than %d bytes (sitemaps.org allows 50 MiB uncompressed)", lim.MaxBytes)
	}
	return sm, err
}

func decodeSitemap(r *bufio.Reader, lim Limits) (*sitemap, error) {
	// Skip a UTF-8 byte order mark and leading white space to tell XML
	// from the text format.
	for {
		b, err := r.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil, errors.New("empty sitemap")
			}
			return nil, err
		}
		if b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' {
			r.ReadByte()
			continue
		}
		if bom, _ := r.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
			r.Discard(3)
			continue
		}
		if b[0] == '<' {
			return decodeXML(r, lim)
		}
		return decodeText(r, lim)
	}
}

// decodeXML reads a <urlset> or <sitemapindex>. encoding/xml expands no
// entities beyond XML's own five, so entity tricks can't grow the input.
func decodeXML(r io.Reader, lim Limits) (*sitemap, error) {
	d := xml.NewDecoder(r)
	sm := &sitemap{}
	var stack []string // local names of the open elements
	root := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if !root {
				return nil, errors.New("not a sitemap: no <urlset> or <sitemapindex> element")
			}
			return sm, nil
		}
		if err != nil {
			if errors.Is(err, errTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("not a sitemap: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(stack) == 0 {
				switch name {
				case "urlset":
				case "sitemapindex":
					sm.index = true
				default:
					return nil, fmt.Errorf("not a sitemap: the document is <%s>; expected <urlset> or <sitemapindex>", name)
				}
				root = true
			}
			// <loc> of <url> in a URL set, of <sitemap> in an index;
			// other <loc>s (image and video extensions) are not pages.
			if name == "loc" && len(stack) == 2 && (stack[1] == "url" || stack[1] == "sitemap") {
				var loc string
				if err := d.DecodeElement(&loc, &t); err != nil {
					return nil, fmt.Errorf("not a sitemap: %w", err)
				}
				if err := sm.add(loc, lim); err != nil {
					return nil, err
				}
				continue
			}
			stack = append(stack, name)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
}

// decodeText reads the text format: one absolute URL per line.
func decodeText(r *bufio.Reader, lim Limits) (*sitemap, error) {
	sm := &sitemap{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLoc+2)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		u, err := url.Parse(line)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("not a sitemap: line %d is not XML and not an absolute http(s) URL: %q", n, abbrev(line))
		}
		if err := sm.add(line, lim); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("not a sitemap: a line longer than %d bytes", maxLoc)
		}
		return nil, err
	}
	return sm, nil
}

func (sm *sitemap) add(loc string, lim Limits) error {
	loc = strings.TrimSpace(loc)
	if loc == "" {
		return nil
	}
	if len(loc) > maxLoc {
		return fmt.Errorf("sitemap lists a URL longer than %d bytes: %q", maxLoc, abbrev(loc))
	}
	if len(sm.locs) >= lim.MaxURLs {
		return fmt.Errorf("sitemap lists more than %d URLs (sitemaps.org allows 50,000 per file; split it with a sitemap index)", lim.MaxURLs)
	}
	sm.locs = append(sm.locs, loc)
	return nil
}

// abbrev shortens s for an error message.
func abbrev(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
