package httpapi

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/ludeng/ludeng/internal/fault"
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

// maxFilterValues caps a comma-separated list filter (status=a,b,…). A
// filter becomes one SQL parameter per value, and SQLite allows 32,766 per
// statement: without a cap, a long list is a 500 instead of a 4xx.
const maxFilterValues = 16

// listFilter splits a comma-separated query value into distinct, non-empty
// values, refusing more than maxFilterValues (counted before duplicates are
// dropped) with 422 too_many_filter_values.
func listFilter(q url.Values, name string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	n := 0
	for _, v := range strings.Split(q.Get(name), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if n++; n > maxFilterValues {
			return nil, fault.Newf(fault.Unprocessable, "too_many_filter_values", "%s takes at most %d values.", name, maxFilterValues).
				With("parameter", name).With("max_values", maxFilterValues)
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, nil
}
