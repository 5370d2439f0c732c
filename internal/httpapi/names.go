package httpapi

import (
	"strings"
	"unicode"
)

// unsafeNameRune reports characters a display name must not hold: control
// characters (NUL, CR/LF forge log lines and headers) and the bidirectional
// overrides and isolates (U+202A–U+202E, U+2066–U+2069, marks U+200E/F,
// U+061C), which make a name render differently from what it is ("Trojan
// Source", CVE-2021-42574).
func unsafeNameRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// safeName reports whether s may be stored as a user-chosen name.
func safeName(s string) bool { return strings.IndexFunc(s, unsafeNameRune) < 0 }
