package pool

import (
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/ludeng/ludeng/internal/fault"
)

// Lookup errors. Compare with errors.Is; the returned copies carry the asked
// value as a param.
var (
	ErrRegionNotFound   = fault.New(fault.NotFound, "pool_region_not_found", "No region has this code.")
	ErrProvinceNotFound = fault.New(fault.NotFound, "pool_province_not_found", "No province has this code.")
	ErrZoneNotFound     = fault.New(fault.NotFound, "pool_zone_not_found", "No climate zone has this id.")
	ErrSeasonNotFound   = fault.New(fault.NotFound, "pool_season_not_found", "No season entry for this zone and month.")
	ErrRoadNotFound     = fault.New(fault.NotFound, "pool_road_not_found", "No road surface has this id.")
	ErrCategoryNotFound = fault.New(fault.NotFound, "pool_category_not_found", "No element category has this id.")
	ErrElementNotFound  = fault.New(fault.NotFound, "pool_element_not_found", "No scene element has this id.")

	// Filter errors: a query parameter names something that does not exist.
	ErrUnknownZone = fault.New(fault.Invalid, "pool_unknown_zone", "Unknown climate zone.")
	ErrUnknownRoad = fault.New(fault.Invalid, "pool_unknown_road", "Unknown road surface.")
	ErrBadMonth    = fault.New(fault.Invalid, "pool_bad_month", "Month must be between 1 and 12.")
)

// Snapshot is an immutable, indexed view of one pool version. All methods are
// safe for concurrent use. Returned pointers and slices share the snapshot's
// data: treat them as read-only (slices are fresh copies, the values they
// point to are not).
type Snapshot struct {
	pool *Pool

	zones      []*Zone
	zoneByID   map[string]*Zone
	zoneIndex  map[string]int
	provinces  []*Province
	provByCode map[string]*Province
	regions    []*Region // by code
	byCode     map[string]*Region
	byOldCode  map[string][]*Region
	byProvince map[string][]*Region // province code -> regions by code
	seasons    []*Season            // zone order, then month
	season     map[zoneMonth]*Season
	roads      []*Road
	roadByID   map[string]*Road
	roadIndex  map[string]int
	categories []*Category
	catByID    map[string]*Category
	elements   []*Element
	elemByID   map[string]*Element
	// fit[element id][zoneIndex*13+month] is a bit mask of road indexes.
	fit map[string][]uint64
	// regionFit[element id][regionIndex*13+month] is a bit mask of road
	// indexes, with every place rule applied.
	regionFit   map[string][]uint64
	regionIndex map[string]int // code -> index in regions
	regionClim  [][13]ClimateMonth
	climByID    map[string]*Climate
	tagByID     map[string]*Tag

	search      []searchEntry
	resolveKeys map[string][]*Region
	resolveStem map[string][]*Region
}

// NewSnapshot indexes a deep copy of p. The pool must be structurally valid
// (Validate with zero Minimums: unique ids, resolvable references); otherwise
// the error is ErrInvalid carrying the Problems. Count minimums are not
// applied here: whether a pool is complete enough to ship is Validate's call.
// The snapshot's Version is recomputed from the content.
func NewSnapshot(p *Pool) (*Snapshot, error) {
	if ps := ValidateWith(p, Minimums{}); len(ps) > 0 {
		return nil, ps.Err()
	}
	p = p.Clone()
	p.Version = p.ComputeVersion()
	s := &Snapshot{
		pool:        p,
		zoneByID:    map[string]*Zone{},
		zoneIndex:   map[string]int{},
		provByCode:  map[string]*Province{},
		byCode:      map[string]*Region{},
		byOldCode:   map[string][]*Region{},
		byProvince:  map[string][]*Region{},
		season:      map[zoneMonth]*Season{},
		roadByID:    map[string]*Road{},
		roadIndex:   map[string]int{},
		catByID:     map[string]*Category{},
		elemByID:    map[string]*Element{},
		fit:         map[string][]uint64{},
		regionFit:   map[string][]uint64{},
		regionIndex: map[string]int{},
		climByID:    map[string]*Climate{},
		tagByID:     map[string]*Tag{},
		resolveKeys: map[string][]*Region{},
		resolveStem: map[string][]*Region{},
	}
	for i := range p.Zones {
		z := &p.Zones[i]
		s.zones = append(s.zones, z)
		s.zoneByID[z.ID] = z
		s.zoneIndex[z.ID] = i
	}
	for i := range p.Provinces {
		pr := &p.Provinces[i]
		s.provinces = append(s.provinces, pr)
		s.provByCode[pr.Code] = pr
	}
	for i := range p.Regions {
		r := &p.Regions[i]
		s.regions = append(s.regions, r)
		s.byCode[r.Code] = r
		s.byProvince[r.ProvinceCode()] = append(s.byProvince[r.ProvinceCode()], r)
		for _, a := range r.Aliases {
			if a.Code != "" && !slices.Contains(s.byOldCode[a.Code], r) {
				s.byOldCode[a.Code] = append(s.byOldCode[a.Code], r)
			}
		}
	}
	byCodeOrder := func(a, b *Region) int { return cmp.Compare(a.Code, b.Code) }
	slices.SortFunc(s.regions, byCodeOrder)
	for _, rs := range s.byProvince {
		slices.SortFunc(rs, byCodeOrder)
	}
	for _, rs := range s.byOldCode {
		slices.SortFunc(rs, byCodeOrder)
	}
	for i := range p.Seasons {
		se := &p.Seasons[i]
		s.season[zoneMonth{se.Zone, se.Month}] = se
	}
	for _, z := range s.zones {
		for m := 1; m <= 12; m++ {
			s.seasons = append(s.seasons, s.season[zoneMonth{z.ID, m}])
		}
	}
	for i := range p.Roads {
		r := &p.Roads[i]
		s.roads = append(s.roads, r)
		s.roadByID[r.ID] = r
		s.roadIndex[r.ID] = i
	}
	for i := range p.Categories {
		c := &p.Categories[i]
		s.categories = append(s.categories, c)
		s.catByID[c.ID] = c
	}
	for i := range p.Climates {
		s.climByID[p.Climates[i].ID] = &p.Climates[i]
	}
	for i := range p.Tags {
		s.tagByID[p.Tags[i].ID] = &p.Tags[i]
	}
	for i, r := range s.regions {
		s.regionIndex[r.Code] = i
		var cm [13]ClimateMonth
		for m := 1; m <= 12; m++ {
			cm[m] = s.ClimateAt(r, m)
		}
		s.regionClim = append(s.regionClim, cm)
	}
	for i := range p.Elements {
		e := &p.Elements[i]
		s.elements = append(s.elements, e)
		s.elemByID[e.ID] = e
		s.fit[e.ID] = s.fitTable(e.Fit)
		s.regionFit[e.ID] = s.regionFitTable(e)
	}
	s.buildSearch()
	return s, nil
}

// fitTable expands a fit rule into zone × month → road mask.
func (s *Snapshot) fitTable(f Fit) []uint64 {
	t := make([]uint64, len(s.zones)*13)
	var roads uint64
	for i, r := range s.roads {
		if len(f.Roads) == 0 || slices.Contains(f.Roads, r.ID) {
			roads |= 1 << i
		}
	}
	for zi, z := range s.zones {
		if len(f.Zones) > 0 && !slices.Contains(f.Zones, z.ID) {
			continue
		}
		for m := 1; m <= 12; m++ {
			if len(f.Months) > 0 && !slices.Contains(f.Months, m) {
				continue
			}
			if f.NotSnow && s.season[zoneMonth{z.ID, m}].SnowCover {
				continue
			}
			t[zi*13+m] = roads
		}
	}
	return t
}

// Version is the content hash of the snapshot's pool.
func (s *Snapshot) Version() string { return s.pool.Version }

// Pool returns the snapshot's pool (read-only; Clone it to edit).
func (s *Snapshot) Pool() *Pool { return s.pool }

// Counts returns the number of entries of each kind.
func (s *Snapshot) Counts() Counts { return s.pool.Counts() }

// Zones returns the climate zones in file order.
func (s *Snapshot) Zones() []*Zone { return slices.Clone(s.zones) }

// Zone returns the zone with the id or ErrZoneNotFound.
func (s *Snapshot) Zone(id string) (*Zone, error) {
	if z := s.zoneByID[id]; z != nil {
		return z, nil
	}
	return nil, ErrZoneNotFound.With("zone", id)
}

// Provinces returns the provinces in file order.
func (s *Snapshot) Provinces() []*Province { return slices.Clone(s.provinces) }

// Province returns the province by its 6-digit ("130000") or 2-digit ("13")
// code, or ErrProvinceNotFound.
func (s *Snapshot) Province(code string) (*Province, error) {
	if len(code) == 2 {
		code += "0000"
	}
	if p := s.provByCode[code]; p != nil {
		return p, nil
	}
	return nil, ErrProvinceNotFound.With("code", code)
}

// ProvinceOf returns the province a region belongs to.
func (s *Snapshot) ProvinceOf(r *Region) *Province { return s.provByCode[r.ProvinceCode()] }

// ByProvince returns the regions of a province (6- or 2-digit code) sorted by
// code, or ErrProvinceNotFound. A known province without regions yields an
// empty list.
func (s *Snapshot) ByProvince(code string) ([]*Region, error) {
	p, err := s.Province(code)
	if err != nil {
		return nil, err
	}
	return slices.Clone(s.byProvince[p.Code]), nil
}

// CountyCount is the number of regions of a province (0 if unknown).
func (s *Snapshot) CountyCount(provinceCode string) int {
	if len(provinceCode) == 2 {
		provinceCode += "0000"
	}
	return len(s.byProvince[provinceCode])
}

// Regions returns all regions sorted by code.
func (s *Snapshot) Regions() []*Region { return slices.Clone(s.regions) }

// Region returns the region with the current code, or ErrRegionNotFound.
// Old codes are not accepted here; use Resolve.
func (s *Snapshot) Region(code string) (*Region, error) {
	if r := s.byCode[code]; r != nil {
		return r, nil
	}
	return nil, ErrRegionNotFound.With("code", code)
}

// Season returns the season entry of a zone and month, or ErrSeasonNotFound.
func (s *Snapshot) Season(zone string, month int) (*Season, error) {
	if se := s.season[zoneMonth{zone, month}]; se != nil {
		return se, nil
	}
	return nil, ErrSeasonNotFound.With("zone", zone).With("month", month)
}

// Seasons returns the season entries matching the filters (zone "" and month
// 0 mean any), in zone order then month. An unknown zone is ErrUnknownZone, a
// month outside 0..12 is ErrBadMonth.
func (s *Snapshot) Seasons(zone string, month int) ([]*Season, error) {
	if err := s.checkFilters(zone, month, ""); err != nil {
		return nil, err
	}
	out := []*Season{}
	for _, se := range s.seasons {
		if (zone == "" || se.Zone == zone) && (month == 0 || se.Month == month) {
			out = append(out, se)
		}
	}
	return out, nil
}

// Roads returns the road surfaces in file order.
func (s *Snapshot) Roads() []*Road { return slices.Clone(s.roads) }

// Road returns the road with the id or ErrRoadNotFound.
func (s *Snapshot) Road(id string) (*Road, error) {
	if r := s.roadByID[id]; r != nil {
		return r, nil
	}
	return nil, ErrRoadNotFound.With("road", id)
}

// Categories returns the element categories in file order.
func (s *Snapshot) Categories() []*Category { return slices.Clone(s.categories) }

// Category returns the category with the id or ErrCategoryNotFound.
func (s *Snapshot) Category(id string) (*Category, error) {
	if c := s.catByID[id]; c != nil {
		return c, nil
	}
	return nil, ErrCategoryNotFound.With("category", id)
}

// Elements returns all scene elements in file order.
func (s *Snapshot) Elements() []*Element { return slices.Clone(s.elements) }

// Element returns the element with the id or ErrElementNotFound.
func (s *Snapshot) Element(id string) (*Element, error) {
	if e := s.elemByID[id]; e != nil {
		return e, nil
	}
	return nil, ErrElementNotFound.With("element", id)
}

// Fits reports whether the element fits the zone, month and road: each listed
// in its fit rule (an empty list admits all) and, with not_snow, the month not
// snow-covered in that zone. It is the coarse zone-level view (for browsing
// the pool); place rules (tags, provinces, county climate) need a county:
// see FitsRegion and Unfit. zone "", month 0 and road "" are wildcards: the
// element must fit for at least one value of each. Unknown ids never fit.
func (s *Snapshot) Fits(elementID, zone string, month int, road string) bool {
	t := s.fit[elementID]
	if t == nil {
		return false
	}
	var roadMask uint64 = ^uint64(0)
	if road != "" {
		ri, ok := s.roadIndex[road]
		if !ok {
			return false
		}
		roadMask = 1 << ri
	}
	zFrom, zTo := 0, len(s.zones)
	if zone != "" {
		zi, ok := s.zoneIndex[zone]
		if !ok {
			return false
		}
		zFrom, zTo = zi, zi+1
	}
	mFrom, mTo := 1, 12
	if month != 0 {
		if month < 1 || month > 12 {
			return false
		}
		mFrom, mTo = month, month
	}
	for zi := zFrom; zi < zTo; zi++ {
		for m := mFrom; m <= mTo; m++ {
			if t[zi*13+m]&roadMask != 0 {
				return true
			}
		}
	}
	return false
}

// ElementsFor returns the elements that fit (see Fits; "", 0 are wildcards),
// in file order. Unknown filters are ErrUnknownZone, ErrBadMonth or
// ErrUnknownRoad, so an API can answer 400 rather than an empty list.
func (s *Snapshot) ElementsFor(zone string, month int, road string) ([]*Element, error) {
	if err := s.checkFilters(zone, month, road); err != nil {
		return nil, err
	}
	out := []*Element{}
	for _, e := range s.elements {
		if s.Fits(e.ID, zone, month, road) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *Snapshot) checkFilters(zone string, month int, road string) error {
	if zone != "" && s.zoneByID[zone] == nil {
		return ErrUnknownZone.With("zone", zone)
	}
	if month < 0 || month > 12 {
		return ErrBadMonth.With("month", month)
	}
	if road != "" && s.roadByID[road] == nil {
		return ErrUnknownRoad.With("road", road)
	}
	return nil
}

// Holder keeps the current snapshot and swaps it atomically on reload;
// readers call Current once per request and use that snapshot throughout.
type Holder struct {
	cur atomic.Pointer[Snapshot]
}

// NewHolder returns a Holder serving s (which must not be nil).
func NewHolder(s *Snapshot) *Holder {
	h := &Holder{}
	h.Swap(s)
	return h
}

// Current returns the snapshot in use (nil only for a zero Holder that was
// never given one; use NewHolder).
func (h *Holder) Current() *Snapshot { return h.cur.Load() }

// Swap installs s and returns the previous snapshot. It panics on nil: a
// holder always has a snapshot.
func (h *Holder) Swap(s *Snapshot) (old *Snapshot) {
	if s == nil {
		panic("pool: Holder.Swap(nil)")
	}
	return h.cur.Swap(s)
}

// CompareAndSwap installs s only if old is still current, so two concurrent
// reloads (SIGHUP and the admin endpoint) cannot install an older version
// over a newer one.
func (h *Holder) CompareAndSwap(old, s *Snapshot) bool {
	if s == nil {
		panic("pool: Holder.CompareAndSwap(nil)")
	}
	return h.cur.CompareAndSwap(old, s)
}
