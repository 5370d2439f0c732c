package pool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// WriteDir writes p to dir in the layout Load reads (zones.json,
// provinces.json, seasons.json, roads.json, elements.json, regions/NN.json),
// creating dir and dir/regions. Output is deterministic: struct field order,
// 2-space indentation, small objects and scalar lists on one line, a final
// newline. Regions go to the file of their code's 2-digit prefix, in pool
// order. Existing pool files in dir are overwritten; a regions/NN.json whose
// province has no regions in p is removed, so dir holds exactly p afterwards.
// Load(WriteDir(p)) has p's Version.
func WriteDir(p *Pool, dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, DirRegions), 0o755); err != nil {
		return fmt.Errorf("creating pool directory: %w", err)
	}
	files := []struct {
		name string
		v    any
	}{
		{FileZones, zonesFile{Zones: nonNil(p.Zones)}},
		{FileProvinces, provincesFile{Provinces: nonNil(p.Provinces)}},
		{FileSeasons, seasonsFile{Seasons: nonNil(p.Seasons)}},
		{FileRoads, roadsFile{Roads: nonNil(p.Roads)}},
		{FileElements, elementsFile{Categories: nonNil(p.Categories), Elements: nonNil(p.Elements)}},
	}
	if len(p.Tags) > 0 {
		files = append(files, struct {
			name string
			v    any
		}{FileTags, tagsFile{Tags: p.Tags}})
	}
	if len(p.Climates) > 0 {
		files = append(files, struct {
			name string
			v    any
		}{FileClimates, climatesFile{Climates: p.Climates}})
	}
	var prefixes []string
	groups := map[string][]Region{}
	for _, r := range p.Regions {
		pre := prefix2(r.Code)
		if _, ok := groups[pre]; !ok {
			prefixes = append(prefixes, pre)
		}
		groups[pre] = append(groups[pre], r)
	}
	for _, pre := range prefixes {
		files = append(files, struct {
			name string
			v    any
		}{DirRegions + "/" + pre + ".json", regionsFile{ProvinceCode: pre + "0000", Regions: groups[pre]}})
	}

	for _, f := range files {
		b, err := formatJSON(f.v)
		if err != nil {
			return fmt.Errorf("encoding pool file %s: %w", f.name, err)
		}
		if err := writeFileAtomic(filepath.Join(dir, filepath.FromSlash(f.name)), b); err != nil {
			return err
		}
	}

	old, err := os.ReadDir(filepath.Join(dir, DirRegions))
	if err != nil {
		return fmt.Errorf("listing pool regions: %w", err)
	}
	for _, e := range old {
		pre := strings.TrimSuffix(e.Name(), ".json")
		if !e.IsDir() && regionFileRE.MatchString(e.Name()) && groups[pre] == nil {
			if err := os.Remove(filepath.Join(dir, DirRegions, e.Name())); err != nil {
				return fmt.Errorf("removing stale pool file: %w", err)
			}
		}
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writeFileAtomic writes through a temporary file and a rename, so a reader
// (or a crash) never sees half a file.
func writeFileAtomic(name string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("writing pool file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // fails harmlessly after the rename
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing pool file %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("writing pool file %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing pool file %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("writing pool file %s: %w", name, err)
	}
	return nil
}

// inlineWidth is the longest value (in characters) printed on one line.
const inlineWidth = 100

// formatJSON renders v with 2-space indentation, keeping short objects
// without nested objects ({"zh": "冬小麦", "en": "winter wheat", "kind": "grain"})
// and short lists of scalars ([3, 4, 5]) on one line.
func formatJSON(v any) ([]byte, error) {
	raw, err := canonicalJSON(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := parseNode(dec)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	n.write(&buf, 0)
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// node is an order-preserving JSON tree.
type node struct {
	delim  byte // '{', '[' or 0 for a scalar
	scalar string
	keys   []string
	kids   []*node
}

func parseNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{delim: byte(t)}
		for dec.More() {
			if n.delim == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			kid, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return n, nil
	case string:
		return &node{scalar: quote(t)}, nil
	case json.Number:
		return &node{scalar: t.String()}, nil
	case bool:
		if t {
			return &node{scalar: "true"}, nil
		}
		return &node{scalar: "false"}, nil
	case nil:
		return &node{scalar: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func quote(s string) string {
	b, _ := canonicalJSON(s) // a string always marshals
	return string(b)
}

// inline returns the one-line form, or "" if the node must be expanded.
func (n *node) inline() string {
	if n.delim == 0 {
		return n.scalar
	}
	if len(n.kids) == 0 {
		if n.delim == '{' {
			return "{}"
		}
		return "[]"
	}
	var b strings.Builder
	b.WriteByte(n.delim)
	for i, k := range n.kids {
		if k.delim == '{' || (k.delim == '[' && n.delim == '[') {
			return "" // objects inside, or nested lists: expand
		}
		if k.delim == '[' && anyContainer(k) {
			return ""
		}
		if i > 0 {
			b.WriteString(", ")
		}
		kid := k.inline()
		if kid == "" {
			return ""
		}
		if n.delim == '{' {
			b.WriteString(quote(n.keys[i]))
			b.WriteString(": ")
		}
		b.WriteString(kid)
	}
	if n.delim == '{' {
		b.WriteByte('}')
	} else {
		b.WriteByte(']')
	}
	if utf8.RuneCountInString(b.String()) > inlineWidth {
		return ""
	}
	return b.String()
}

func anyContainer(n *node) bool {
	for _, k := range n.kids {
		if k.delim != 0 {
			return true
		}
	}
	return false
}

func (n *node) write(w *bytes.Buffer, depth int) {
	if s := n.inline(); s != "" {
		w.WriteString(s)
		return
	}
	indent := strings.Repeat("  ", depth+1)
	w.WriteByte(n.delim)
	w.WriteByte('\n')
	for i, k := range n.kids {
		w.WriteString(indent)
		if n.delim == '{' {
			w.WriteString(quote(n.keys[i]) + ": ")
		}
		k.write(w, depth+1)
		if i < len(n.kids)-1 {
			w.WriteString(",")
		}
		w.WriteString("\n")
	}
	w.WriteString(strings.Repeat("  ", depth))
	if n.delim == '{' {
		w.WriteString("}")
	} else {
		w.WriteString("]")
	}
}
