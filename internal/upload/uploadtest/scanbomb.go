// Package uploadtest builds hostile images for tests of the upload intake.
package uploadtest

import "bytes"

// ScanBombJPEG returns a progressive-JPEG header (1024×1024, three
// components) followed by scans SOS segments, each with a few bytes of
// entropy-coded data (including 0xFF00 stuffing and a restart marker, which
// are data, not markers). A decoder would make one pass over every block per
// scan; the intake must refuse it from the marker walk alone.
func ScanBombJPEG(scans int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xD8}) // SOI
	// DQT: one 8-bit table, all ones.
	b.Write([]byte{0xFF, 0xDB, 0x00, 0x43, 0x00})
	b.Write(bytes.Repeat([]byte{1}, 64))
	// SOF2: precision 8, 1024×1024, 3 components with 1×1 sampling, table 0.
	b.Write([]byte{0xFF, 0xC2, 0x00, 0x11, 0x08, 0x04, 0x00, 0x04, 0x00, 0x03,
		0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00})
	for i := 0; i < scans; i++ {
		// SOS: one component, tables 0/0, spectral 1..63, approx 0x10.
		b.Write([]byte{0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x3F, 0x10})
		b.Write([]byte{0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56})
	}
	b.Write([]byte{0xFF, 0xD9}) // EOI
	return b.Bytes()
}
