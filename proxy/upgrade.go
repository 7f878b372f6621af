package proxy

import (
	"io"
	"net/http"
	"sync"
)

// switchProtocols completes an Upgrade (WebSocket) the origin accepted: it
// takes over the visitor's connection and copies bytes both ways until one
// side closes.
func (x *exchange) switchProtocols(resp *http.Response) {
	h, r := x.h, x.r
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok || upgradeType(r.Header) == "" {
		h.log.Warn("origin switched protocols unasked", "id", x.id)
		x.errorPage(http.StatusBadGateway)
		return
	}
	defer backend.Close()
	conn, brw, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		h.log.Warn("upgrade failed: cannot take over connection", "id", x.id, "err", err)
		x.errorPage(http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	x.w.status = http.StatusSwitchingProtocols
	hdr := resp.Header.Clone()
	upgrade := hdr.Get("Upgrade")
	removeHopHeaders(hdr)
	hdr.Set("Connection", "Upgrade")
	hdr.Set("Upgrade", upgrade)
	res := &http.Response{StatusCode: resp.StatusCode, ProtoMajor: 1, ProtoMinor: 1, Header: hdr}
	if err := res.Write(brw); err != nil {
		return
	}
	if err := brw.Flush(); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Bytes the visitor sent after the handshake may sit in brw.
		_, _ = io.Copy(backend, brw)
		backend.Close()
	}()
	_, _ = io.Copy(conn, backend)
	conn.Close()
	wg.Wait()
}
