package upload

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEXIF(t *testing.T) {
	t.Parallel()
	got, err := parseEXIF(cameraEXIF(6))
	require.NoError(t, err)
	require.Equal(t, "Canon", got.CameraMake)
	require.Equal(t, 6, got.Orientation)
	require.True(t, got.GPSRemoved)

	// Orientation out of range is ignored; DateTime is the fallback time.
	got, err = parseEXIF(buildTIFF([]tiffEntry{
		{tag: tagOrientation, typ: 3, short: 9},
		{tag: tagDateTime, typ: 2, ascii: "2023:01:02 03:04:05"},
		{tag: tagModel, typ: 2, ascii: "X\x01\x02<script>\u202e"},
	}))
	require.NoError(t, err)
	require.Equal(t, 0, got.Orientation)
	require.Equal(t, "2023-01-02T03:04:05", got.TakenAt)
	require.Equal(t, "X<script>", got.CameraModel)
	require.False(t, got.GPSRemoved)

	bad := [][]byte{
		nil, []byte("II*\x00"), []byte("XX*\x00\x08\x00\x00\x00"), []byte("II+\x00\x08\x00\x00\x00"),
		[]byte("II*\x00\xff\xff\xff\xff"),
		// IFD claiming 65535 entries in 10 bytes.
		[]byte("II*\x00\x08\x00\x00\x00\xff\xff"),
	}
	for _, b := range bad {
		_, err := parseEXIF(b)
		require.Error(t, err, "%q", b)
	}

	// A string whose offset points outside the block is dropped, not read.
	tiff := buildTIFF([]tiffEntry{{tag: tagMake, typ: 2, ascii: "LongerThanFour"}})
	binary.LittleEndian.PutUint32(tiff[8+2+8:], 1<<30)
	got, err = parseEXIF(tiff)
	require.NoError(t, err)
	require.Empty(t, got.CameraMake)
}

func TestScanJPEG(t *testing.T) {
	t.Parallel()
	jpg := encodeJPEG(t, photo(64, 48, 1), 80)
	info, err := scanJPEG(bytes.NewReader(jpg), int64(len(jpg)))
	require.NoError(t, err)
	require.False(t, info.progressive)
	require.InDelta(t, 1.5, info.samples, 1e-9) // Go writes 4:2:0
	require.Nil(t, info.exif)

	withExif := withAPP1(jpg, cameraEXIF(1))
	info, err = scanJPEG(bytes.NewReader(withExif), int64(len(withExif)))
	require.NoError(t, err)
	require.Equal(t, cameraEXIF(1), info.exif)

	_, err = scanJPEG(bytes.NewReader([]byte("\xFF\xD8\x00\x00\x00\x00")), 6)
	require.Error(t, err)
}

// FuzzMetadata checks the hand-written header parsers never panic or loop
// on arbitrary bytes.
func FuzzMetadata(f *testing.F) {
	f.Add(cameraEXIF(6))
	f.Add(withAPP1(encodeJPEG(f, photo(16, 16, 1), 80), cameraEXIF(3)))
	f.Add(withPNGEXIF(encodePNG(f, photo(16, 16, 1)), cameraEXIF(3)))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseEXIF(b)
		r := bytes.NewReader(b)
		_, _ = scanJPEG(r, int64(len(b)))
		_ = pngEXIF(r, int64(len(b)))
		_ = webpEXIF(r, int64(len(b)))
		_ = detect(b)
		_ = CleanFilename(string(b))
	})
}
