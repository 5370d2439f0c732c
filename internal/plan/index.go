package plan

import (
	"slices"

	"github.com/ludeng/ludeng/internal/pool"
)

// index is the planner's integer view of one pool snapshot. Everything is in
// a fixed order (codes and ids sorted, or file order where the pool defines
// one), so that a seeded search never depends on map iteration order.
type index struct {
	snap *pool.Snapshot

	regions    []*pool.Region // by code
	regionIdx  map[string]int
	regionProv []int // province index of each region
	regionZone []int // zone index of each region
	// clim[region][month] is the county's climate that month; hyperArid
	// marks counties whose profile is hyper-arid.
	clim      [][13]pool.ClimateMonth
	hyperArid []bool

	provinces  []string // province codes, sorted
	provIdx    map[string]int
	provRegion [][]int // region indexes of each province, by code

	zones   []string // zone ids in file order
	zoneIdx map[string]int
	// season[zone][month] is the season index (see seasonNames), snow[zone][month] the snow cover.
	season [][13]int
	snow   [][13]bool

	roads   []string // road ids in file order
	roadIdx map[string]int

	elements []*pool.Element // file order
	elemIdx  map[string]int
	elemCat  []int
	// elemWeight favours elements whose fit is specific to a place or
	// time: they show the region and season better than a generic one.
	elemWeight []int

	categories []string // file order
	catIdx     map[string]int

	// fit[(region*13+month)*len(roads)+road] lists the element indexes that
	// fit, with every place rule applied (tags, provinces, the county's
	// climate, the road being plausible in the county).
	fit [][]int
}

var seasonNames = pool.SeasonNames // spring, summer, autumn, winter

func newIndex(s *pool.Snapshot) *index {
	x := &index{
		snap:      s,
		regionIdx: map[string]int{},
		provIdx:   map[string]int{},
		zoneIdx:   map[string]int{},
		roadIdx:   map[string]int{},
		elemIdx:   map[string]int{},
		catIdx:    map[string]int{},
	}
	for _, z := range s.Zones() {
		x.zoneIdx[z.ID] = len(x.zones)
		x.zones = append(x.zones, z.ID)
	}
	x.season = make([][13]int, len(x.zones))
	x.snow = make([][13]bool, len(x.zones))
	for zi, z := range x.zones {
		for m := 1; m <= 12; m++ {
			se, err := s.Season(z, m)
			if err != nil {
				// NewSnapshot guarantees every zone × month.
				continue
			}
			x.season[zi][m] = max(0, slices.Index(seasonNames, se.Season))
			x.snow[zi][m] = se.SnowCover
		}
	}
	for _, p := range s.Provinces() {
		x.provinces = append(x.provinces, p.Code)
	}
	slices.Sort(x.provinces)
	x.provRegion = make([][]int, len(x.provinces))
	for i, p := range x.provinces {
		x.provIdx[p] = i
	}
	for _, r := range s.Regions() { // sorted by code
		i := len(x.regions)
		x.regions = append(x.regions, r)
		x.regionIdx[r.Code] = i
		pi := x.provIdx[r.ProvinceCode()]
		x.regionProv = append(x.regionProv, pi)
		x.regionZone = append(x.regionZone, x.zoneIdx[r.Zone])
		x.provRegion[pi] = append(x.provRegion[pi], i)
		var cm [13]pool.ClimateMonth
		for m := 1; m <= 12; m++ {
			cm[m] = s.ClimateAt(r, m)
		}
		x.clim = append(x.clim, cm)
		x.hyperArid = append(x.hyperArid, s.HyperArid(r))
	}
	for _, r := range s.Roads() {
		x.roadIdx[r.ID] = len(x.roads)
		x.roads = append(x.roads, r.ID)
	}
	for _, c := range s.Categories() {
		x.catIdx[c.ID] = len(x.categories)
		x.categories = append(x.categories, c.ID)
	}
	for _, e := range s.Elements() {
		x.elemIdx[e.ID] = len(x.elements)
		x.elements = append(x.elements, e)
		x.elemCat = append(x.elemCat, x.catIdx[e.Category])
		w := 1
		if len(e.Fit.Zones)+len(e.Fit.Tags)+len(e.Fit.Provinces)+len(e.Fit.Prefectures) > 0 {
			w++
		}
		if len(e.Fit.Months) > 0 {
			w++
		}
		x.elemWeight = append(x.elemWeight, w)
	}
	// x.regions and x.roads are in the snapshot's Regions() and Roads()
	// order, so its fit tables index them directly.
	x.fit = make([][]int, len(x.regions)*13*len(x.roads))
	for ei, e := range x.elements {
		t := s.RegionFit(e.ID)
		for gi := range x.regions {
			for m := 1; m <= 12; m++ {
				mask := t[gi*13+m]
				for di := range x.roads {
					if mask&(1<<di) != 0 {
						slot := x.fitSlot(gi, m, di)
						x.fit[slot] = append(x.fit[slot], ei)
					}
				}
			}
		}
	}
	return x
}

func (x *index) fitSlot(region, month, road int) int {
	return (region*13+month)*len(x.roads) + road
}

// climateOf is the climate of a pool county in month m (zero when unknown).
func (x *index) climateOf(code string, m int) (pool.ClimateMonth, bool) {
	ri, ok := x.regionIdx[code]
	if !ok || m < 1 || m > 12 {
		return pool.ClimateMonth{}, false
	}
	return x.clim[ri][m], x.hyperArid[ri]
}

// seasonOf returns the season index of a county code and month: from the
// season table for a county of the pool, from the northern calendar otherwise
// (a history entry may name a county a later pool dropped).
func (x *index) seasonOf(county string, month int) int {
	if ri, ok := x.regionIdx[county]; ok && month >= 1 && month <= 12 {
		return x.season[x.regionZone[ri]][month]
	}
	return calendarSeason(month)
}

func calendarSeason(month int) int {
	switch month {
	case 3, 4, 5:
		return 0
	case 6, 7, 8:
		return 1
	case 9, 10, 11:
		return 2
	}
	return 3
}
