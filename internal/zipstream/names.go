package zipstream

import (
	"fmt"
	"strings"
	"unicode"
)

// maxNameRunes keeps each path segment well inside Windows' 260-character
// path limit even after a deep extraction directory.
const maxNameRunes = 80

// SafeName turns arbitrary text (a county name, an element label) into a
// path segment every OS accepts: characters Windows forbids (\/:*?"<>|)
// and control or format characters are dropped, runs of whitespace become
// one "_", leading and trailing dots and spaces are trimmed, the length is
// capped, and reserved device names (CON, NUL…) get a "_" suffix. Chinese
// and other letters are kept as is. An empty result becomes "_".
func SafeName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == unicode.ReplacementChar,
			strings.ContainsRune(`\/:*?"<>|`, r):
			continue
		}
		if space {
			b.WriteByte('_')
			space = false
		}
		b.WriteRune(r)
	}
	out := strings.Trim(b.String(), ". _")
	if r := []rune(out); len(r) > maxNameRunes {
		out = strings.TrimRight(string(r[:maxNameRunes]), ". _")
	}
	if out == "" {
		return "_"
	}
	if reservedName(out) {
		out += "_"
	}
	return out
}

func reservedName(s string) bool {
	base := strings.ToUpper(s)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	switch base {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) && base[3] >= '0' && base[3] <= '9' {
		return true
	}
	return false
}

// FolderName builds a numbered group folder name such as
// "01_河北邢台县_7月_土路": the 1-based index zero-padded to two digits (so
// folders sort in group order), then each non-empty part made safe, joined
// by "_". It has no trailing slash; join with "/" and a file name.
func FolderName(index int, parts ...string) string {
	segs := []string{fmt.Sprintf("%02d", index)}
	for _, p := range parts {
		if s := SafeName(p); s != "_" {
			segs = append(segs, s)
		}
	}
	name := strings.Join(segs, "_")
	if r := []rune(name); len(r) > maxNameRunes {
		name = strings.TrimRight(string(r[:maxNameRunes]), ". _")
	}
	return name
}
