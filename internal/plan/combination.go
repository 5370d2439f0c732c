package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
)

// KeyVersion prefixes every key string. Bump it (and migrate history) only if
// the canonical form below changes; pool label edits never change keys.
const KeyVersion = "v1"

// Dimensions is the number of dimensions of a combination and of
// leave-one-out keys.
const Dimensions = 4

// Dimension names one of the four dimensions, in key order.
type Dimension int

// The four dimensions, in the order of the key string's fields.
const (
	DimRegion Dimension = iota
	DimMonth
	DimRoad
	DimElements
)

// String is the dimension's stable name: region, month, road, elements.
func (d Dimension) String() string {
	switch d {
	case DimRegion:
		return "region"
	case DimMonth:
		return "month"
	case DimRoad:
		return "road"
	case DimElements:
		return "elements"
	}
	return "dimension(" + strconv.Itoa(int(d)) + ")"
}

// Combination is what one group of images shows: a county in a month on a
// road surface with some scene elements. Elements are element ids, sorted and
// unique in canonical form (Canonical). ProvinceCode is derived from
// CountyCode (its first two digits + "0000") and is carried for readers of the
// plan JSON; it is not part of the key.
type Combination struct {
	CountyCode   string   `json:"county_code"`
	ProvinceCode string   `json:"province_code"`
	Month        int      `json:"month"`
	Road         string   `json:"road"`
	Elements     []string `json:"elements"`
}

var (
	countyCodeRE = regexp.MustCompile(`^[0-9]{6}$`)
	slugRE       = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// ErrBadCombination is returned by Combination.Validate.
var ErrBadCombination = fault.New(fault.Invalid, "plan_bad_combination", "The combination is malformed.")

// Canonical returns a copy with sorted, de-duplicated elements and the
// province code derived from the county code.
func (c Combination) Canonical() Combination {
	els := slices.Clone(c.Elements)
	slices.Sort(els)
	c.Elements = slices.Compact(els)
	if c.Elements == nil {
		c.Elements = []string{}
	}
	if len(c.CountyCode) >= 2 {
		c.ProvinceCode = c.CountyCode[:2] + "0000"
	}
	return c
}

// Validate checks the shape of every field, which is what makes the key
// encoding injective: a county code is 6 digits, the month 1..12, road and
// element ids are slugs [a-z][a-z0-9_]* (so none contains the separators "|"
// and "+" or the wildcard "*"). It does not consult the pool.
func (c Combination) Validate() error {
	bad := func(field, detail string, v any) error {
		return ErrBadCombination.With("field", field).With("value", v).Wrap(fmt.Errorf("%s: %s", field, detail))
	}
	if !countyCodeRE.MatchString(c.CountyCode) {
		return bad("county_code", "must be 6 digits", c.CountyCode)
	}
	if c.Month < 1 || c.Month > 12 {
		return bad("month", "must be 1..12", c.Month)
	}
	if !slugRE.MatchString(c.Road) {
		return bad("road", "must be a slug", c.Road)
	}
	for _, e := range c.Elements {
		if !slugRE.MatchString(e) {
			return bad("elements", "each element must be a slug", e)
		}
	}
	return nil
}

// fields returns the four canonical key fields.
func (c Combination) fields() [Dimensions]string {
	if !slices.IsSorted(c.Elements) || len(slices.Compact(slices.Clone(c.Elements))) != len(c.Elements) {
		c = c.Canonical()
	}
	month := strconv.Itoa(c.Month)
	if c.Month >= 0 && c.Month < 10 {
		month = "0" + month
	}
	return [Dimensions]string{c.CountyCode, month, c.Road, strings.Join(c.Elements, "+")}
}

// keys returns Key and LOOKeys from one canonicalisation.
func (c Combination) keys() (string, [Dimensions]string) {
	f := c.fields()
	key := hashHex(KeyVersion + "|" + strings.Join(f[:], "|"))
	var loo [Dimensions]string
	for d := range Dimensions {
		g := f
		g[d] = "*"
		loo[d] = hashHex(KeyVersion + "|" + strings.Join(g[:], "|"))
	}
	return key, loo
}

// KeyString is the canonical key string
// "v1|<county code>|<MM>|<road>|<element+element…>", e.g.
// "v1|130503|07|dirt|tricycle". Elements are sorted; no elements is "".
func (c Combination) KeyString() string {
	f := c.fields()
	return KeyVersion + "|" + strings.Join(f[:], "|")
}

// LOOKeyString is the key string with dimension d replaced by "*".
func (c Combination) LOOKeyString(d Dimension) string {
	f := c.fields()
	f[d] = "*"
	return KeyVersion + "|" + strings.Join(f[:], "|")
}

// Key is the hex SHA-256 of KeyString.
func (c Combination) Key() string { return hashHex(c.KeyString()) }

// LOOKeys are the hex SHA-256 of the four leave-one-out key strings, in
// dimension order (region, month, road, elements).
//
// Two combinations differ in at most one dimension if and only if they share
// a leave-one-out key: if they differ at most in dimension d, the strings
// with d replaced by "*" are equal; conversely equal strings with "*" at
// position d agree on the three other fields (the encoding is injective,
// see Validate, and "*" never occurs as a field value, so a "*" at position d
// can only equal a "*" at position d). A shared hash therefore means a shared
// string, barring a SHA-256 collision.
func (c Combination) LOOKeys() [Dimensions]string {
	_, loo := c.keys()
	return loo
}

// Equal reports whether the canonical forms are equal.
func (c Combination) Equal(o Combination) bool { return c.KeyString() == o.KeyString() }

// DiffDims lists the dimensions in which c and o differ (canonical forms).
func (c Combination) DiffDims(o Combination) []Dimension {
	a, b := c.fields(), o.fields()
	var out []Dimension
	for d := range Dimensions {
		if a[d] != b[d] {
			out = append(out, Dimension(d))
		}
	}
	return out
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
