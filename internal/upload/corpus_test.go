package upload

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// photo draws a w×h scene with a red marker block in the top-left corner
// and some noise, so JPEG sizes are realistic and orientation is visible.
func photo(w, h int, seed uint64) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, 3))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := m.PixOffset(x, y)
			n := uint8(rng.IntN(24))
			m.Pix[i+0] = uint8(40+x*150/w) + n
			m.Pix[i+1] = uint8(60+y*120/h) + n
			m.Pix[i+2] = 140 + n
			m.Pix[i+3] = 255
		}
	}
	bw, bh := max(w/8, 2), max(h/8, 2)
	for y := 0; y < bh; y++ {
		for x := 0; x < bw; x++ {
			m.SetRGBA(x, y, color.RGBA{250, 0, 0, 255})
		}
	}
	return m
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}))
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// withAPP1 inserts an EXIF APP1 segment right after the SOI marker.
func withAPP1(jpg, tiff []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// tiffEntry is one IFD entry for the test TIFF builder.
type tiffEntry struct {
	tag, typ uint16
	ascii    string   // type 2
	short    uint16   // type 3
	long     uint32   // type 4 (also sub-IFD pointers, patched by the builder)
	rational []uint32 // type 5 pairs
	subIFD   []tiffEntry
}

// buildTIFF lays out IFD0, then each sub-IFD, then value data, little endian.
func buildTIFF(ifd0 []tiffEntry) []byte {
	le := binary.LittleEndian
	buf := []byte("II*\x00\x08\x00\x00\x00")
	var write func(entries []tiffEntry) int
	write = func(entries []tiffEntry) int {
		start := len(buf)
		buf = le.AppendUint16(buf, uint16(len(entries)))
		slots := make([]int, len(entries))
		for i, e := range entries {
			slots[i] = len(buf)
			buf = append(buf, make([]byte, 12)...)
			le.PutUint16(buf[slots[i]:], e.tag)
			le.PutUint16(buf[slots[i]+2:], e.typ)
		}
		buf = le.AppendUint32(buf, 0) // no next IFD
		for i, e := range entries {
			s := slots[i]
			switch {
			case e.subIFD != nil:
				le.PutUint32(buf[s+4:], 1)
				off := write(e.subIFD)
				le.PutUint32(buf[s+8:], uint32(off))
			case e.typ == 2:
				v := append([]byte(e.ascii), 0)
				le.PutUint32(buf[s+4:], uint32(len(v)))
				if len(v) <= 4 {
					copy(buf[s+8:s+12], v)
				} else {
					le.PutUint32(buf[s+8:], uint32(len(buf)))
					buf = append(buf, v...)
				}
			case e.typ == 3:
				le.PutUint32(buf[s+4:], 1)
				le.PutUint16(buf[s+8:], e.short)
			case e.typ == 4:
				le.PutUint32(buf[s+4:], 1)
				le.PutUint32(buf[s+8:], e.long)
			case e.typ == 5:
				le.PutUint32(buf[s+4:], uint32(len(e.rational)/2))
				le.PutUint32(buf[s+8:], uint32(len(buf)))
				for _, v := range e.rational {
					buf = le.AppendUint32(buf, v)
				}
			}
		}
		return start
	}
	write(ifd0)
	return buf
}

// gpsLatitude is a recognisable GPS payload: 37°03'42" N (Xingtai).
var gpsLatitude = []uint32{37, 1, 3, 1, 42, 1}

// cameraEXIF is EXIF with camera, time, orientation, personal fields and GPS.
func cameraEXIF(orientation uint16) []byte {
	return buildTIFF([]tiffEntry{
		{tag: tagMake, typ: 2, ascii: "Canon"},
		{tag: tagModel, typ: 2, ascii: "Canon EOS R6"},
		{tag: tagOrientation, typ: 3, short: orientation},
		{tag: tagDateTime, typ: 2, ascii: "2024:07:15 08:30:00"},
		{tag: tagArtist, typ: 2, ascii: "Zhang San"},
		{tag: tagExifIFD, typ: 4, subIFD: []tiffEntry{
			{tag: tagDateTimeOriginal, typ: 2, ascii: "2024:07:15 08:29:59"},
			{tag: tagOffsetTimeOrig, typ: 2, ascii: "+08:00"},
			{tag: tagBodySerialNumber, typ: 2, ascii: "SN-0042-SECRET"},
			{tag: tagLensModel, typ: 2, ascii: "RF24-105mm F4 L IS USM"},
		}},
		{tag: tagGPSIFD, typ: 4, subIFD: []tiffEntry{
			{tag: 0x0001, typ: 2, ascii: "N"},
			{tag: 0x0002, typ: 5, rational: gpsLatitude},
		}},
	})
}

// pngChunk encodes one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// pngHeaderOnly is a structurally valid PNG whose IHDR declares w×h at the
// given bit depth and colour type, with a tiny IDAT: the classic
// decompression-bomb shape.
func pngHeaderOnly(w, h uint32, depth, colorType byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, colorType, 0, 0, 0)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1024))
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", z.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// withPNGEXIF inserts an eXIf chunk after IHDR.
func withPNGEXIF(p, tiff []byte) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	out := append([]byte{}, p[:afterIHDR]...)
	out = append(out, pngChunk("eXIf", tiff)...)
	return append(out, p[afterIHDR:]...)
}

// zipArchive returns a small zip with one text file.
func zipArchive(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("payload/secret.txt")
	require.NoError(t, err)
	w.Write([]byte("ZIP-PAYLOAD-MARKER"))
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// webpFixture reads a WebP copied from x/image (see testdata/README.md).
func webpFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// webpWithEXIF wraps a simple lossy WebP ("VP8 " chunk) in the extended
// format with an EXIF chunk after the image data, as libwebp writes it.
func webpWithEXIF(t testing.TB, simple []byte, w, h int, tiff []byte) []byte {
	t.Helper()
	require.Equal(t, "VP8 ", string(simple[12:16]))
	vp8 := simple[12:]
	vp8x := make([]byte, 10)
	vp8x[0] = 0x08 // EXIF flag
	put24 := func(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }
	put24(vp8x[4:], w-1)
	put24(vp8x[7:], h-1)
	chunk := func(typ string, data []byte) []byte {
		out := append([]byte(typ), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
		out = append(out, data...)
		if len(data)%2 == 1 {
			out = append(out, 0)
		}
		return out
	}
	body := []byte("WEBP")
	body = append(body, chunk("VP8X", vp8x)...)
	body = append(body, vp8...)
	body = append(body, chunk("EXIF", tiff)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// minimalELF is the start of a Linux executable.
var minimalELF = append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 56)...)

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
