package proxy

import (
	"io"
	"net/http"
	"sync"
)

// switchProtocols completes an Upgrade (WebSocket) the origin accepted: it
// takes over the visitor's connection and copies bytes both ways until one
// side closes.
func (h *Handler) switchProtocols(w http.ResponseWriter, r *http.Request, resp *http.Response, info *reqInfo) {
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok || upgradeType(r.Header) == "" {
		h.log.Warn("origin switched protocols unasked", "id", info.id)
		h.errorPage(w, r, http.StatusBadGateway, info.id)
		return
	}
	defer backend.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.log.Warn("upgrade failed: cannot take over connection", "id", info.id, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, info.id)
		return
	}
	defer conn.Close()
	if rec, ok := w.(*recorder); ok {
		rec.status = http.StatusSwitchingProtocols
	}
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
