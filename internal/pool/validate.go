package pool

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Minimums are the count requirements Validate applies. The zero value
// requires nothing (structure and references are still checked).
type Minimums struct {
	Regions            int // regions in total
	Provinces          int // entries of provinces.json
	RegionsPerProvince int // regions of every province in provinces.json
	RegionsPerZone     int // regions of every zone in zones.json
	Zones              int // entries of zones.json
	Elements           int // scene elements
	Categories         int // element categories
	TermsPerList       int // items in each of a region's six term lists
	// PlaceData requires every region to have a climate profile and at
	// least one feature tag, and every element to fit some county.
	PlaceData bool
}

// DefaultMinimums are the requirements of the shipped pool (issue #3): at least
// 150 regions in all 31 mainland provinces, 3 per province, 5 per zone, 60
// elements in 6 categories, 2 terms per list.
func DefaultMinimums() Minimums {
	return Minimums{
		Regions: 150, Provinces: 31, RegionsPerProvince: 3, RegionsPerZone: 5,
		Zones: 5, Elements: 60, Categories: 6, TermsPerList: 2, PlaceData: true,
	}
}

// Validate checks p against data/pool/SCHEMA.md with DefaultMinimums.
func Validate(p *Pool) Problems { return ValidateWith(p, DefaultMinimums()) }

// ValidateFS loads and validates the pool in fsys. It returns the pool when it
// loaded (even if Validate found problems) and every problem found. An I/O
// failure is reported as a single problem with code "io_error".
func ValidateFS(fsys fs.FS, m Minimums) (*Pool, Problems) {
	p, err := Load(fsys)
	if err != nil {
		if ps := ProblemsOf(err); ps != nil {
			return nil, ps
		}
		return nil, Problems{{File: ".", Where: "file", Code: "io_error", Message: err.Error()}}
	}
	return p, ValidateWith(p, m)
}

// ValidateDir is ValidateFS over a directory on disk with DefaultMinimums:
// what `ludeng pool validate DIR` runs.
func ValidateDir(dir string) (*Pool, Problems) {
	if _, err := os.Stat(dir); err != nil {
		return nil, Problems{{File: dir, Where: "file", Code: "io_error", Message: err.Error()}}
	}
	return ValidateFS(os.DirFS(dir), DefaultMinimums())
}

var (
	slugRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	codeRE   = regexp.MustCompile(`^[0-9]{6}$`)
	pinyinRE = regexp.MustCompile(`^\p{Lu}[\p{Ll}\p{Mn}'’-]*( \p{Lu}[\p{Ll}\p{Mn}'’-]*)*$`)
)

// China's extent, to catch swapped or mistyped bounding boxes.
const (
	chinaMinLat, chinaMaxLat = 3.0, 54.0
	chinaMinLon, chinaMaxLon = 73.0, 136.0
)

// checker accumulates problems.
type checker struct {
	m  Minimums
	ps Problems
	// goodBBox holds the provinces whose bbox can judge coordinates.
	goodBBox map[string]bool
}

func (c *checker) add(file, where, code, format string, args ...any) {
	c.ps = append(c.ps, Problem{File: file, Where: where, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) text(file, where string, zh, en string) {
	if strings.TrimSpace(zh) == "" {
		c.add(file, where+".zh", "required", "must not be empty")
	}
	if strings.TrimSpace(en) == "" {
		c.add(file, where+".en", "required", "must not be empty")
	}
}

func (c *checker) required(file, where, v string) {
	if strings.TrimSpace(v) == "" {
		c.add(file, where, "required", "must not be empty")
	}
}

func (c *checker) pinyin(file, where, v string) {
	switch {
	case strings.TrimSpace(v) == "":
		c.add(file, where, "required", "must not be empty")
	case !pinyinRE.MatchString(v):
		c.add(file, where, "bad_pinyin", "%q is not Hanyu Pinyin with one capitalised word per syllable group (\"Xindu Qu\")", v)
	}
}

func (c *checker) atLeast(file, where string, n, min int, what string) {
	if n < min {
		c.add(file, where, "too_few", "%s, at least %d required", plural(n, what), min)
	}
}

// ids tracks the first position of each id in a list; label names an item by
// id when it is well formed and first, by position otherwise.
type ids struct {
	coll  string
	first map[string]string // id -> label of first occurrence
}

func newIDs(coll string) *ids { return &ids{coll: coll, first: map[string]string{}} }

// see registers item i with id and returns its label and, for a repeated id,
// the label of the first occurrence.
func (s *ids) see(i int, id string, wellFormed bool) (label, dupOf string) {
	pos := fmt.Sprintf("%s[%d]", s.coll, i)
	if !wellFormed {
		return pos, ""
	}
	if f, ok := s.first[id]; ok {
		return pos, f
	}
	label = s.coll + "[" + id + "]"
	s.first[id] = label
	return label, ""
}

// slug checks item i's id: a well-formed slug seen for the first time. It
// returns the item's label and whether the id may be indexed.
func (c *checker) slug(file string, seen *ids, i int, id string) (label string, fresh bool) {
	ok := slugRE.MatchString(id)
	w, dup := seen.see(i, id, ok)
	switch {
	case !ok:
		c.add(file, w+".id", "bad_slug", "id %q is not a slug [a-z][a-z0-9_]*", id)
	case dup != "":
		c.add(file, w, "duplicate_id", "duplicate id %q (first at %s)", id, dup)
	default:
		return w, true
	}
	return w, false
}

// ValidateWith checks p against data/pool/SCHEMA.md with the given minimums.
// Each problem names its file and place; see Problem. The result is
// deterministic: files in the order zones, provinces, regions (by file),
// seasons, roads, elements; findings within a file in item order.
func ValidateWith(p *Pool, m Minimums) Problems {
	c := &checker{m: m, goodBBox: map[string]bool{}}

	zones := c.zones(p)
	provinces := c.provinces(p)
	c.regions(p, zones, provinces)
	snowy := c.seasons(p, zones)
	roads := c.roads(p)
	c.elements(p, zones, roads, snowy)
	c.place(p, provinces, zones, roads, snowy)

	rank := func(file string) int {
		switch {
		case file == FileZones:
			return 0
		case file == FileProvinces:
			return 1
		case strings.HasPrefix(file, DirRegions+"/"):
			return 2
		case file == FileSeasons:
			return 3
		case file == FileRoads:
			return 4
		case file == FileElements:
			return 5
		case file == FileTags:
			return 6
		case file == FileClimates:
			return 7
		}
		return 8
	}
	slices.SortStableFunc(c.ps, func(a, b Problem) int {
		if r := cmp.Compare(rank(a.File), rank(b.File)); r != 0 {
			return r
		}
		return cmp.Compare(a.File, b.File)
	})
	return c.ps
}

func (c *checker) zones(p *Pool) map[string]*Zone {
	f := FileZones
	known := map[string]*Zone{}
	seen := newIDs("zones")
	for i := range p.Zones {
		z := &p.Zones[i]
		w, fresh := c.slug(f, seen, i, z.ID)
		if fresh {
			known[z.ID] = z
		}
		c.required(f, w+".zh", z.ZH)
		c.required(f, w+".en", z.EN)
		c.required(f, w+".description", z.Description)
	}
	c.atLeast(f, "zones", len(p.Zones), c.m.Zones, "zone")
	return known
}

func (c *checker) provinces(p *Pool) map[string]*Province {
	f := FileProvinces
	known := map[string]*Province{}
	seen := newIDs("provinces")
	for i := range p.Provinces {
		pr := &p.Provinces[i]
		ok := codeRE.MatchString(pr.Code) && strings.HasSuffix(pr.Code, "0000") && pr.Code != "000000"
		w, dup := seen.see(i, pr.Code, ok)
		switch {
		case !ok:
			c.add(f, w+".code", "bad_code", "code %q is not a province code (2 digits + \"0000\")", pr.Code)
		case dup != "":
			c.add(f, w, "duplicate_id", "duplicate code %s (first at %s)", pr.Code, dup)
		default:
			known[pr.Code] = pr
		}
		c.required(f, w+".name", pr.Name)
		c.required(f, w+".short", pr.Short)
		c.pinyin(f, w+".pinyin", pr.Pinyin)
		b := pr.BBox
		switch {
		case b.MinLat >= b.MaxLat || b.MinLon >= b.MaxLon:
			c.add(f, w+".bbox", "bad_bbox", "min_lat must be below max_lat and min_lon below max_lon")
		case b.MinLat < chinaMinLat || b.MaxLat > chinaMaxLat || b.MinLon < chinaMinLon || b.MaxLon > chinaMaxLon:
			c.add(f, w+".bbox", "bad_bbox", "box reaches outside China (lat %.0f..%.0f, lon %.0f..%.0f)",
				chinaMinLat, chinaMaxLat, chinaMinLon, chinaMaxLon)
		default:
			c.goodBBox[pr.Code] = true
		}
	}
	c.atLeast(f, "provinces", len(p.Provinces), c.m.Provinces, "province")
	return known
}

func (c *checker) regions(p *Pool, zones map[string]*Zone, provinces map[string]*Province) {
	for _, rf := range p.regionFiles {
		want := strings.TrimSuffix(strings.TrimPrefix(rf.name, DirRegions+"/"), ".json") + "0000"
		switch {
		case rf.provinceCode != want:
			c.add(rf.name, "province_code", "bad_prefix", "province_code %q does not match the file name (want %q)", rf.provinceCode, want)
		case provinces[rf.provinceCode] == nil:
			c.add(rf.name, "province_code", "unknown_province", "no province %s in %s", rf.provinceCode, FileProvinces)
		}
	}

	type firstAt struct{ file, label string }
	codes := map[string]firstAt{}
	var aliasCodes []struct {
		file, where, code, owner string
	}
	prefectures := map[string]Prefecture{}
	prefectureAt := map[string]string{}
	perProvince := map[string]int{}
	perZone := map[string]int{}
	index := map[string]int{} // position within the file

	for ri := range p.Regions {
		r := &p.Regions[ri]
		f := r.fileName()
		i := index[f]
		index[f]++

		okCode := codeRE.MatchString(r.Code) && !strings.HasSuffix(r.Code, "00")
		w := fmt.Sprintf("regions[%d]", i)
		switch first, dup := codes[r.Code]; {
		case !codeRE.MatchString(r.Code):
			c.add(f, w+".code", "bad_code", "code %q is not 6 digits", r.Code)
		case !okCode:
			c.add(f, w+".code", "bad_code", "code %s is not a county-level code (it ends in 00)", r.Code)
		case dup:
			c.add(f, w, "duplicate_id", "duplicate code %s (first at %s %s)", r.Code, first.file, first.label)
			okCode = false
		default:
			w = "regions[" + r.Code + "]"
			codes[r.Code] = firstAt{f, w}
		}

		var prov *Province
		if okCode {
			filePrefix := strings.TrimSuffix(strings.TrimPrefix(f, DirRegions+"/"), ".json")
			prov = provinces[r.ProvinceCode()]
			switch {
			case r.file != "" && r.Code[:2] != filePrefix:
				c.add(f, w+".code", "bad_prefix", "code %s does not start with the province prefix %s of this file", r.Code, filePrefix)
				prov = nil
			case prov == nil:
				c.add(f, w+".code", "unknown_province", "no province %s in %s", r.ProvinceCode(), FileProvinces)
			default:
				perProvince[prov.Code]++
			}
			want := r.Code[:4] + "00"
			prev, seenPref := prefectures[want]
			switch {
			case prov == nil:
				// A wrong or unknown province prefix already explains a
				// wrong prefecture code.
			case r.Prefecture.Code != want:
				c.add(f, w+".prefecture.code", "bad_prefecture", "prefecture code %q must be the first 4 digits of the code + \"00\" (%s)", r.Prefecture.Code, want)
			case seenPref && prev != r.Prefecture:
				c.add(f, w+".prefecture", "inconsistent_prefecture", "prefecture %s is %s %q here but %s %q at %s",
					want, r.Prefecture.Name, r.Prefecture.Pinyin, prev.Name, prev.Pinyin, prefectureAt[want])
			case !seenPref:
				prefectures[want] = r.Prefecture
				prefectureAt[want] = f + " " + w
			}
		}
		c.required(f, w+".name", r.Name)
		c.pinyin(f, w+".pinyin", r.Pinyin)
		c.required(f, w+".prefecture.name", r.Prefecture.Name)
		c.pinyin(f, w+".prefecture.pinyin", r.Prefecture.Pinyin)

		if prov != nil && c.goodBBox[prov.Code] && !prov.BBox.Contains(r.Lat, r.Lon) {
			hint := ""
			if prov.BBox.Contains(r.Lon, r.Lat) {
				hint = " (lat and lon swapped?)"
			}
			c.add(f, w, "outside_bbox", "lat %g, lon %g is outside the bounding box of %s %s%s",
				r.Lat, r.Lon, prov.Code, prov.Name, hint)
		}

		switch {
		case r.Zone == "":
			c.add(f, w+".zone", "required", "must not be empty")
		case zones[r.Zone] == nil:
			c.add(f, w+".zone", "unknown_zone", "unknown zone %q", r.Zone)
		default:
			if okCode {
				perZone[r.Zone]++
			}
		}

		for _, l := range TermLists {
			terms := r.Terms(l)
			lw := w + "." + string(l)
			if len(terms) < c.m.TermsPerList {
				c.add(f, lw, "too_few_terms", "%s, at least %d required", plural(len(terms), "item"), c.m.TermsPerList)
			}
			seenZH := map[string]int{}
			for j, t := range terms {
				tw := fmt.Sprintf("%s[%d]", lw, j)
				c.text(f, tw, t.ZH, t.EN)
				if k, ok := seenZH[t.ZH]; ok && t.ZH != "" {
					c.add(f, tw, "duplicate_term", "duplicate term %q (also at %s[%d])", t.ZH, lw, k)
				} else {
					seenZH[t.ZH] = j
				}
				switch {
				case l == ListCrops && t.Kind == "":
					c.add(f, tw+".kind", "required", "crops need a kind (%s)", strings.Join(CropKinds, ", "))
				case l == ListCrops && !slices.Contains(CropKinds, t.Kind):
					c.add(f, tw+".kind", "unknown_crop_kind", "unknown crop kind %q (known: %s)", t.Kind, strings.Join(CropKinds, ", "))
				case l != ListCrops && t.Kind != "":
					c.add(f, tw+".kind", "bad_kind", "kind is only allowed on crops")
				}
			}
		}

		aliasNames := map[string]bool{}
		for j, a := range r.Aliases {
			aw := fmt.Sprintf("%s.aliases[%d]", w, j)
			c.required(f, aw+".name", a.Name)
			if a.Name != "" && a.Name == r.Name {
				c.add(f, aw+".name", "bad_alias", "alias %q is the current name", a.Name)
			}
			if aliasNames[a.Name] && a.Name != "" {
				c.add(f, aw+".name", "bad_alias", "duplicate alias %q", a.Name)
			}
			aliasNames[a.Name] = true
			if a.Pinyin != "" {
				c.pinyin(f, aw+".pinyin", a.Pinyin)
			}
			if a.Code != "" {
				if !codeRE.MatchString(a.Code) {
					c.add(f, aw+".code", "bad_code", "code %q is not 6 digits", a.Code)
				} else {
					aliasCodes = append(aliasCodes, struct{ file, where, code, owner string }{f, aw + ".code", a.Code, r.Code})
				}
			}
		}
	}

	// An old code must not be the current code of another region: Resolve
	// and Search would then be ambiguous between "is" and "was".
	for _, a := range aliasCodes {
		if first, ok := codes[a.code]; ok && a.code != a.owner {
			c.add(a.file, a.where, "bad_alias", "old code %s is the current code of %s %s", a.code, first.file, first.label)
		}
	}

	c.atLeast(DirRegions+"/*.json", "regions", len(p.Regions), c.m.Regions, "region")
	for i := range p.Provinces {
		pr := &p.Provinces[i]
		if provinces[pr.Code] != pr {
			continue
		}
		c.atLeast(DirRegions+"/"+pr.Prefix()+".json", "regions", perProvince[pr.Code], c.m.RegionsPerProvince, "region")
	}
	for i := range p.Zones {
		z := &p.Zones[i]
		if zones[z.ID] != z {
			continue
		}
		c.atLeast(FileZones, "zones["+z.ID+"]", perZone[z.ID], c.m.RegionsPerZone, "region")
	}
}

// seasons checks the season table and returns the snow-covered zone/months.
func (c *checker) seasons(p *Pool, zones map[string]*Zone) map[zoneMonth]bool {
	f := FileSeasons
	seen := map[zoneMonth]string{}
	snowy := map[zoneMonth]bool{}
	for i := range p.Seasons {
		s := &p.Seasons[i]
		key := zoneMonth{s.Zone, s.Month}
		okKey := zones[s.Zone] != nil && s.Month >= 1 && s.Month <= 12
		w := fmt.Sprintf("seasons[%d]", i)
		if okKey {
			if first, dup := seen[key]; dup {
				c.add(f, w, "duplicate_season", "duplicate entry for zone %s month %d (first at %s)", s.Zone, s.Month, first)
				okKey = false
			} else {
				w = fmt.Sprintf("seasons[%s/%d]", s.Zone, s.Month)
				seen[key] = w
				snowy[key] = s.SnowCover
			}
		}
		switch {
		case s.Zone == "":
			c.add(f, w+".zone", "required", "must not be empty")
		case zones[s.Zone] == nil:
			c.add(f, w+".zone", "unknown_zone", "unknown zone %q", s.Zone)
		}
		if s.Month < 1 || s.Month > 12 {
			c.add(f, w+".month", "bad_month", "month %d is not 1..12", s.Month)
		}
		if !slices.Contains(SeasonNames, s.Season) {
			c.add(f, w+".season", "bad_season", "season %q is not one of %s", s.Season, strings.Join(SeasonNames, ", "))
		}
		c.text(f, w+".crop_state", s.CropState.ZH, s.CropState.EN)
		c.text(f, w+".plant_state", s.PlantState.ZH, s.PlantState.EN)
		c.text(f, w+".climate", s.Climate.ZH, s.Climate.EN)
		for _, k := range sortedKeys(s.CropStates) {
			if !slices.Contains(CropKinds, k) {
				c.add(f, w+".crop_states."+k, "unknown_crop_kind", "unknown crop kind %q (known: %s)", k, strings.Join(CropKinds, ", "))
			}
			t := s.CropStates[k]
			c.text(f, w+".crop_states."+k, t.ZH, t.EN)
		}
		for _, k := range RequiredCropStates {
			if _, ok := s.CropStates[k]; !ok {
				c.add(f, w+".crop_states", "missing_crop_state", "no state for crop kind %q (required: %s)", k, strings.Join(RequiredCropStates, ", "))
			}
		}
	}
	for i := range p.Zones {
		z := &p.Zones[i]
		if zones[z.ID] != z {
			continue
		}
		var missing []string
		snowMonths := 0
		for m := 1; m <= 12; m++ {
			k := zoneMonth{z.ID, m}
			if _, ok := seen[k]; !ok {
				missing = append(missing, strconv.Itoa(m))
			}
			if snowy[k] {
				snowMonths++
			}
		}
		if len(missing) > 0 {
			c.add(f, "seasons", "missing_season", "zone %s has no entry for month %s", z.ID, strings.Join(missing, ", "))
			continue
		}
		// A cold zone may have no snow-covered month (dry plateau and desert
		// winters); a snow-covered month in a zone that is not cold is a
		// contradiction.
		if !z.Cold && snowMonths > 0 {
			c.add(f, "seasons", "snow_mismatch", "zone %s is not cold but has snow_cover in %s (set cold in %s or clear snow_cover)",
				z.ID, plural(snowMonths, "month"), FileZones)
		}
	}
	return snowy
}

type zoneMonth struct {
	zone  string
	month int
}

func (c *checker) roads(p *Pool) map[string]*Road {
	f := FileRoads
	known := map[string]*Road{}
	seen := newIDs("roads")
	for i := range p.Roads {
		r := &p.Roads[i]
		w, fresh := c.slug(f, seen, i, r.ID)
		switch {
		case !fresh:
		case !slices.Contains(RoadIDs, r.ID):
			c.add(f, w+".id", "unknown_road", "road %q is not one of %s", r.ID, strings.Join(RoadIDs, ", "))
		default:
			known[r.ID] = r
		}
		c.required(f, w+".zh", r.ZH)
		c.required(f, w+".en", r.EN)
		c.text(f, w+".description", r.Description.ZH, r.Description.EN)
	}
	for _, id := range RoadIDs {
		if known[id] == nil {
			c.add(f, "roads", "missing_road", "road %q is missing", id)
		}
	}
	return known
}

func (c *checker) elements(p *Pool, zones map[string]*Zone, roads map[string]*Road, snowy map[zoneMonth]bool) {
	f := FileElements
	cats := map[string]*Category{}
	seenCat := newIDs("categories")
	for i := range p.Categories {
		ct := &p.Categories[i]
		w, fresh := c.slug(f, seenCat, i, ct.ID)
		if fresh {
			cats[ct.ID] = ct
		}
		c.required(f, w+".zh", ct.ZH)
		c.required(f, w+".en", ct.EN)
	}
	c.atLeast(f, "categories", len(p.Categories), c.m.Categories, "category")

	used := map[string]bool{}
	seen := newIDs("elements")
	for i := range p.Elements {
		e := &p.Elements[i]
		w, _ := c.slug(f, seen, i, e.ID)
		switch {
		case e.Category == "":
			c.add(f, w+".category", "required", "must not be empty")
		case cats[e.Category] == nil:
			c.add(f, w+".category", "unknown_category", "unknown category %q", e.Category)
		default:
			used[e.Category] = true
		}
		c.required(f, w+".zh", e.ZH)
		c.required(f, w+".en", e.EN)

		fitOK := true
		fz := map[string]bool{}
		for j, z := range e.Fit.Zones {
			fw := fmt.Sprintf("%s.fit.zones[%d]", w, j)
			switch {
			case zones[z] == nil:
				c.add(f, fw, "unknown_zone", "unknown zone %q", z)
				fitOK = false
			case fz[z]:
				c.add(f, fw, "duplicate_value", "zone %q listed twice", z)
			}
			fz[z] = true
		}
		fm := map[int]bool{}
		for j, m := range e.Fit.Months {
			fw := fmt.Sprintf("%s.fit.months[%d]", w, j)
			switch {
			case m < 1 || m > 12:
				c.add(f, fw, "bad_month", "month %d is not 1..12", m)
				fitOK = false
			case fm[m]:
				c.add(f, fw, "duplicate_value", "month %d listed twice", m)
			}
			fm[m] = true
		}
		fr := map[string]bool{}
		for j, r := range e.Fit.Roads {
			fw := fmt.Sprintf("%s.fit.roads[%d]", w, j)
			switch {
			case roads[r] == nil:
				c.add(f, fw, "unknown_road", "unknown road %q", r)
				fitOK = false
			case fr[r]:
				c.add(f, fw, "duplicate_value", "road %q listed twice", r)
			}
			fr[r] = true
		}
		if fitOK && len(zones) > 0 && len(roads) > 0 && !fitsSomewhere(e.Fit, zones, snowy) {
			c.add(f, w+".fit", "fit_never", "the element fits no zone × month (check zones, months and not_snow)")
		}
	}
	c.atLeast(f, "elements", len(p.Elements), c.m.Elements, "element")
	for i := range p.Categories {
		ct := &p.Categories[i]
		if cats[ct.ID] == ct && !used[ct.ID] {
			c.add(f, "categories["+ct.ID+"]", "empty_category", "no element uses this category")
		}
	}
}

func fitsSomewhere(fit Fit, zones map[string]*Zone, snowy map[zoneMonth]bool) bool {
	zs := fit.Zones
	if len(zs) == 0 {
		zs = sortedKeys(zones)
	}
	ms := fit.Months
	if len(ms) == 0 {
		ms = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	}
	for _, z := range zs {
		for _, m := range ms {
			if !fit.NotSnow || !snowy[zoneMonth{z, m}] {
				return true
			}
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// plural formats "1 region", "3 regions", "2 categories".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		word = strings.TrimSuffix(word, "y") + "ies"
	} else {
		word += "s"
	}
	return fmt.Sprintf("%d %s", n, word)
}
