// Package pool is ludeng's element pool: the regions (real Chinese counties),
// climate zones, the month × zone season table, road surfaces and scene
// elements from which the planner builds combinations and the prompt builder
// builds scenes.
//
// The pool is data (data/pool/*.json, format in data/pool/SCHEMA.md). This
// package parses it strictly (Load, Decode), checks it (Validate), hashes its
// content (Pool.ComputeVersion), writes it back in the same layout (WriteDir)
// and serves it from an immutable in-memory Snapshot with fast lookups and
// search. A Holder keeps the current Snapshot and swaps it atomically when a
// new version is loaded.
//
// Ids never change when labels are edited: regions are keyed by their current
// 6-digit GB/T 2260 code, everything else by an ASCII slug. Users' history
// keys depend on them.
package pool

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Text is a bilingual phrase: zh is shown in the UI, en reads naturally inside
// an English image prompt.
type Text struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// Term is one item of a region's terrain, crops, plants, architecture, water
// or landmarks lists. Kind is set on crops only (one of CropKinds); it selects
// the crop state in the season table.
type Term struct {
	ZH   string `json:"zh"`
	EN   string `json:"en"`
	Kind string `json:"kind,omitempty"`
}

// Zone is a climate zone. Cold zones get snow cover in their winter months.
type Zone struct {
	ID          string `json:"id"`
	ZH          string `json:"zh"`
	EN          string `json:"en"`
	Description string `json:"description"`
	Cold        bool   `json:"cold"`
}

// BBox is a generous bounding box in decimal degrees.
type BBox struct {
	MinLat float64 `json:"min_lat"`
	MaxLat float64 `json:"max_lat"`
	MinLon float64 `json:"min_lon"`
	MaxLon float64 `json:"max_lon"`
}

// Contains reports whether the point lies inside the box (edges included).
func (b BBox) Contains(lat, lon float64) bool {
	return lat >= b.MinLat && lat <= b.MaxLat && lon >= b.MinLon && lon <= b.MaxLon
}

// Province is a province-level division, keyed by its 6-digit code ("130000").
type Province struct {
	Code   string `json:"code"`
	Name   string `json:"name"`  // official name, "河北省"
	Short  string `json:"short"` // "河北"
	Pinyin string `json:"pinyin"`
	BBox   BBox   `json:"bbox"`
	// EN is the English name where it differs from the pinyin ("Tibet",
	// "Inner Mongolia").
	EN string `json:"en,omitempty"`
}

// Prefix is the 2-digit prefix shared by the province's county codes.
func (p *Province) Prefix() string { return prefix2(p.Code) }

// Prefecture is the prefecture-level division a county belongs to.
type Prefecture struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Pinyin string `json:"pinyin"`
	// EN is the English name where one is established ("Shigatse").
	EN string `json:"en,omitempty"`
}

// Alias is a former name and/or code of a renamed or merged county
// (邢台县 130521 is now 信都区 130503). Only Name is required.
type Alias struct {
	Name   string `json:"name"`
	Pinyin string `json:"pinyin,omitempty"`
	Code   string `json:"code,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Region is a county-level division: the place a scene is set in.
type Region struct {
	Code         string     `json:"code"`
	Name         string     `json:"name"`
	Pinyin       string     `json:"pinyin"`
	Prefecture   Prefecture `json:"prefecture"`
	Lat          float64    `json:"lat"`
	Lon          float64    `json:"lon"`
	Zone         string     `json:"zone"`
	Terrain      []Term     `json:"terrain"`
	Crops        []Term     `json:"crops"`
	Plants       []Term     `json:"plants"`
	Architecture []Term     `json:"architecture"`
	Water        []Term     `json:"water"`
	Landmarks    []Term     `json:"landmarks"`
	Aliases      []Alias    `json:"aliases,omitempty"`
	// EN is the English place name where one is established ("Turpan",
	// "Shigatse"); prompts use it instead of the pinyin.
	EN string `json:"en,omitempty"`
	// Tags are feature tags from tags.json (desert, tea, tibetan…) that
	// element and road fit rules can require or forbid.
	Tags []string `json:"tags,omitempty"`
	// Climate is the id of the region's monthly climate profile in
	// climates.json; it decides snow cover and the weather of the variants.
	Climate string `json:"climate,omitempty"`

	// file is the pool file of the region: where Load found it, otherwise
	// regions/<code prefix>.json (set by Decode and PutRegion, derived when
	// empty), so a region read from files and the same region read from a
	// stored document compare equal.
	file string
}

// ProvinceCode is the 6-digit code of the region's province ("130000").
func (r *Region) ProvinceCode() string { return prefix2(r.Code) + "0000" }

// TermList names one of the six term lists of a region.
type TermList string

// The six term lists, in file order.
const (
	ListTerrain      TermList = "terrain"
	ListCrops        TermList = "crops"
	ListPlants       TermList = "plants"
	ListArchitecture TermList = "architecture"
	ListWater        TermList = "water"
	ListLandmarks    TermList = "landmarks"
)

// TermLists is the six lists in file order.
var TermLists = []TermList{ListTerrain, ListCrops, ListPlants, ListArchitecture, ListWater, ListLandmarks}

// Terms returns one of the region's term lists (nil for an unknown name).
func (r *Region) Terms(l TermList) []Term {
	switch l {
	case ListTerrain:
		return r.Terrain
	case ListCrops:
		return r.Crops
	case ListPlants:
		return r.Plants
	case ListArchitecture:
		return r.Architecture
	case ListWater:
		return r.Water
	case ListLandmarks:
		return r.Landmarks
	}
	return nil
}

// CropKinds are the allowed crops[].kind values; the season table describes
// the state of each kind per month.
var CropKinds = []string{"grain", "oil", "vegetable", "fruit", "tea", "fibre", "sugar", "tuber", "forage", "other"}

// RequiredCropStates are the kinds every season entry must describe.
var RequiredCropStates = []string{"grain", "vegetable", "fruit"}

// SeasonNames are the allowed Season.Season values (local phenological season).
var SeasonNames = []string{"spring", "summer", "autumn", "winter"}

// Season is one cell of the month × zone table.
type Season struct {
	Zone       string          `json:"zone"`
	Month      int             `json:"month"`
	Season     string          `json:"season"`
	CropState  Text            `json:"crop_state"`
	CropStates map[string]Text `json:"crop_states"`
	PlantState Text            `json:"plant_state"`
	Climate    Text            `json:"climate"`
	// SnowCover means the ground is normally snow-covered that month; it
	// selects the winter variant set (snow instead of rain).
	SnowCover bool `json:"snow_cover"`
}

// CropStateFor returns the crop state for a crop kind, falling back to the
// general CropState when the kind has no entry.
func (s *Season) CropStateFor(kind string) Text {
	if t, ok := s.CropStates[kind]; ok {
		return t
	}
	return s.CropState
}

// RoadIDs is the fixed set of road surface ids, in display order.
var RoadIDs = []string{"dirt", "cement", "asphalt", "flagstone"}

// Road is a road surface.
type Road struct {
	ID          string `json:"id"`
	ZH          string `json:"zh"`
	EN          string `json:"en"`
	Description Text   `json:"description"`
	// Fit says in which counties the surface is plausible (a flagstone lane
	// needs an old town or local quarried stone).
	Fit *RoadFit `json:"fit,omitempty"`
}

// RoadFit restricts a road surface to counties by tag.
type RoadFit struct {
	// Tags: the county must have at least one of them. NotTags: none.
	Tags    []string `json:"tags,omitempty"`
	NotTags []string `json:"not_tags,omitempty"`
}

// Tag is one feature tag of the documented vocabulary (tags.json).
type Tag struct {
	ID    string `json:"id"`
	Group string `json:"group"`
	ZH    string `json:"zh"`
	EN    string `json:"en"`
	// Rule says when a county gets the tag; Source where that is checked.
	Rule   string `json:"rule"`
	Source string `json:"source"`
}

// TagGroups are the allowed Tag.Group values.
var TagGroups = []string{"landscape", "water", "farming", "livestock", "settlement", "people"}

// Temperature bands of a month's mean air temperature (°C), coldest first.
const (
	TempSevere   = "severe"   // below −10
	TempFreezing = "freezing" // −10 to 0
	TempCold     = "cold"     // 0 to 8
	TempCool     = "cool"     // 8 to 16
	TempMild     = "mild"     // 16 to 22
	TempWarm     = "warm"     // 22 to 26
	TempHot      = "hot"      // 26 and above
)

// TempBands lists the temperature bands, coldest first.
var TempBands = []string{TempSevere, TempFreezing, TempCold, TempCool, TempMild, TempWarm, TempHot}

// Precipitation classes of a month's mean total (mm), driest first.
const (
	PrecipArid     = "arid"     // below 5
	PrecipDry      = "dry"      // 5 to 25
	PrecipModerate = "moderate" // 25 to 75
	PrecipWet      = "wet"      // 75 to 150
	PrecipVeryWet  = "very_wet" // 150 and above
)

// PrecipClasses lists the precipitation classes, driest first.
var PrecipClasses = []string{PrecipArid, PrecipDry, PrecipModerate, PrecipWet, PrecipVeryWet}

// ClimateMonth is one month of a climate profile.
type ClimateMonth struct {
	Temp   string `json:"temp"`
	Precip string `json:"precip"`
	// Snow means snow normally lies on open ground in the settled valley or
	// plain for most of the month (not just on the peaks).
	Snow bool `json:"snow"`
}

// Freezing reports a monthly mean below 0 °C: precipitation falls as snow
// and it never rains.
func (m ClimateMonth) Freezing() bool { return m.Temp == TempSevere || m.Temp == TempFreezing }

// Climate is a monthly climate profile shared by counties with the same
// climate (a reference station's 1991–2020 normals, in bands).
type Climate struct {
	ID string `json:"id"`
	ZH string `json:"zh"`
	EN string `json:"en"`
	// Station is the reference station the bands are read from.
	Station string `json:"station"`
	Source  string `json:"source"`
	// HyperArid marks deserts where drizzle is not a plausible weather in
	// any month (annual precipitation well under 100 mm).
	HyperArid bool           `json:"hyper_arid,omitempty"`
	Months    []ClimateMonth `json:"months"` // January first, exactly 12
}

// Month returns the climate of month m (1..12); the zero value when out of
// range.
func (c *Climate) Month(m int) ClimateMonth {
	if m < 1 || m > len(c.Months) {
		return ClimateMonth{}
	}
	return c.Months[m-1]
}

// Category groups scene elements (people, vehicles, animals…).
type Category struct {
	ID string `json:"id"`
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// Fit says where and when a scene element fits. An empty list means "any".
// Zones, months and roads are coarse; tags, provinces and prefectures pin an
// element to the places where it is really seen (camels need a desert, not
// just a temperate zone). Snow cover is judged per county and month from the
// region's climate profile.
type Fit struct {
	// Zones, Months and Roads are encoded as [] when empty (MarshalJSON).
	Zones  []string `json:"zones" nonnull:""`
	Months []int    `json:"months" nonnull:""`
	Roads  []string `json:"roads" nonnull:""`
	// NotSnow excludes months when snow lies in the county.
	NotSnow bool `json:"not_snow"`
	// Snow admits only months when snow lies in the county (a sleigh).
	Snow bool `json:"snow,omitempty"`
	// Tags: the county must have at least one of them. NotTags: none.
	Tags    []string `json:"tags,omitempty"`
	NotTags []string `json:"not_tags,omitempty"`
	// Provinces and prefectures are 6-digit codes ("650000", "652900").
	Provinces      []string `json:"provinces,omitempty"`
	NotProvinces   []string `json:"not_provinces,omitempty"`
	Prefectures    []string `json:"prefectures,omitempty"`
	NotPrefectures []string `json:"not_prefectures,omitempty"`
	// Temps lists the monthly mean temperature bands the element needs
	// (TempBands); empty means any.
	Temps []string `json:"temps,omitempty"`
}

// MarshalJSON writes empty lists as [] so that an omitted list and an empty
// one have the same canonical form (and the same Version).
func (f Fit) MarshalJSON() ([]byte, error) {
	type plain Fit
	q := plain(f)
	if q.Zones == nil {
		q.Zones = []string{}
	}
	if q.Months == nil {
		q.Months = []int{}
	}
	if q.Roads == nil {
		q.Roads = []string{}
	}
	return json.Marshal(q)
}

// Element is a scene element (a tricycle, ox ploughing, villagers chatting…).
type Element struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	ZH       string `json:"zh"`
	EN       string `json:"en"`
	Fit      Fit    `json:"fit"`
}

// Pool is the whole element pool as loaded from data files or decoded from a
// stored document. It is a plain value: build a Snapshot to query it, Clone it
// before editing a copy that others may hold.
type Pool struct {
	// Version is the content hash (see ComputeVersion). Load and Decode set it.
	Version    string     `json:"version,omitempty"`
	Zones      []Zone     `json:"zones"`
	Provinces  []Province `json:"provinces"`
	Regions    []Region   `json:"regions"` // grouped by province, in file order
	Seasons    []Season   `json:"seasons"`
	Roads      []Road     `json:"roads"`
	Categories []Category `json:"categories"`
	Elements   []Element  `json:"elements"`
	Tags       []Tag      `json:"tags,omitempty"`
	Climates   []Climate  `json:"climates,omitempty"`

	// regionFiles records each regions/NN.json file Load read and its
	// province_code, so Validate can check the file header too.
	regionFiles []regionFile
}

type regionFile struct {
	name         string // "regions/13.json"
	provinceCode string
}

// Counts is the size of a pool, printed by `ludeng pool validate`.
type Counts struct {
	Zones      int `json:"zones"`
	Provinces  int `json:"provinces"`
	Regions    int `json:"regions"`
	Aliases    int `json:"aliases"`
	Seasons    int `json:"seasons"`
	Roads      int `json:"roads"`
	Categories int `json:"categories"`
	Elements   int `json:"elements"`
	Tags       int `json:"tags"`
	Climates   int `json:"climates"`
}

// Counts returns the number of entries of each kind.
func (p *Pool) Counts() Counts {
	c := Counts{
		Zones: len(p.Zones), Provinces: len(p.Provinces), Regions: len(p.Regions),
		Seasons: len(p.Seasons), Roads: len(p.Roads), Categories: len(p.Categories),
		Elements: len(p.Elements), Tags: len(p.Tags), Climates: len(p.Climates),
	}
	for i := range p.Regions {
		c.Aliases += len(p.Regions[i].Aliases)
	}
	return c
}

// String is the one-line summary, e.g.
// "152 regions (9 aliases) in 31 provinces; 8 zones × 12 months = 96 seasons; 4 roads; 64 elements in 7 categories".
func (c Counts) String() string {
	months := 0
	if c.Zones > 0 {
		months = c.Seasons / c.Zones
	}
	s := fmt.Sprintf("%d regions (%d aliases) in %d provinces; %d zones × %d months = %d seasons; %d roads; %d elements in %d categories",
		c.Regions, c.Aliases, c.Provinces, c.Zones, months, c.Seasons, c.Roads, c.Elements, c.Categories)
	if c.Tags+c.Climates > 0 {
		s += fmt.Sprintf("; %d tags; %d climate profiles", c.Tags, c.Climates)
	}
	return s
}

// Encode returns the pool as one compact canonical JSON document (with its
// Version), suitable for storing a pool version in a database. Decode reads it
// back.
func (p *Pool) Encode() ([]byte, error) {
	return canonicalJSON(p)
}

// ComputeVersion returns the content hash of the pool: the hex SHA-256 of its
// canonical JSON without the Version field. Key order and whitespace of the
// source files do not matter; the order of list items does (it is visible in
// the UI and in seeded plans). Call it after editing a pool:
// p.Version = p.ComputeVersion().
func (p *Pool) ComputeVersion() string {
	q := *p
	q.Version = ""
	b, err := canonicalJSON(&q)
	if err != nil {
		// Every field of Pool is a string, number, bool, slice, map with
		// string keys or struct of those, so Marshal cannot fail.
		panic(fmt.Sprintf("pool: canonical JSON: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Clone returns a deep copy of the pool.
func (p *Pool) Clone() *Pool {
	q := &Pool{
		Version:     p.Version,
		Zones:       slices.Clone(p.Zones),
		Provinces:   slices.Clone(p.Provinces),
		Regions:     make([]Region, len(p.Regions)),
		Seasons:     make([]Season, len(p.Seasons)),
		Roads:       slices.Clone(p.Roads),
		Categories:  slices.Clone(p.Categories),
		Elements:    make([]Element, len(p.Elements)),
		Tags:        slices.Clone(p.Tags),
		Climates:    make([]Climate, len(p.Climates)),
		regionFiles: slices.Clone(p.regionFiles),
	}
	if p.Climates == nil {
		q.Climates = nil
	}
	for i, c := range p.Climates {
		c.Months = slices.Clone(c.Months)
		q.Climates[i] = c
	}
	for i, r := range p.Roads {
		if r.Fit != nil {
			f := *r.Fit
			f.Tags, f.NotTags = slices.Clone(f.Tags), slices.Clone(f.NotTags)
			q.Roads[i].Fit = &f
		}
	}
	for i, r := range p.Regions {
		r.Terrain = slices.Clone(r.Terrain)
		r.Crops = slices.Clone(r.Crops)
		r.Plants = slices.Clone(r.Plants)
		r.Architecture = slices.Clone(r.Architecture)
		r.Water = slices.Clone(r.Water)
		r.Landmarks = slices.Clone(r.Landmarks)
		r.Aliases = slices.Clone(r.Aliases)
		r.Tags = slices.Clone(r.Tags)
		q.Regions[i] = r
	}
	for i, s := range p.Seasons {
		if s.CropStates != nil {
			m := make(map[string]Text, len(s.CropStates))
			for k, v := range s.CropStates {
				m[k] = v
			}
			s.CropStates = m
		}
		q.Seasons[i] = s
	}
	for i, e := range p.Elements {
		e.Fit.Zones = slices.Clone(e.Fit.Zones)
		e.Fit.Months = slices.Clone(e.Fit.Months)
		e.Fit.Roads = slices.Clone(e.Fit.Roads)
		e.Fit.Tags = slices.Clone(e.Fit.Tags)
		e.Fit.NotTags = slices.Clone(e.Fit.NotTags)
		e.Fit.Provinces = slices.Clone(e.Fit.Provinces)
		e.Fit.NotProvinces = slices.Clone(e.Fit.NotProvinces)
		e.Fit.Prefectures = slices.Clone(e.Fit.Prefectures)
		e.Fit.NotPrefectures = slices.Clone(e.Fit.NotPrefectures)
		e.Fit.Temps = slices.Clone(e.Fit.Temps)
		q.Elements[i] = e
	}
	return q
}

// PutRegion replaces the region with r.Code, or inserts r after the last
// region of its province (keeping regions grouped by province file). It
// reports whether r was inserted. It does not validate or update Version.
func (p *Pool) PutRegion(r Region) (inserted bool) {
	r.file = ""
	for i := range p.Regions {
		if p.Regions[i].Code == r.Code {
			r.file = p.Regions[i].file
			p.Regions[i] = r
			return false
		}
	}
	pre := prefix2(r.Code)
	at := len(p.Regions)
	for i := range p.Regions {
		q := prefix2(p.Regions[i].Code)
		if q == pre {
			at = i + 1
		} else if q > pre && at == len(p.Regions) {
			at = i
			break
		}
	}
	r.file = r.fileName()
	p.Regions = slices.Insert(p.Regions, at, r)
	return true
}

// DeleteRegion removes the region with the code and reports whether it existed.
func (p *Pool) DeleteRegion(code string) bool {
	n := len(p.Regions)
	p.Regions = slices.DeleteFunc(p.Regions, func(r Region) bool { return r.Code == code })
	return len(p.Regions) != n
}

// PutElement replaces the element with e.ID or appends e, reporting whether it
// was appended. It does not validate or update Version.
func (p *Pool) PutElement(e Element) (inserted bool) {
	for i := range p.Elements {
		if p.Elements[i].ID == e.ID {
			p.Elements[i] = e
			return false
		}
	}
	p.Elements = append(p.Elements, e)
	return true
}

// DeleteElement removes the element with the id and reports whether it existed.
func (p *Pool) DeleteElement(id string) bool {
	n := len(p.Elements)
	p.Elements = slices.DeleteFunc(p.Elements, func(e Element) bool { return e.ID == id })
	return len(p.Elements) != n
}

// regionFileName is the file a region belongs in: where Load found it, or
// regions/<2-digit prefix>.json.
func (r *Region) fileName() string {
	if r.file != "" {
		return r.file
	}
	return "regions/" + prefix2(r.Code) + ".json"
}

func prefix2(code string) string {
	if len(code) < 2 {
		return strings.Repeat("?", 2-len(code)) + code
	}
	return code[:2]
}
