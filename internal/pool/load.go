package pool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// The file layout of a pool directory (see data/pool/SCHEMA.md).
const (
	FileZones     = "zones.json"
	FileProvinces = "provinces.json"
	FileSeasons   = "seasons.json"
	FileRoads     = "roads.json"
	FileElements  = "elements.json"
	FileTags      = "tags.json"     // optional: the feature tag vocabulary
	FileClimates  = "climates.json" // optional: monthly climate profiles
	DirRegions    = "regions"       // regions/<2-digit province prefix>.json
)

var topFiles = []string{FileZones, FileProvinces, FileSeasons, FileRoads, FileElements}

// optionalFiles may be absent (pools written before tags and climate
// profiles existed); DefaultMinimums then reports what is missing.
var optionalFiles = []string{FileTags, FileClimates}

var regionFileRE = regexp.MustCompile(`^[0-9]{2}\.json$`)

// The on-disk shapes of the files.
type (
	zonesFile struct {
		Zones []Zone `json:"zones"`
	}
	provincesFile struct {
		Provinces []Province `json:"provinces"`
	}
	regionsFile struct {
		ProvinceCode string   `json:"province_code"`
		Regions      []Region `json:"regions"`
	}
	seasonsFile struct {
		Seasons []Season `json:"seasons"`
	}
	roadsFile struct {
		Roads []Road `json:"roads"`
	}
	elementsFile struct {
		Categories []Category `json:"categories"`
		Elements   []Element  `json:"elements"`
	}
	tagsFile struct {
		Tags []Tag `json:"tags"`
	}
	climatesFile struct {
		Climates []Climate `json:"climates"`
	}
)

// Load reads a pool directory: zones.json, provinces.json, seasons.json,
// roads.json, elements.json and regions/NN.json. Parsing is strict: invalid
// UTF-8, syntax errors, unknown fields, duplicate keys, wrong value types,
// trailing data, a missing required file or an unexpected *.json file are
// errors. Other files (SCHEMA.md, SOURCES.md, embed.go) are ignored.
//
// Load does not check the content (use Validate). On parse problems the error
// is a *fault.Error (code pool_invalid) wrapping the Problems; get them back
// with ProblemsOf. I/O failures are returned as plain wrapped errors.
func Load(fsys fs.FS) (*Pool, error) {
	p := &Pool{}
	var ps Problems

	read := func(name string, v any) error {
		b, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			ps = append(ps, Problem{File: name, Where: "file", Code: "missing_file", Message: "required file is missing"})
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading pool file %s: %w", name, err)
		}
		ps = append(ps, decodeStrict(name, b, v)...)
		return nil
	}

	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("reading pool directory: %w", err)
	}
	for _, e := range top {
		if !e.IsDir() && path.Ext(e.Name()) == ".json" && !slices.Contains(topFiles, e.Name()) && !slices.Contains(optionalFiles, e.Name()) {
			ps = append(ps, Problem{File: e.Name(), Where: "file", Code: "unexpected_file",
				Message: "unexpected file (known files: " + strings.Join(topFiles, ", ") + ", regions/NN.json)"})
		}
	}

	var zf zonesFile
	var pf provincesFile
	var sf seasonsFile
	var rf roadsFile
	var ef elementsFile
	for _, f := range []struct {
		name string
		v    any
	}{{FileZones, &zf}, {FileProvinces, &pf}, {FileSeasons, &sf}, {FileRoads, &rf}, {FileElements, &ef}} {
		if err := read(f.name, f.v); err != nil {
			return nil, err
		}
	}
	p.Zones, p.Provinces, p.Seasons, p.Roads = zf.Zones, pf.Provinces, sf.Seasons, rf.Roads
	p.Categories, p.Elements = ef.Categories, ef.Elements

	var tf tagsFile
	var cf climatesFile
	for _, f := range []struct {
		name string
		v    any
	}{{FileTags, &tf}, {FileClimates, &cf}} {
		b, err := fs.ReadFile(fsys, f.name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading pool file %s: %w", f.name, err)
		}
		ps = append(ps, decodeStrict(f.name, b, f.v)...)
	}
	p.Tags, p.Climates = tf.Tags, cf.Climates

	entries, err := fs.ReadDir(fsys, DirRegions)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading pool directory %s: %w", DirRegions, err)
	}
	// fs.ReadDir returns entries sorted by name, so regions come grouped by
	// province in code order of the files.
	for _, e := range entries {
		name := DirRegions + "/" + e.Name()
		if e.IsDir() || path.Ext(e.Name()) != ".json" {
			continue
		}
		if !regionFileRE.MatchString(e.Name()) {
			ps = append(ps, Problem{File: name, Where: "file", Code: "unexpected_file",
				Message: "region files are named by the 2-digit province prefix, e.g. regions/13.json"})
			continue
		}
		var f regionsFile
		if err := read(name, &f); err != nil {
			return nil, err
		}
		p.regionFiles = append(p.regionFiles, regionFile{name: name, provinceCode: f.ProvinceCode})
		for _, r := range f.Regions {
			r.file = name
			p.Regions = append(p.Regions, r)
		}
	}

	if len(ps) > 0 {
		return nil, ps.Err()
	}
	p.Version = p.ComputeVersion()
	return p, nil
}

// Decode parses a document written by Pool.Encode, as strictly as Load, and
// sets Version from the content (a stored version field is not trusted).
func Decode(b []byte) (*Pool, error) {
	p := &Pool{}
	if ps := decodeStrict("pool", b, p); len(ps) > 0 {
		return nil, ps.Err()
	}
	for i := range p.Regions {
		p.Regions[i].file = p.Regions[i].fileName()
	}
	p.Version = p.ComputeVersion()
	return p, nil
}

// decodeStrict unmarshals b into v and returns every problem it finds.
func decodeStrict(file string, b []byte, v any) Problems {
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, n := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return Problems{{File: file, Where: lineOf(b, int64(off)), Code: "syntax_error", Message: "file is not valid UTF-8"}}
	}

	// First walk the tokens along the target type to report unknown fields
	// and duplicate keys with their path and line; encoding/json alone stops
	// at the first unknown field, gives no position and accepts duplicates.
	w := &walker{dec: json.NewDecoder(bytes.NewReader(b)), data: b, file: file}
	if err := w.value(reflect.TypeOf(v), ""); err != nil {
		return append(w.ps, syntaxProblem(file, b, w.dec.InputOffset(), err))
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return append(w.ps, Problem{File: file, Where: lineOf(b, w.dec.InputOffset()), Code: "syntax_error",
			Message: "unexpected data after the JSON value"})
	}
	if len(w.ps) > 0 {
		return w.ps
	}

	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			where := lineOf(b, te.Offset)
			if te.Field != "" {
				where = te.Field + " (" + where + ")"
			}
			return Problems{{File: file, Where: where, Code: "wrong_type",
				Message: fmt.Sprintf("expected %s, got %s", typeName(te.Type), te.Value)}}
		}
		return Problems{syntaxProblem(file, b, dec.InputOffset(), err)}
	}
	return nil
}

func syntaxProblem(file string, b []byte, off int64, err error) Problem {
	var se *json.SyntaxError
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		off = se.Offset
		msg = strings.TrimPrefix(se.Error(), "json: ")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		msg = "unexpected end of file"
	}
	return Problem{File: file, Where: lineOf(b, off), Code: "syntax_error", Message: msg}
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// lineOf formats the 1-based line of a byte offset: "line 12".
func lineOf(b []byte, off int64) string {
	off = min(max(off, 0), int64(len(b)))
	return fmt.Sprintf("line %d", 1+bytes.Count(b[:off], []byte("\n")))
}

// walker checks a JSON document's keys against a Go type.
type walker struct {
	dec  *json.Decoder
	data []byte
	file string
	ps   Problems
}

func (w *walker) value(t reflect.Type, at string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return w.object(t, at)
	case '[':
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(elem, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ]
		return err
	}
	return nil
}

func (w *walker) object(t reflect.Type, at string) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		where := key
		if at != "" {
			where = at + "." + key
		}
		line := lineOf(w.data, w.dec.InputOffset())
		if seen[key] {
			w.ps = append(w.ps, Problem{File: w.file, Where: where + " (" + line + ")", Code: "duplicate_key",
				Message: fmt.Sprintf("duplicate key %q", key)})
		}
		seen[key] = true
		ft := elem
		if fields != nil {
			var known bool
			ft, known = fields[key]
			if !known {
				w.ps = append(w.ps, Problem{File: w.file, Where: where + " (" + line + ")", Code: "unknown_field",
					Message: fmt.Sprintf("unknown field %q", key)})
			}
		}
		if err := w.value(ft, where); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // }
	return err
}

// jsonFields maps the JSON names of a struct's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}
