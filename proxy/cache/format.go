package cache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"time"
)

// A cache file holds one entry (all integers little-endian):
//
//	prefix  8 bytes   magic "ICPc", uint16 version (1), uint16 zero
//	bodies            the present bodies, in Encoding order, back to back
//	meta              uint32 key length, key bytes,
//	                  per Encoding: int64 body length (-1: absent),
//	                                uint32 CRC-32C of the body,
//	                  uint32 JSON length, JSON {status, header,
//	                                            request_time, response_time}
//	footer 12 bytes   uint32 meta length, uint32 CRC-32C of prefix+meta,
//	                  magic "cPCI"
//
// The metadata trails the bodies so that a body can be streamed to disk
// before its length is known. A file is valid only if both magics and
// the version match, the meta checksum matches, and the file size is
// exactly prefix + bodies + meta + footer, so truncation and splicing are
// caught from the metadata alone; the body checksums catch the rest.
const (
	prefixLen   = 8
	footerLen   = 12
	fileVersion = 1
	maxMetaLen  = 1 << 20 // bound allocations when reading a damaged file
)

var (
	prefixMagic = [4]byte{'I', 'C', 'P', 'c'}
	footerMagic = [4]byte{'c', 'P', 'C', 'I'}
	castagnoli  = crc32.MakeTable(crc32.Castagnoli) // read-only
)

// errCorrupt marks a cache file that is damaged, truncated or holds
// another key.
var errCorrupt = errors.New("corrupt cache file")

// fileMeta is the decoded metadata of a cache file.
type fileMeta struct {
	key    string
	lens   [numEncodings]int64 // -1 when absent
	crcs   [numEncodings]uint32
	json   metaJSON
	metaAt int64 // offset of meta in the file
}

type metaJSON struct {
	Status       int         `json:"status"`
	Header       http.Header `json:"header"`
	RequestTime  time.Time   `json:"request_time"`
	ResponseTime time.Time   `json:"response_time"`
}

// prefixCRC is the checksum of the file prefix, where every metadata
// checksum starts.
var prefixCRC = crc32.Checksum(filePrefix(), castagnoli)

func filePrefix() []byte {
	b := make([]byte, prefixLen)
	copy(b, prefixMagic[:])
	binary.LittleEndian.PutUint16(b[4:], fileVersion)
	return b
}

// encodeTrailer returns meta and footer for a file whose bodies have the
// given lengths (-1 absent) and checksums.
func encodeTrailer(key string, lens [numEncodings]int64, crcs [numEncodings]uint32, m metaJSON) ([]byte, error) {
	b := make([]byte, 0, 4+len(key)+12*int(numEncodings)+4+int(headerSize(m.Header))+128+footerLen)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	for i := range numEncodings {
		b = binary.LittleEndian.AppendUint64(b, uint64(lens[i]))
		b = binary.LittleEndian.AppendUint32(b, crcs[i])
	}
	at := len(b)
	b = append(b, 0, 0, 0, 0) // the JSON's length, once known
	b, err := appendMeta(b, m)
	if err != nil {
		return nil, fmt.Errorf("encoding metadata: %w", err)
	}
	binary.LittleEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	metaLen := len(b)
	if metaLen > maxMetaLen {
		return nil, fmt.Errorf("metadata of %d bytes exceeds %d", metaLen, maxMetaLen)
	}
	crc := crc32.Update(prefixCRC, castagnoli, b)
	b = binary.LittleEndian.AppendUint32(b, uint32(metaLen))
	b = binary.LittleEndian.AppendUint32(b, crc)
	b = append(b, footerMagic[:]...)
	return b, nil
}

// footerMetaLen validates the footer and prefix of a file of size bytes
// and returns the meta length.
func footerMetaLen(prefix, footer []byte, size int64) (int64, error) {
	if len(prefix) != prefixLen || len(footer) != footerLen || size < prefixLen+footerLen {
		return 0, fmt.Errorf("%w: too short", errCorrupt)
	}
	if [4]byte(prefix[:4]) != prefixMagic || [4]byte(footer[8:]) != footerMagic {
		return 0, fmt.Errorf("%w: bad magic", errCorrupt)
	}
	if v := binary.LittleEndian.Uint16(prefix[4:]); v != fileVersion {
		return 0, fmt.Errorf("%w: version %d", errCorrupt, v)
	}
	n := int64(binary.LittleEndian.Uint32(footer))
	if n > maxMetaLen || n > size-prefixLen-footerLen {
		return 0, fmt.Errorf("%w: meta length %d", errCorrupt, n)
	}
	return n, nil
}

// decodeMeta checks and decodes the meta section of a file of size bytes.
func decodeMeta(prefix, meta, footer []byte, size int64) (*fileMeta, error) {
	crc := crc32.Update(crc32.Checksum(prefix, castagnoli), castagnoli, meta)
	if crc != binary.LittleEndian.Uint32(footer[4:]) {
		return nil, fmt.Errorf("%w: meta checksum", errCorrupt)
	}
	m := &fileMeta{metaAt: size - footerLen - int64(len(meta))}
	rd := meta
	u32 := func() (uint32, bool) {
		if len(rd) < 4 {
			return 0, false
		}
		v := binary.LittleEndian.Uint32(rd)
		rd = rd[4:]
		return v, true
	}
	kl, ok := u32()
	if !ok || int64(kl) > int64(len(rd)) {
		return nil, fmt.Errorf("%w: key length", errCorrupt)
	}
	m.key, rd = string(rd[:kl]), rd[kl:]
	var bodies int64
	for i := range numEncodings {
		if len(rd) < 12 {
			return nil, fmt.Errorf("%w: body table", errCorrupt)
		}
		m.lens[i] = int64(binary.LittleEndian.Uint64(rd))
		m.crcs[i] = binary.LittleEndian.Uint32(rd[8:])
		rd = rd[12:]
		if m.lens[i] < -1 || m.lens[i] > size {
			return nil, fmt.Errorf("%w: body length", errCorrupt)
		}
		bodies += max(0, m.lens[i])
	}
	jl, ok := u32()
	if !ok || int64(jl) != int64(len(rd)) {
		return nil, fmt.Errorf("%w: metadata length", errCorrupt)
	}
	if prefixLen+bodies+int64(len(meta))+footerLen != size {
		return nil, fmt.Errorf("%w: size %d does not match contents", errCorrupt, size)
	}
	if !parseMeta(rd, &m.json) {
		m.json = metaJSON{}
		if err := json.Unmarshal(rd, &m.json); err != nil {
			return nil, fmt.Errorf("%w: metadata: %v", errCorrupt, err)
		}
	}
	return m, nil
}

// offsets returns each present body's offset in the file.
func (m *fileMeta) offsets() [numEncodings]int64 {
	var offs [numEncodings]int64
	off := int64(prefixLen)
	for i := range numEncodings {
		offs[i] = off
		off += max(0, m.lens[i])
	}
	return offs
}
