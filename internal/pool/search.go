package pool

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
)

// Match is one Search result.
type Match struct {
	Region *Region `json:"region"`
	// Field says what matched best: "code", "old_code", "name", "alias",
	// "prefecture" or "province".
	Field string `json:"field"`
	// Text is the Chinese name of what matched (also for a pinyin match:
	// "xingtai" gives Field "alias", Text "邢台县"), or the code for code
	// matches ("130521").
	Text string `json:"text"`
	// Rank orders results: lower is better (0 = exact current code).
	Rank int `json:"rank"`
}

// Search ranks (lower is better). A query of several tokens sums its tokens'
// ranks.
const (
	rankCode          = 0  // the current code
	rankOldCode       = 1  // an alias's old code
	rankNameExact     = 2  // the county name / pinyin
	rankAliasExact    = 3  // an alias name / pinyin
	rankNamePrefix    = 4  // start of the county name / pinyin
	rankAliasPrefix   = 5  // start of an alias
	rankNameInside    = 6  // inside the county name / at a later pinyin word
	rankAliasInside   = 7  // inside an alias
	rankPrefecture    = 8  // the prefecture's name or pinyin
	rankProvince      = 9  // the province's name, short name or pinyin
	rankCodePrefix    = 10 // a prefix of the current code ("1305")
	noMatch           = -1
	defaultSearchSize = 20
)

// searchField is one searchable name of a region.
type searchField struct {
	field                 string   // "name", "alias", "prefecture", "province"
	text                  string   // as stored, returned in Match.Text
	hanzi                 string   // folded hanzi
	pinyin                []string // normalised pinyin from each word start: "xingtaixian", "xian"
	exact, prefix, inside int
}

type searchEntry struct {
	r      *Region
	fields []searchField
}

func (s *Snapshot) buildSearch() {
	for _, r := range s.regions {
		e := searchEntry{r: r}
		add := func(field, text, pinyin string, exact, prefix, inside int) {
			e.fields = append(e.fields, searchField{
				field: field, text: text, hanzi: fold(text), pinyin: wordStarts(pinyin),
				exact: exact, prefix: prefix, inside: inside,
			})
		}
		add("name", r.Name, r.Pinyin, rankNameExact, rankNamePrefix, rankNameInside)
		for _, a := range r.Aliases {
			add("alias", a.Name, a.Pinyin, rankAliasExact, rankAliasPrefix, rankAliasInside)
		}
		add("prefecture", r.Prefecture.Name, r.Prefecture.Pinyin, rankPrefecture, rankPrefecture, rankPrefecture)
		if p := s.ProvinceOf(r); p != nil {
			add("province", p.Name, p.Pinyin, rankProvince, rankProvince, rankProvince)
			add("province", p.Short, "", rankProvince, rankProvince, rankProvince)
		}
		s.search = append(s.search, e)
		s.indexResolve(r)
	}
}

// Search finds regions by
//   - hanzi: a substring of the county, alias, prefecture or province name
//     ("信都", "邢台县", "河北");
//   - pinyin: case-, space-, apostrophe- and tone-insensitive, matching from
//     the start of a word of the county, alias, prefecture or province pinyin
//     ("xingtai" finds 信都区 through its alias 邢台县 Xingtai Xian; "Xing Tai",
//     "xindu", "lvchun"/"luchun" for Lüchun work too);
//   - digits: the current code, an alias's old code (130521 finds 信都区) or a
//     code prefix ("1305").
//
// Several white-space separated tokens must all match ("河北 桥西"); adjacent
// pinyin tokens are also tried joined ("xing tai"). Results are ordered by
// rank (see Match) then code; limit ≤ 0 means 20. An empty query finds
// nothing.
func (s *Snapshot) Search(q string, limit int) []Match {
	if limit <= 0 {
		limit = defaultSearchSize
	}
	tokens := strings.Fields(fold(q))
	if len(tokens) == 0 {
		return []Match{}
	}
	variants := [][]string{tokens}
	if joined := joinLatinRuns(tokens); len(joined) != len(tokens) {
		variants = append(variants, joined)
	}

	out := []Match{}
	for i := range s.search {
		e := &s.search[i]
		best := Match{Rank: noMatch}
		for _, v := range variants {
			m, ok := e.match(v)
			if ok && (best.Rank == noMatch || m.Rank < best.Rank) {
				best = m
			}
		}
		if best.Rank != noMatch {
			best.Region = e.r
			out = append(out, best)
		}
	}
	slices.SortFunc(out, func(a, b Match) int {
		if c := cmp.Compare(a.Rank, b.Rank); c != 0 {
			return c
		}
		return cmp.Compare(a.Region.Code, b.Region.Code)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// match scores all tokens against the entry; every token must match.
func (e *searchEntry) match(tokens []string) (Match, bool) {
	total := 0
	var best Match
	bestRank := noMatch
	for _, t := range tokens {
		m, ok := e.matchToken(t)
		if !ok {
			return Match{}, false
		}
		total += m.Rank
		if bestRank == noMatch || m.Rank < bestRank {
			bestRank = m.Rank
			best = m
		}
	}
	best.Rank = total
	return best, true
}

func (e *searchEntry) matchToken(t string) (Match, bool) {
	best := Match{Rank: noMatch}
	try := func(rank int, field, text string) {
		if best.Rank == noMatch || rank < best.Rank {
			best = Match{Field: field, Text: text, Rank: rank}
		}
	}
	switch {
	case isDigits(t):
		r := e.r
		switch {
		case t == r.Code:
			try(rankCode, "code", r.Code)
		case len(t) < len(r.Code) && strings.HasPrefix(r.Code, t):
			try(rankCodePrefix, "code", r.Code)
		}
		for _, a := range r.Aliases {
			if a.Code != "" && t == a.Code {
				try(rankOldCode, "old_code", a.Code)
			}
		}
	case isLatin(t):
		p := normPinyin(t)
		if p == "" {
			break
		}
		for _, f := range e.fields {
			for i, w := range f.pinyin {
				switch {
				case i == 0 && w == p:
					try(f.exact, f.field, f.text)
				case i == 0 && strings.HasPrefix(w, p):
					try(f.prefix, f.field, f.text)
				case strings.HasPrefix(w, p):
					try(f.inside, f.field, f.text)
				}
			}
		}
	default:
		for _, f := range e.fields {
			switch {
			case f.hanzi == "":
			case f.hanzi == t:
				try(f.exact, f.field, f.text)
			case strings.HasPrefix(f.hanzi, t):
				try(f.prefix, f.field, f.text)
			case strings.Contains(f.hanzi, t):
				try(f.inside, f.field, f.text)
			}
		}
	}
	return best, best.Rank != noMatch
}

// Resolve turns what a user typed in manual mode into candidate regions,
// sorted by code:
//   - a current code (130503) or an old code (130521 → 信都区);
//   - an exact county or alias name, in hanzi or pinyin, optionally preceded
//     by the province and/or prefecture ("邢台县", "河北 邢台县", "河北省邢台市信都区",
//     "Xingtai Xian", "hebei xingtaixian");
//   - failing that, the same without the 县/区/市/旗… suffix ("信都", "hebei xingtai").
//
// An ambiguous name returns every candidate (桥西区 is in several
// prefectures); nothing matching returns an empty slice.
func (s *Snapshot) Resolve(q string) []*Region {
	k := trimAll(fold(q))
	if k == "" {
		return []*Region{}
	}
	if isDigits(k) {
		if r := s.byCode[k]; r != nil {
			return []*Region{r}
		}
		return append([]*Region{}, s.byOldCode[k]...)
	}
	key := k
	if isLatin(k) {
		key = "py:" + normPinyin(k)
	}
	if rs := s.resolveKeys[key]; len(rs) > 0 {
		return slices.Clone(rs)
	}
	return append([]*Region{}, s.resolveStem[key]...)
}

// indexResolve adds the exact keys (province? prefecture? name) of r.
func (s *Snapshot) indexResolve(r *Region) {
	var provH, provP []string
	provH, provP = []string{""}, []string{""}
	if p := s.ProvinceOf(r); p != nil {
		provH = append(provH, fold(p.Name), fold(p.Short))
		provP = append(provP, normPinyin(p.Pinyin))
	}
	prefH := []string{"", fold(r.Prefecture.Name)}
	if n := strings.TrimSuffix(r.Prefecture.Name, "市"); n != r.Prefecture.Name && n != "" && r.Prefecture.Name != "市辖区" {
		prefH = append(prefH, fold(n))
	}
	prefP := []string{"", normPinyin(r.Prefecture.Pinyin)}
	if n := stemPinyin(r.Prefecture.Pinyin); n != "" {
		prefP = append(prefP, n)
	}

	names := []string{fold(r.Name)}
	pinyins := []string{normPinyin(r.Pinyin)}
	stems := []string{stemHanzi(fold(r.Name))}
	stemsP := []string{stemPinyin(r.Pinyin)}
	for _, a := range r.Aliases {
		names = append(names, fold(a.Name))
		stems = append(stems, stemHanzi(fold(a.Name)))
		if a.Pinyin != "" {
			pinyins = append(pinyins, normPinyin(a.Pinyin))
			stemsP = append(stemsP, stemPinyin(a.Pinyin))
		}
	}
	put := func(m map[string][]*Region, key string) {
		if !slices.Contains(m[key], r) {
			m[key] = append(m[key], r) // regions arrive in code order
		}
	}
	for _, p := range provH {
		for _, f := range prefH {
			for _, n := range names {
				put(s.resolveKeys, p+f+n)
			}
			for _, n := range stems {
				if n != "" {
					put(s.resolveStem, p+f+n)
				}
			}
		}
	}
	for _, p := range provP {
		for _, f := range prefP {
			for _, n := range pinyins {
				if n != "" {
					put(s.resolveKeys, "py:"+p+f+n)
				}
			}
			for _, n := range stemsP {
				if n != "" {
					put(s.resolveStem, "py:"+p+f+n)
				}
			}
		}
	}
}

// County-level name suffixes, longest first.
var hanziSuffixes = []string{"自治县", "自治旗", "特区", "林区", "县", "区", "市", "旗"}

var pinyinSuffixes = []string{"zizhixian", "zizhiqi", "tequ", "linqu", "xian", "qu", "shi", "qi"}

// stemHanzi strips a county-level suffix ("信都区" → "信都"), or returns "" when
// nothing (or nothing but the suffix) would remain.
func stemHanzi(name string) string {
	for _, suf := range hanziSuffixes {
		if n := strings.TrimSuffix(name, suf); n != name {
			if n == "" {
				return ""
			}
			return n
		}
	}
	return ""
}

// stemPinyin drops a trailing suffix word ("Xindu Qu" → "xindu").
func stemPinyin(p string) string {
	words := strings.Fields(p)
	if len(words) < 2 {
		return ""
	}
	if last := normPinyin(words[len(words)-1]); slices.Contains(pinyinSuffixes, last) {
		return normPinyin(strings.Join(words[:len(words)-1], ""))
	}
	return ""
}

// wordStarts returns the normalised pinyin from each word start:
// "Xingtai Xian" → ["xingtaixian", "xian"].
func wordStarts(p string) []string {
	words := strings.Fields(p)
	var out []string
	for i := range words {
		if n := normPinyin(strings.Join(words[i:], "")); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// fold maps full-width ASCII and the ideographic space to ASCII and
// lower-cases: what users type in a Chinese IME still matches.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\u3000':
			return ' '
		case r >= '\uFF01' && r <= '\uFF5E':
			r -= 0xFEE0
		}
		return unicode.ToLower(r)
	}, s)
}

// toneless maps toned vowels and ü (and v, its keyboard spelling) to plain letters.
var toneless = map[rune]rune{
	'ā': 'a', 'á': 'a', 'ǎ': 'a', 'à': 'a',
	'ē': 'e', 'é': 'e', 'ě': 'e', 'è': 'e', 'ê': 'e',
	'ī': 'i', 'í': 'i', 'ǐ': 'i', 'ì': 'i',
	'ō': 'o', 'ó': 'o', 'ǒ': 'o', 'ò': 'o',
	'ū': 'u', 'ú': 'u', 'ǔ': 'u', 'ù': 'u',
	'ü': 'u', 'ǖ': 'u', 'ǘ': 'u', 'ǚ': 'u', 'ǜ': 'u', 'v': 'u',
}

// normPinyin lower-cases and drops everything but letters, folding tones and
// ü: "Xi'an Shi" → "xianshi", "Lüchun" → "luchun".
func normPinyin(s string) string {
	var b strings.Builder
	for _, r := range fold(s) {
		if t, ok := toneless[r]; ok {
			r = t
		}
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isLatin reports whether s is pinyin-like: Latin letters, tone marks,
// apostrophes and hyphens, with at least one letter.
func isLatin(s string) bool {
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case toneless[unicode.ToLower(r)] != 0:
			letter = true
		case r == '\'' || r == '’' || r == '-':
		default:
			return false
		}
	}
	return letter
}

// joinLatinRuns joins adjacent pinyin tokens: ["河北", "xing", "tai"] →
// ["河北", "xingtai"].
func joinLatinRuns(tokens []string) []string {
	var out []string
	for i, t := range tokens {
		if i > 0 && isLatin(t) && isLatin(tokens[i-1]) {
			out[len(out)-1] += t
			continue
		}
		out = append(out, t)
	}
	return out
}

// trimAll removes all white space.
func trimAll(s string) string {
	return strings.Join(strings.Fields(s), "")
}
