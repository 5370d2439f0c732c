package upload

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/ludeng/ludeng/internal/imaging"
)

// EXIF is the metadata kept from an upload. Everything else in the original
// EXIF block, GPS first, is dropped: the stored file is re-encoded without
// any metadata, and only these fields survive, in the database.
type EXIF struct {
	// CameraMake and CameraModel identify the camera (EXIF Make, Model).
	CameraMake  string `json:"camera_make,omitempty"`
	CameraModel string `json:"camera_model,omitempty"`
	// LensModel is EXIF LensModel.
	LensModel string `json:"lens_model,omitempty"`
	// Software is the editing or firmware software.
	Software string `json:"software,omitempty"`
	// TakenAt is DateTimeOriginal (else DateTime) as local wall time
	// "2006-01-02T15:04:05", with the offset appended when the camera
	// recorded one (OffsetTimeOriginal).
	TakenAt string `json:"taken_at,omitempty"`
	// Orientation is the EXIF orientation found (1–8). It has already been
	// applied to the stored pixels.
	Orientation int `json:"orientation,omitempty"`
	// GPSRemoved is true when the original carried a GPS block.
	GPSRemoved bool `json:"gps_removed"`
	// RemovedFields names other personal fields that were present and
	// dropped (artist, camera_owner_name, body_serial_number…).
	RemovedFields []string `json:"removed_fields,omitempty"`
}

// Limits for metadata parsing. They bound work on hostile files: headers
// are read from at most this many bytes, IFDs have at most this many entries.
const (
	maxHeaderScan = 1 << 20
	maxEXIFBytes  = 1 << 16
	maxIFDEntries = 1000
)

// jpegInfo is what the marker walk learns before decoding.
type jpegInfo struct {
	exif        []byte
	progressive bool
	// samples is the number of 8-bit samples per pixel across components,
	// accounting for chroma subsampling (1.5 for 4:2:0 YCbCr, 3 for 4:4:4).
	samples float64
}

// scanJPEG walks the JPEG marker segments up to the first scan (SOS): it
// finds the EXIF APP1 block and the frame header (progressive flag and
// sampling factors, which decide decoder memory).
func scanJPEG(r io.ReaderAt, size int64) (jpegInfo, error) {
	var info jpegInfo
	limit := min(size, maxHeaderScan)
	off := int64(2) // after SOI
	var hdr [4]byte
	for off+4 <= limit {
		if _, err := r.ReadAt(hdr[:2], off); err != nil {
			return info, err
		}
		if hdr[0] != 0xFF {
			return info, errors.New("jpeg: marker expected")
		}
		marker := hdr[1]
		switch {
		case marker == 0xFF: // fill byte
			off++
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // TEM, RSTn: no length
			off += 2
			continue
		case marker == 0xD9 || marker == 0xDA: // EOI, SOS: headers are over
			return info, nil
		}
		if _, err := r.ReadAt(hdr[2:4], off+2); err != nil {
			return info, err
		}
		segLen := int64(binary.BigEndian.Uint16(hdr[2:4]))
		if segLen < 2 {
			return info, errors.New("jpeg: bad segment length")
		}
		body := off + 4
		n := segLen - 2
		switch {
		case marker == 0xE1 && info.exif == nil && n > 6 && n <= maxEXIFBytes:
			seg := make([]byte, n)
			if _, err := r.ReadAt(seg, body); err != nil {
				return info, err
			}
			if bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				info.exif = seg[6:]
			}
		case marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
			// SOFn: P(1) Y(2) X(2) Nf(1) then Nf × {C, HV, Tq}.
			if n < 6 || n > 6+3*255 {
				return info, errors.New("jpeg: bad frame header")
			}
			seg := make([]byte, n)
			if _, err := r.ReadAt(seg, body); err != nil {
				return info, err
			}
			nf := int(seg[5])
			if len(seg) < 6+3*nf || nf == 0 {
				return info, errors.New("jpeg: bad frame header")
			}
			info.progressive = marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE
			hmax, vmax := 1, 1
			for i := 0; i < nf; i++ {
				hv := seg[6+3*i+1]
				hmax, vmax = max(hmax, int(hv>>4)), max(vmax, int(hv&0x0F))
			}
			for i := 0; i < nf; i++ {
				hv := seg[6+3*i+1]
				info.samples += float64(int(hv>>4)*int(hv&0x0F)) / float64(hmax*vmax)
			}
		}
		off = body + n
	}
	return info, nil
}

// countJPEGScans counts the scans (SOS markers) of a JPEG, stopping once
// there are more than limit. It walks marker segments by their lengths and
// skips entropy-coded data byte by byte (0xFF00 stuffing and RSTn are data),
// a linear pass over at most MaxBytes that costs nothing next to a decode.
func countJPEGScans(r io.ReaderAt, size int64, limit int) (int, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 32<<10)
	scans := 0
	for {
		b, err := br.ReadByte()
		if err != nil {
			return scans, nil // truncated files are the decoder's to refuse
		}
		if b != 0xFF {
			continue
		}
		m, err := br.ReadByte()
		for err == nil && m == 0xFF {
			m, err = br.ReadByte()
		}
		if err != nil {
			return scans, nil
		}
		switch {
		case m == 0x00, m == 0x01, m >= 0xD0 && m <= 0xD8: // stuffing, TEM, RSTn, SOI
			continue
		case m == 0xD9: // EOI
			return scans, nil
		}
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return scans, nil
		}
		n := int(binary.BigEndian.Uint16(l[:]))
		if n < 2 {
			return scans, errors.New("jpeg: bad segment length")
		}
		if _, err := br.Discard(n - 2); err != nil {
			return scans, nil
		}
		if m == 0xDA {
			if scans++; scans > limit {
				return scans, nil
			}
		}
	}
}

// pngEXIF returns the payload of an eXIf chunk placed before the image
// data, where the PNG 1.5 extension requires it.
func pngEXIF(r io.ReaderAt, size int64) []byte {
	off := int64(8)
	var hdr [8]byte
	for off+12 <= min(size, maxHeaderScan) {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return nil
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		switch typ {
		case "IDAT", "IEND":
			return nil
		case "eXIf":
			if n > maxEXIFBytes {
				return nil
			}
			b := make([]byte, n)
			if _, err := r.ReadAt(b, off+8); err != nil {
				return nil
			}
			return b
		}
		off += 12 + n
	}
	return nil
}

// webpEXIF returns the payload of the RIFF "EXIF" chunk of an extended WebP.
func webpEXIF(r io.ReaderAt, size int64) []byte {
	off := int64(12)
	var hdr [8]byte
	// EXIF follows the image data in the chunk order, so walk the whole
	// file; each step is one 8-byte read.
	for off+8 <= size {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return nil
		}
		n := int64(binary.LittleEndian.Uint32(hdr[4:8]))
		if string(hdr[:4]) == "EXIF" {
			if n > maxEXIFBytes {
				return nil
			}
			b := make([]byte, n)
			if _, err := r.ReadAt(b, off+8); err != nil {
				return nil
			}
			// Some writers keep the JPEG-style "Exif\0\0" prefix.
			return bytes.TrimPrefix(b, []byte("Exif\x00\x00"))
		}
		off += 8 + n + n&1 // chunks are padded to even length
	}
	return nil
}

// rawEXIF finds the EXIF (TIFF) block of a file of format f.
func rawEXIF(f imaging.Format, r io.ReaderAt, size int64, ji jpegInfo) []byte {
	switch f {
	case imaging.JPEG:
		return ji.exif
	case imaging.PNG:
		return pngEXIF(r, size)
	case imaging.WebP:
		return webpEXIF(r, size)
	}
	return nil
}

// TIFF tags read or reported. Only IFD0 and the Exif sub-IFD are visited:
// IFD1 describes the embedded thumbnail, and following IFD chains is how
// naive parsers end up in loops on crafted files.
const (
	tagMake             = 0x010F
	tagModel            = 0x0110
	tagOrientation      = 0x0112
	tagSoftware         = 0x0131
	tagDateTime         = 0x0132
	tagArtist           = 0x013B
	tagExifIFD          = 0x8769
	tagGPSIFD           = 0x8825
	tagDateTimeOriginal = 0x9003
	tagOffsetTimeOrig   = 0x9011
	tagUserComment      = 0x9286
	tagImageUniqueID    = 0xA420
	tagCameraOwnerName  = 0xA430
	tagBodySerialNumber = 0xA431
	tagLensModel        = 0xA434
	tagLensSerialNumber = 0xA435
)

// personalTagName names the personal fields that are dropped and reported
// when present; "" for other tags.
func personalTagName(tag uint16) string {
	switch tag {
	case tagArtist:
		return "artist"
	case tagUserComment:
		return "user_comment"
	case tagImageUniqueID:
		return "image_unique_id"
	case tagCameraOwnerName:
		return "camera_owner_name"
	case tagBodySerialNumber:
		return "body_serial_number"
	case tagLensSerialNumber:
		return "lens_serial_number"
	}
	return ""
}

type tiffReader struct {
	b     []byte
	order binary.ByteOrder
}

type ifdEntry struct {
	tag, typ uint16
	count    uint32
	value    []byte // the 4-byte value/offset field
}

// parseEXIF reads the fields ludeng keeps from a TIFF-structured EXIF block.
// It never follows an offset outside b and never loops: IFD0 and one Exif
// sub-IFD are read, at most maxIFDEntries each.
func parseEXIF(b []byte) (EXIF, error) {
	var out EXIF
	if len(b) < 8 {
		return out, errors.New("exif: too short")
	}
	t := tiffReader{b: b}
	switch string(b[:2]) {
	case "II":
		t.order = binary.LittleEndian
	case "MM":
		t.order = binary.BigEndian
	default:
		return out, errors.New("exif: bad byte order")
	}
	if t.order.Uint16(b[2:4]) != 42 {
		return out, errors.New("exif: bad magic")
	}
	ifd0, err := t.ifd(t.order.Uint32(b[4:8]))
	if err != nil {
		return out, err
	}
	var dateTime, dateTimeOrig, offsetOrig string
	var exifOff uint32
	removed := map[string]bool{}
	for _, e := range ifd0 {
		switch e.tag {
		case tagMake:
			out.CameraMake = t.ascii(e)
		case tagModel:
			out.CameraModel = t.ascii(e)
		case tagSoftware:
			out.Software = t.ascii(e)
		case tagDateTime:
			dateTime = t.ascii(e)
		case tagOrientation:
			if e.typ == 3 && e.count >= 1 {
				if o := int(t.order.Uint16(e.value[:2])); o >= 1 && o <= 8 {
					out.Orientation = o
				}
			}
		case tagGPSIFD:
			out.GPSRemoved = true
		case tagExifIFD:
			if e.typ == 4 || e.typ == 13 {
				exifOff = t.order.Uint32(e.value)
			}
		}
		if name := personalTagName(e.tag); name != "" {
			removed[name] = true
		}
	}
	if exifOff != 0 {
		sub, err := t.ifd(exifOff)
		if err == nil {
			for _, e := range sub {
				switch e.tag {
				case tagDateTimeOriginal:
					dateTimeOrig = t.ascii(e)
				case tagOffsetTimeOrig:
					offsetOrig = t.ascii(e)
				case tagLensModel:
					out.LensModel = t.ascii(e)
				case tagGPSIFD:
					out.GPSRemoved = true
				}
				if name := personalTagName(e.tag); name != "" {
					removed[name] = true
				}
			}
		}
	}
	out.TakenAt = takenAt(dateTimeOrig, offsetOrig)
	if out.TakenAt == "" {
		out.TakenAt = takenAt(dateTime, "")
	}
	for _, name := range []string{"artist", "body_serial_number", "camera_owner_name", "image_unique_id", "lens_serial_number", "user_comment"} {
		if removed[name] {
			out.RemovedFields = append(out.RemovedFields, name)
		}
	}
	return out, nil
}

func (t tiffReader) ifd(off uint32) ([]ifdEntry, error) {
	if int64(off)+2 > int64(len(t.b)) {
		return nil, errors.New("exif: IFD offset out of range")
	}
	n := int(t.order.Uint16(t.b[off:]))
	if n > maxIFDEntries || int64(off)+2+int64(n)*12 > int64(len(t.b)) {
		return nil, errors.New("exif: IFD out of range")
	}
	out := make([]ifdEntry, n)
	for i := range out {
		p := int(off) + 2 + i*12
		out[i] = ifdEntry{
			tag:   t.order.Uint16(t.b[p:]),
			typ:   t.order.Uint16(t.b[p+2:]),
			count: t.order.Uint32(t.b[p+4:]),
			value: t.b[p+8 : p+12],
		}
	}
	return out, nil
}

// ascii returns a sanitized ASCII (type 2) value, "" when out of range.
func (t tiffReader) ascii(e ifdEntry) string {
	if e.typ != 2 || e.count == 0 || e.count > 1024 {
		return ""
	}
	var raw []byte
	if e.count <= 4 {
		raw = e.value[:e.count]
	} else {
		off := int64(t.order.Uint32(e.value))
		if off+int64(e.count) > int64(len(t.b)) {
			return ""
		}
		raw = t.b[off : off+int64(e.count)]
	}
	return cleanText(string(raw), 128)
}

// cleanText trims NULs and spaces, drops control characters and invalid
// UTF-8, and caps the length: EXIF strings are attacker-controlled and end
// up in JSON and the UI.
func cleanText(s string, maxRunes int) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes])
	}
	return s
}

// takenAt converts "2006:01:02 15:04:05" (+ optional "+08:00") to
// "2006-01-02T15:04:05[+08:00]"; anything unparsable gives "".
func takenAt(dt, offset string) string {
	t, err := time.Parse("2006:01:02 15:04:05", dt)
	if err != nil || t.Year() < 1900 {
		return ""
	}
	s := t.Format("2006-01-02T15:04:05")
	if _, err := time.Parse("-07:00", offset); err == nil {
		s += offset
	}
	return s
}
