// Package zipstream writes zip archives straight to an io.Writer (an HTTP
// response), one entry at a time: no temp file, no archive buffered in
// memory, so a 1 GB batch download costs the same RAM as a 1 MB one.
//
// Entries are Stored, not deflated: JPEG, PNG and WebP are already
// compressed, and deflate would burn CPU for ~1 % gain while making the
// archive size unpredictable.
//
// The package takes generic entries (a path, an opener, a size) and
// manifest rows of strings, so it knows nothing about planners, providers
// or the database.
package zipstream

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Entry is one file of the archive.
type Entry struct {
	// Path inside the archive, slash-separated and relative, e.g.
	// "01_河北邢台县_7月_土路/1_sunny_morning.jpg". Checked by ValidPath.
	Path string
	// Size is the exact content length, verified while streaming (a file
	// that changed under us fails the archive rather than corrupting it).
	// A negative Size means unknown.
	Size int64
	// Modified is the entry's modification time (zero: Options.Now).
	Modified time.Time
	// CRC32 (IEEE), when non-zero and Size is known, lets the entry be
	// written with its sizes and checksum in the local header instead of a
	// trailing data descriptor, which some strict unzip tools (Java's
	// ZipInputStream) require for Stored entries. It is verified too.
	CRC32 uint32
	// Open returns the content. It is called once, when the entry is
	// written, and the reader is closed right after.
	Open func() (io.ReadCloser, error)
}

// Manifest describes the archive's contents as a table, written as
// manifest.json and manifest.csv.
type Manifest struct {
	// Columns name the fields, in order: the CSV header and JSON keys.
	Columns []string
	// Rows hold one value per column.
	Rows [][]string
	// Meta is marshalled as manifest.json's "meta" object when not nil
	// (e.g. the batch summary or plan).
	Meta any
}

// Options tune an archive.
type Options struct {
	// Manifest, when not nil, adds manifest.json and manifest.csv at the
	// archive root, after the entries.
	Manifest *Manifest
	// Location is the time zone of the MS-DOS timestamps that old unzip
	// tools show (modern ones read the UTC extended timestamp). Default UTC;
	// a Chinese deployment passes Asia/Shanghai.
	Location *time.Location
	// Now stamps the manifest files and entries without Modified.
	// Default time.Now.
	Now func() time.Time
}

// Manifest file names.
const (
	ManifestJSON = "manifest.json"
	ManifestCSV  = "manifest.csv"
)

// ErrSizeMismatch means an entry's content did not match its declared Size
// or CRC32; the archive written so far is invalid and must be abandoned.
var ErrSizeMismatch = errors.New("zipstream: entry content does not match its size or checksum")

// copyBufferSize is the one buffer every entry is copied through.
const copyBufferSize = 256 << 10

// Write streams a zip of entries (and the manifest) to w. On error the
// output is a truncated archive: the caller (an HTTP handler that already
// sent 200) can only abort the connection, which tells the client the
// download failed.
func Write(ctx context.Context, w io.Writer, entries []Entry, opts Options) error {
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	seen := make(map[string]bool, len(entries)+2)
	for _, e := range entries {
		if err := ValidPath(e.Path); err != nil {
			return err
		}
		if seen[e.Path] {
			return fmt.Errorf("zipstream: duplicate path %q", e.Path)
		}
		seen[e.Path] = true
	}
	if opts.Manifest != nil && (seen[ManifestJSON] || seen[ManifestCSV]) {
		return fmt.Errorf("zipstream: an entry collides with the manifest")
	}

	zw := zip.NewWriter(w)
	buf := make([]byte, copyBufferSize)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		mod := e.Modified
		if mod.IsZero() {
			mod = now()
		}
		if err := writeEntry(ctx, zw, e, mod.In(loc), buf); err != nil {
			return fmt.Errorf("zipstream: %s: %w", e.Path, err)
		}
	}
	if opts.Manifest != nil {
		mod := now().In(loc)
		js, err := manifestJSON(opts.Manifest)
		if err != nil {
			return err
		}
		cs, err := manifestCSV(opts.Manifest)
		if err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			data []byte
		}{{ManifestJSON, js}, {ManifestCSV, cs}} {
			e := Entry{Path: f.name, Size: int64(len(f.data)), CRC32: crc32.ChecksumIEEE(f.data),
				Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }}
			if err := writeEntry(ctx, zw, e, mod, buf); err != nil {
				return fmt.Errorf("zipstream: %s: %w", f.name, err)
			}
		}
	}
	return zw.Close()
}

func writeEntry(ctx context.Context, zw *zip.Writer, e Entry, mod time.Time, buf []byte) error {
	hdr := &zip.FileHeader{Name: e.Path, Method: zip.Store, Modified: mod}
	hdr.SetMode(0o644)
	raw := e.CRC32 != 0 && e.Size >= 0
	var dst io.Writer
	var err error
	if raw {
		// Sizes and CRC go in the local header; no data descriptor.
		hdr.CRC32 = e.CRC32
		hdr.CompressedSize64 = uint64(e.Size)
		hdr.UncompressedSize64 = uint64(e.Size)
		prepareRaw(hdr)
		dst, err = zw.CreateRaw(hdr)
	} else {
		dst, err = zw.CreateHeader(hdr)
	}
	if err != nil {
		return err
	}
	rc, err := e.Open()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	h := crc32.NewIEEE()
	src := io.Reader(ctxReader{ctx, rc})
	if e.Size >= 0 {
		// Read one byte past the declared size to detect growth.
		src = io.LimitReader(src, e.Size+1)
	}
	n, err := io.CopyBuffer(io.MultiWriter(dst, h), src, buf)
	if err != nil {
		return err
	}
	if e.Size >= 0 && n != e.Size {
		return fmt.Errorf("%w: read %d bytes, declared %d", ErrSizeMismatch, n, e.Size)
	}
	if raw && h.Sum32() != e.CRC32 {
		return fmt.Errorf("%w: crc %08x, declared %08x", ErrSizeMismatch, h.Sum32(), e.CRC32)
	}
	return nil
}

// prepareRaw does for CreateRaw what CreateHeader does by itself: the
// UTF-8 name flag, version fields, MS-DOS time and the Info-ZIP extended
// timestamp (UTC seconds), so both kinds of entries look the same.
func prepareRaw(fh *zip.FileHeader) {
	if utf8.ValidString(fh.Name) && strings.ContainsFunc(fh.Name, func(r rune) bool { return r >= utf8.RuneSelf }) {
		fh.Flags |= 0x800
	}
	fh.CreatorVersion = fh.CreatorVersion&0xff00 | 20
	fh.ReaderVersion = 20
	t := fh.Modified
	if t.Year() < 1980 {
		t = time.Date(1980, 1, 1, 0, 0, 0, 0, t.Location())
	}
	// The deprecated fields are the only way to set the MS-DOS time of a
	// raw entry: CreateRaw does not derive it from Modified.
	//lint:ignore SA1019 see above
	fh.ModifiedDate, fh.ModifiedTime = uint16(t.Day()+int(t.Month())<<5+(t.Year()-1980)<<9), uint16(t.Second()/2+t.Minute()<<5+t.Hour()<<11)
	extra := make([]byte, 9)
	binary.LittleEndian.PutUint16(extra[0:], 0x5455) // extended timestamp
	binary.LittleEndian.PutUint16(extra[2:], 5)
	extra[4] = 1 // modification time present
	binary.LittleEndian.PutUint32(extra[5:], uint32(fh.Modified.Unix()))
	fh.Extra = append(fh.Extra, extra...)
}

// ValidPath accepts relative slash paths of non-empty segments without "."
// or "..", backslashes, colons or control characters: what every unzip
// tool extracts inside its target directory (no zip-slip).
func ValidPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || len(p) > 1024 {
		return fmt.Errorf("zipstream: invalid path %q", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("zipstream: invalid path %q", p)
		}
	}
	if strings.ContainsAny(p, "\\:") || strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return fmt.Errorf("zipstream: invalid path %q", p)
	}
	if path.Clean(p) != p {
		return fmt.Errorf("zipstream: path %q is not clean", p)
	}
	return nil
}

// manifestJSON renders {"meta": …, "columns": […], "items": [{col: val}…]}
// with keys in column order (a map would sort them).
func manifestJSON(m *Manifest) ([]byte, error) {
	var b strings.Builder
	b.WriteString("{")
	if m.Meta != nil {
		meta, err := json.Marshal(m.Meta)
		if err != nil {
			return nil, fmt.Errorf("zipstream: manifest meta: %w", err)
		}
		b.WriteString(`"meta":`)
		b.Write(meta)
		b.WriteString(",")
	}
	cols, _ := json.Marshal(m.Columns)
	b.WriteString(`"columns":`)
	b.Write(cols)
	b.WriteString(`,"items":[`)
	for i, row := range m.Rows {
		if len(row) != len(m.Columns) {
			return nil, fmt.Errorf("zipstream: manifest row %d has %d values for %d columns", i, len(row), len(m.Columns))
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n{")
		for j, col := range m.Columns {
			if j > 0 {
				b.WriteString(",")
			}
			k, _ := json.Marshal(col)
			v, _ := json.Marshal(row[j])
			b.Write(k)
			b.WriteString(":")
			b.Write(v)
		}
		b.WriteString("}")
	}
	b.WriteString("\n]}\n")
	return []byte(b.String()), nil
}

// manifestCSV renders UTF-8 CSV with a byte-order mark, which is what makes
// Excel on Windows read Chinese text correctly, and CRLF line ends.
// Cells that Excel would run as formulas are prefixed with an apostrophe.
func manifestCSV(m *Manifest) ([]byte, error) {
	var b strings.Builder
	b.WriteString("\ufeff")
	cw := csv.NewWriter(&b)
	cw.UseCRLF = true
	if err := cw.Write(m.Columns); err != nil {
		return nil, err
	}
	for _, row := range m.Rows {
		safe := make([]string, len(row))
		for i, v := range row {
			safe[i] = defuseFormula(v)
		}
		if err := cw.Write(safe); err != nil {
			return nil, err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// defuseFormula stops CSV injection: prompts are model- and user-supplied
// text, and a cell starting with = + - @ would be evaluated by Excel.
func defuseFormula(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// ctxReader stops a long copy when the client goes away.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
