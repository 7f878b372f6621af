package proxy

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icpedge/icpedge/proxy/cache"
)

// Partial content (RFC 9111 §3.3, §3.4). A range of a file that is not
// stored goes to the origin; when the origin answers 206 with a strong
// validator, the part is kept under the URL's parts key, beside the
// parts already kept of the same representation. Later ranges that fall
// within a kept part are answered from it while it is fresh; once the
// parts cover the whole file, they are combined into a complete stored
// response, and the file is served like any other. HTML is never kept in
// parts: the notice goes into whole pages only.

const (
	// partsSuffix, after variantSep, names the entry that keeps the parts
	// of a primary key's representation; purges and invalidations of the
	// key drop it with the variants. Its NUL keeps it apart from every
	// secondary key, which is built of field names and values.
	partsSuffix = "\x00parts"
	// markerParts lists, on a parts entry, the byte ranges of the
	// representation its body holds, in body order, as "first-last"
	// values; and markerPartsSize the representation's complete length.
	// Never sent.
	markerParts     = "Icpedge-Parts"
	markerPartsSize = "Icpedge-Parts-Size"
	// maxParts bounds the parts kept of one representation; a part past
	// it replaces them.
	maxParts = 64
)

func partsKey(key string) string { return key + variantSep + partsSuffix }

// span is one kept part: bytes first..last of the representation, at off
// in the parts entry's body.
type span struct{ first, last, off int64 }

// readSpans reads a parts entry's markers; ok is false for an entry that
// is not a parts entry or is inconsistent with its body.
func readSpans(e *cache.Entry) (spans []span, size int64, ok bool) {
	size, err := strconv.ParseInt(e.Header.Get(markerPartsSize), 10, 64)
	if err != nil || size <= 0 {
		return nil, 0, false
	}
	body, ok := e.Body(cache.Identity)
	if !ok {
		return nil, 0, false
	}
	var off int64
	for _, v := range e.Header.Values(markerParts) {
		a, b, _ := strings.Cut(v, "-")
		first, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil || first < 0 || last < first || last >= size {
			return nil, 0, false
		}
		spans = append(spans, span{first, last, off})
		off += last - first + 1
	}
	return spans, size, off == body.Size()
}

// covered reports whether spans hold every byte of a representation of
// size bytes.
func covered(spans []span, size int64) bool {
	s := slices.Clone(spans)
	slices.SortFunc(s, func(a, b span) int { return int(min(max(a.first-b.first, -1), 1)) })
	var next int64
	for _, p := range s {
		if p.first > next {
			return false
		}
		next = max(next, p.last+1)
	}
	return next >= size
}

// servePart answers a range request for key, which holds no complete
// response, from the parts kept of it, or fetches the range from the
// origin and keeps what it answers. It reports false, having done
// nothing, for a request it leaves to forward.
func (x *exchange) servePart(key string) bool {
	h, r := x.h, x.r
	if r.Method != http.MethodGet || h.opts.Cache == nil {
		return false
	}
	pk := partsKey(key)
	kept := x.get(pk)
	if kept != nil {
		defer kept.Close()
		if x.servePartFrom(kept) {
			return true
		}
	}
	var interims interims
	out := x.outgoing(x.withInterims(r.Context(), &interims))
	stop := x.relayInterims(&interims)
	reqTime := h.now()
	resp, err := h.roundTrip(out)
	stop()
	if err != nil {
		x.originFailed(err)
		return true
	}
	defer resp.Body.Close()
	x.originStatus = resp.StatusCode
	x.setCacheStatus("fwd=miss; detail=range")
	first, last, size, ok := x.keepablePart(resp)
	if !ok {
		x.respond(resp)
		return true
	}
	if err := h.checkResponse(r.URL.Path, resp); err != nil {
		x.refuse(asBlocked(err))
		return true
	}
	hdr := resp.Header.Clone()
	removeHopHeaders(hdr)
	h.rewriteHeaders(hdr, x.edge)
	x.setCacheStatus("fwd=miss; stored; detail=range")
	x.keepPart(&originPart{key: key, pk: pk, kept: kept, hdr: hdr, resp: resp, reqTime: reqTime, first: first, last: last, size: size})
	return true
}

// originPart is a part of a representation the origin answered a range
// request with, on its way to the visitor and into the parts entry.
type originPart struct {
	key, pk string       // the complete response's key, and its parts entry's
	kept    *cache.Entry // the parts entry stored before, or nil
	hdr     http.Header  // resp's header as the edge stores and serves it
	resp    *http.Response
	reqTime time.Time // when the origin was asked
	// first, last and size are the part's first and last byte and the
	// representation's length, from its Content-Range.
	first, last, size int64
}

// servePartFrom answers the request from a fresh parts entry holding the
// range it asks for. If-Range and conditional requests go to the origin.
func (x *exchange) servePartFrom(kept *cache.Entry) bool {
	h, r := x.h, x.r
	spans, size, ok := readSpans(kept)
	if !ok || r.Header.Get("If-Range") != "" || r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
		return false
	}
	d := h.policy.Decide(r, kept, h.now())
	if d.Action != cache.Serve {
		return false
	}
	rng, res := cache.ParseRange(r.Header.Get("Range"), size)
	if res != cache.RangePartial {
		return false // a 416 or a whole file is the origin's to give
	}
	end := rng.Start + rng.Length - 1
	i := slices.IndexFunc(spans, func(p span) bool { return p.first <= rng.Start && end <= p.last })
	if i < 0 {
		return false
	}
	body, _ := kept.Body(cache.Identity)
	hdr := x.w.Header()
	for k, v := range kept.Header {
		if k != markerParts && k != markerPartsSize && k != markerFingerprint && !h.isTargeted(k) {
			hdr[k] = v
		}
	}
	hdr["Content-Range"] = []string{rng.ContentRange(size)}
	hdr["Content-Length"] = []string{strconv.FormatInt(rng.Length, 10)}
	hdr["Age"] = []string{strconv.FormatInt(int64(d.Age/time.Second), 10)}
	hdr["Cache-Status"] = []string{"icpedge; " + hitStatus(d) + "; detail=range"}
	x.w.WriteHeader(http.StatusPartialContent)
	part := io.NewSectionReader(body, spans[i].off+rng.Start-spans[i].first, rng.Length)
	if _, err := io.Copy(x.w, part); err != nil && r.Context().Err() == nil {
		h.log.Debug("client write failed", "id", x.id, "err", err)
	}
	return true
}

// keepablePart reports whether resp is a part the cache may keep: a 206
// of one range of a non-HTML representation, in no content coding, with
// a strong entity tag (RFC 9111 §3.4 combines parts by it), varying on
// nothing but Accept-Encoding, and storable by the rules for the whole
// (RFC 9111 §3.3).
func (x *exchange) keepablePart(resp *http.Response) (first, last, size int64, ok bool) {
	h := x.h
	hd := resp.Header
	if resp.StatusCode != http.StatusPartialContent || len(hd.Values("Content-Range")) != 1 {
		return 0, 0, 0, false
	}
	ctype := hd.Get("Content-Type")
	if ctype == "" || isHTML(ctype) || strings.HasPrefix(mediaType(ctype), "multipart/") {
		return 0, 0, 0, false
	}
	if c := strings.TrimSpace(hd.Get("Content-Encoding")); c != "" && !strings.EqualFold(c, "identity") {
		return 0, 0, 0, false
	}
	if etag := hd.Get("ETag"); !strings.HasPrefix(etag, `"`) {
		return 0, 0, 0, false
	}
	if len(varyFields(hd)) > 0 { // Vary: * is refused by Storable
		return 0, 0, 0, false
	}
	first, last, size, ok = parseContentRange(hd.Get("Content-Range"))
	if !ok || resp.ContentLength != last-first+1 {
		return 0, 0, 0, false
	}
	// The whole representation's rules decide: a 206 is stored only as a
	// part of a 200 (RFC 9111 §3.3).
	if ok, _ := h.policy.Storable(x.r, http.StatusOK, hd); !ok {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

// parseContentRange parses "bytes first-last/size" with a known size
// (RFC 9110 §14.4).
func parseContentRange(v string) (first, last, size int64, ok bool) {
	unit, rest, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found || !strings.EqualFold(unit, "bytes") {
		return 0, 0, 0, false
	}
	rng, total, found := strings.Cut(strings.TrimSpace(rest), "/")
	a, b, found2 := strings.Cut(rng, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	size, err3 = strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || last >= size {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

// keepPart streams the origin's part to the visitor and, in the same
// pass, into a new parts entry: the parts kept before of the same
// representation (same strong ETag and length) that it doesn't hold
// whole, then this one. A part cut short is not kept. When the parts then cover
// the whole, they are combined into the complete response under key.
func (x *exchange) keepPart(part *originPart) {
	pk, key, kept, hdr, resp := part.pk, part.key, part.kept, part.hdr, part.resp
	first, last, size := part.first, part.last, part.size
	h := x.h
	store := h.opts.Cache
	var old []span
	if kept != nil {
		spans, keptSize, ok := readSpans(kept)
		if ok && keptSize == size && cache.IfRange(kept.Header.Get("ETag"), hdr) {
			for _, p := range spans {
				// The same strong validator: the same bytes, so parts
				// may overlap; one the new part holds whole goes.
				if p.first < first || p.last > last {
					old = append(old, p)
				}
			}
		}
		if len(old) >= maxParts {
			old = nil
		}
	}
	w, err := store.Create(pk, cache.Identity)
	if err == nil {
		defer w.Abort()
	}
	var spans []span
	var off int64
	if w != nil && len(old) > 0 {
		body, _ := kept.Body(cache.Identity)
		for _, p := range old {
			n := p.last - p.first + 1
			if _, err := io.Copy(w, io.NewSectionReader(body, p.off, n)); err != nil {
				w.Abort()
				w = nil
				break
			}
			spans = append(spans, span{p.first, p.last, off})
			off += n
		}
	}
	if w == nil {
		spans = nil
	}
	spans = append(spans, span{first, last, off})

	copyHeader(x.w.Header(), hdr)
	x.w.Header().Del(markerParts)
	x.w.Header().Del(markerPartsSize)
	h.removeTargeted(x.w.Header())
	x.w.WriteHeader(http.StatusPartialContent)
	visitor := &visitorWriter{w: x.w}
	var dst io.Writer = visitor
	tee := &storeTee{w: w}
	if w != nil {
		dst = io.MultiWriter(visitor, tee)
	}
	n, err := io.Copy(dst, resp.Body)
	switch {
	case visitor.err != nil:
		h.log.Debug("client write failed", "id", x.id, "err", visitor.err)
		return
	case err != nil:
		// A part cut short is neither kept nor passed off as whole.
		x.abort("reading origin body failed", err)
		return
	case w == nil || tee.failed || n != last-first+1:
		return
	}
	e := &cache.Entry{Status: http.StatusOK, Header: hdr.Clone(), RequestTime: part.reqTime, ResponseTime: h.now()}
	e.Header.Del("Content-Range")
	e.Header.Del("Content-Length")
	e.Header.Del(markerParts)
	for _, p := range spans {
		e.Header.Add(markerParts, strconv.FormatInt(p.first, 10)+"-"+strconv.FormatInt(p.last, 10))
	}
	e.Header.Set(markerPartsSize, strconv.FormatInt(size, 10))
	e.Header.Set(markerFingerprint, h.fingerprint)
	if err := w.Commit(e); err != nil {
		if !errors.Is(err, cache.ErrTooLarge) && !errors.Is(err, cache.ErrClosed) {
			h.log.Error("cache write failed; serving without storing", "id", x.id, "key", pk, "err", err)
		}
		return
	}
	if covered(spans, size) {
		x.combineParts(pk, key)
	}
}

// visitorWriter remembers a failed write to the visitor, to tell it
// from a failed read from the origin.
type visitorWriter struct {
	w   io.Writer
	err error
}

func (v *visitorWriter) Write(p []byte) (int, error) {
	n, err := v.w.Write(p)
	if err != nil {
		v.err = err
	}
	return n, err
}

// storeTee writes to a cache Writer, and stops (without failing the
// visitor's copy) once the store refuses more, e.g. past MaxEntrySize.
type storeTee struct {
	w      *cache.Writer
	failed bool
}

func (t *storeTee) Write(p []byte) (int, error) {
	if !t.failed {
		if _, err := t.w.Write(p); err != nil {
			t.failed = true
		}
	}
	return len(p), nil
}

// combineParts turns a parts entry that covers the whole representation
// into the complete response under key (RFC 9111 §3.4), and drops it.
func (x *exchange) combineParts(pk, key string) {
	h := x.h
	store := h.opts.Cache
	e, err := store.Get(pk)
	if err != nil {
		return
	}
	defer e.Close()
	spans, size, ok := readSpans(e)
	if !ok || !covered(spans, size) {
		return
	}
	slices.SortFunc(spans, func(a, b span) int { return int(min(max(a.first-b.first, -1), 1)) })
	body, _ := e.Body(cache.Identity)
	w, err := store.Create(key, cache.Identity)
	if err != nil {
		return
	}
	defer w.Abort()
	var next int64
	for _, p := range spans {
		if p.last < next {
			continue
		}
		from := max(p.first, next)
		if _, err := io.Copy(w, io.NewSectionReader(body, p.off+from-p.first, p.last-from+1)); err != nil {
			return
		}
		next = p.last + 1
	}
	whole := &cache.Entry{Status: http.StatusOK, Header: e.Header.Clone(), RequestTime: e.RequestTime, ResponseTime: e.ResponseTime}
	whole.Header.Del(markerParts)
	whole.Header.Del(markerPartsSize)
	whole.Header.Set("Content-Length", strconv.FormatInt(size, 10))
	if err := w.Commit(whole); err != nil {
		return
	}
	_ = store.Delete(pk)
	h.log.Debug("parts combined into the complete response", "id", x.id, "key", key, "size", size)
}
