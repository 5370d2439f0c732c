package zipstream

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func memEntry(p string, data []byte, withCRC bool) Entry {
	e := Entry{
		Path:     p,
		Size:     int64(len(data)),
		Modified: time.Date(2026, 7, 1, 8, 30, 0, 0, time.UTC),
		Open:     func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
	if withCRC {
		e.CRC32 = crc32.ChecksumIEEE(data)
	}
	return e
}

func TestWriteRoundTrip(t *testing.T) {
	t.Parallel()
	folder := FolderName(1, "河北邢台县", "7月", "土路")
	require.Equal(t, "01_河北邢台县_7月_土路", folder)
	img1 := bytes.Repeat([]byte{0xFF, 0xD8, 1, 2, 3}, 10000)
	img2 := []byte("second image")
	entries := []Entry{
		memEntry(folder+"/1_sunny_morning.jpg", img1, false),
		memEntry(folder+"/2_sunny_evening.jpg", img2, true),
		memEntry("02_云南_1月/1.png", nil, false),
	}
	manifest := &Manifest{
		Columns: []string{"group", "file", "prompt_zh"},
		Rows: [][]string{
			{"1", folder + "/1_sunny_morning.jpg", "河北邢台县的七月，土路上的太阳能路灯"},
			{"1", folder + "/2_sunny_evening.jpg", "=HYPERLINK(\"http://x\")"},
		},
		Meta: map[string]any{"batch_id": "b1", "groups": 2},
	}
	var buf bytes.Buffer
	now := time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)
	require.NoError(t, Write(context.Background(), &buf, entries, Options{
		Manifest: manifest,
		Location: time.FixedZone("CST", 8*3600),
		Now:      func() time.Time { return now },
	}))

	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		require.Equal(t, zip.Store, f.Method, f.Name)
		if strings.ContainsFunc(f.Name, func(r rune) bool { return r > 127 }) {
			require.Equal(t, uint16(0x800), f.Flags&0x800, "UTF-8 flag on %s", f.Name)
		}
	}
	require.Equal(t, []string{entries[0].Path, entries[1].Path, entries[2].Path, ManifestJSON, ManifestCSV}, names)
	read := func(f *zip.File) []byte {
		rc, err := f.Open()
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc) // also verifies the CRC
		require.NoError(t, err)
		return b
	}
	require.Equal(t, img1, read(zr.File[0]))
	require.Equal(t, img2, read(zr.File[1]))
	require.Empty(t, read(zr.File[2]))
	for i := range 2 {
		require.True(t, zr.File[i].Modified.Equal(entries[i].Modified), "entry %d modified %v", i, zr.File[i].Modified)
		require.Equal(t, zr.File[0].ModifiedTime, zr.File[i].ModifiedTime)
		require.Equal(t, zr.File[0].ModifiedDate, zr.File[i].ModifiedDate)
	}
	require.Equal(t, uint16(0x8), zr.File[0].Flags&0x8, "unknown CRC uses a data descriptor")
	require.Equal(t, uint16(0), zr.File[1].Flags&0x8, "known CRC puts sizes in the local header")
	// The local header of a raw entry carries the real sizes.
	lh := buf.Bytes()[localHeaderOffset(t, buf.Bytes(), entries[1].Path):]
	require.Equal(t, uint32(len(img2)), binary.LittleEndian.Uint32(lh[22:26]))

	var mj struct {
		Meta    map[string]any      `json:"meta"`
		Columns []string            `json:"columns"`
		Items   []map[string]string `json:"items"`
	}
	raw := read(zr.File[3])
	require.NoError(t, json.Unmarshal(raw, &mj))
	require.Equal(t, "b1", mj.Meta["batch_id"])
	require.Equal(t, manifest.Columns, mj.Columns)
	require.Equal(t, "河北邢台县的七月，土路上的太阳能路灯", mj.Items[0]["prompt_zh"])
	require.Less(t, strings.Index(string(raw), `"group"`), strings.Index(string(raw), `"prompt_zh"`), "keys keep column order")

	cs := read(zr.File[4])
	require.True(t, bytes.HasPrefix(cs, []byte("\xEF\xBB\xBF")), "CSV starts with a UTF-8 BOM")
	require.Contains(t, string(cs), "\r\n")
	rows, err := csv.NewReader(bytes.NewReader(cs[3:])).ReadAll()
	require.NoError(t, err)
	require.Equal(t, manifest.Columns, rows[0])
	require.Equal(t, "河北邢台县的七月，土路上的太阳能路灯", rows[1][2])
	require.Equal(t, `'=HYPERLINK("http://x")`, rows[2][2])
}

// localHeaderOffset finds the local file header of name.
func localHeaderOffset(t *testing.T, b []byte, name string) int {
	t.Helper()
	i := bytes.Index(b, append([]byte("PK\x03\x04"), []byte{}...))
	for i >= 0 {
		n := int(binary.LittleEndian.Uint16(b[i+26:]))
		if string(b[i+30:i+30+n]) == name {
			return i
		}
		j := bytes.Index(b[i+4:], []byte("PK\x03\x04"))
		if j < 0 {
			break
		}
		i += 4 + j
	}
	t.Fatalf("no local header for %s", name)
	return 0
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	ok := memEntry("a.jpg", []byte("abc"), false)
	tests := []struct {
		name    string
		entries []Entry
		opts    Options
		want    error
		msg     string
	}{
		{"traversal", []Entry{memEntry("../evil.jpg", nil, false)}, Options{}, nil, "invalid path"},
		{"absolute", []Entry{memEntry("/etc/x", nil, false)}, Options{}, nil, "invalid path"},
		{"backslash", []Entry{memEntry(`a\..\b`, nil, false)}, Options{}, nil, "invalid path"},
		{"duplicate", []Entry{ok, ok}, Options{}, nil, "duplicate"},
		{"manifest collision", []Entry{memEntry(ManifestCSV, nil, false)}, Options{Manifest: &Manifest{}}, nil, "collides"},
		{"size shrank", []Entry{{Path: "a", Size: 10, Open: memEntry("a", []byte("abc"), false).Open}}, Options{}, ErrSizeMismatch, ""},
		{"size grew", []Entry{{Path: "a", Size: 2, Open: memEntry("a", []byte("abc"), false).Open}}, Options{}, ErrSizeMismatch, ""},
		{"bad crc", []Entry{{Path: "a", Size: 3, CRC32: 1, Open: memEntry("a", []byte("abc"), false).Open}}, Options{}, ErrSizeMismatch, ""},
		{"opener fails", []Entry{{Path: "a", Size: 3, Open: func() (io.ReadCloser, error) { return nil, errors.New("gone") }}}, Options{}, nil, "gone"},
		{"ragged manifest", []Entry{ok}, Options{Manifest: &Manifest{Columns: []string{"a"}, Rows: [][]string{{"1", "2"}}}}, nil, "columns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Write(context.Background(), io.Discard, tt.entries, tt.opts)
			require.Error(t, err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
			if tt.msg != "" {
				require.ErrorContains(t, err, tt.msg)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, Write(ctx, io.Discard, []Entry{ok}, Options{}), context.Canceled)
}

func TestUnknownSizeStreams(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte("x"), 100000)
	e := Entry{Path: "big.bin", Size: -1, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
	var buf bytes.Buffer
	require.NoError(t, Write(context.Background(), &buf, []Entry{e}, Options{}))
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Equal(t, uint64(len(data)), zr.File[0].UncompressedSize64)
}

func TestSafeNames(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"河北邢台县":                  "河北邢台县",
		"a/b\\c:d*e?f\"g<h>i|j":  "abcdefghij",
		"  lots   of\tspace ":    "lots_of_space",
		"..hidden..":             "hidden",
		"":                       "_",
		"///":                    "_",
		"CON":                    "CON_",
		"com1.txt":               "com1.txt_",
		"a\x00b\u202ec":          "abc",
		strings.Repeat("长", 100): strings.Repeat("长", 80),
	}
	for in, want := range tests {
		require.Equal(t, want, SafeName(in), "input %q", in)
		require.NoError(t, ValidPath(SafeName(in)))
	}
	require.Equal(t, "12_广东_湛江市_12月_水泥路", FolderName(12, "广东", "湛江市", "12月", "水泥路"))
	require.Equal(t, "03", FolderName(3, "", "///"))
}
