package pool

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Unfit is one fit rule an element (or road) breaks in a place and month.
type Unfit struct {
	// Rule is zone, month, road, snow, no_snow, tag, not_tag, province,
	// prefecture, temp or road_place.
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

var monthNames = [13]string{"", "January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}

// MonthName is the English name of month m (1..12), "" otherwise.
func MonthName(m int) string {
	if m < 1 || m > 12 {
		return ""
	}
	return monthNames[m]
}

// ClimateOf returns the region's climate profile (nil when the region has
// none or it is unknown).
func (s *Snapshot) ClimateOf(r *Region) *Climate { return s.climByID[r.Climate] }

// ClimateAt is the region's climate in month m. A region without a climate
// profile (a pool written before profiles existed) gets its zone's snow
// cover and an unknown temperature and precipitation.
func (s *Snapshot) ClimateAt(r *Region, m int) ClimateMonth {
	if c := s.climByID[r.Climate]; c != nil {
		return c.Month(m)
	}
	se := s.season[zoneMonth{r.Zone, m}]
	return ClimateMonth{Snow: se != nil && se.SnowCover}
}

// HyperArid reports whether the region's climate profile is hyper-arid.
func (s *Snapshot) HyperArid(r *Region) bool {
	c := s.climByID[r.Climate]
	return c != nil && c.HyperArid
}

// HasTag reports whether the region carries the tag.
func (r *Region) HasTag(tag string) bool { return slices.Contains(r.Tags, tag) }

// Unfit lists every fit rule element e breaks in region r in month m on road
// (nil when it fits). The road itself must be plausible in the region too
// (RoadUnfit). Unknown roads or months are reported as such.
func (s *Snapshot) Unfit(e *Element, r *Region, m int, road string) []Unfit {
	return unfitIn(e, r, s.ClimateAt(r, m), m, road)
}

func unfitIn(e *Element, r *Region, cm ClimateMonth, m int, road string) []Unfit {
	var out []Unfit
	f := e.Fit
	add := func(rule, format string, args ...any) {
		out = append(out, Unfit{Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	if len(f.Zones) > 0 && !slices.Contains(f.Zones, r.Zone) {
		add("zone", "%s fits only the %s climate zones; %s is %s", e.ID, strings.Join(f.Zones, ", "), r.Name, r.Zone)
	}
	if len(f.Months) > 0 && !slices.Contains(f.Months, m) {
		ms := slices.Clone(f.Months)
		slices.Sort(ms)
		names := make([]string, len(ms))
		for i, v := range ms {
			names[i] = strconv.Itoa(v)
		}
		add("month", "%s fits only in months %s, not in %s", e.ID, strings.Join(names, ", "), MonthName(m))
	}
	if len(f.Roads) > 0 && !slices.Contains(f.Roads, road) {
		add("road", "%s fits only on %s roads, not on %s", e.ID, strings.Join(f.Roads, ", "), road)
	}
	if f.NotSnow && cm.Snow {
		add("snow", "%s does not fit snow-covered ground, and snow lies in %s in %s", e.ID, r.Name, MonthName(m))
	}
	if f.Snow && !cm.Snow {
		add("no_snow", "%s needs lying snow, and %s has none in %s", e.ID, r.Name, MonthName(m))
	}
	if len(f.Tags) > 0 && !slices.ContainsFunc(f.Tags, r.HasTag) {
		add("tag", "%s needs a county tagged %s; %s is not", e.ID, strings.Join(f.Tags, " or "), r.Name)
	}
	if i := slices.IndexFunc(f.NotTags, r.HasTag); i >= 0 {
		add("not_tag", "%s does not fit a county tagged %s like %s", e.ID, f.NotTags[i], r.Name)
	}
	prov := r.ProvinceCode()
	if len(f.Provinces) > 0 && !slices.Contains(f.Provinces, prov) {
		add("province", "%s fits only in provinces %s; %s is in %s", e.ID, strings.Join(f.Provinces, ", "), r.Name, prov)
	}
	if slices.Contains(f.NotProvinces, prov) {
		add("province", "%s does not fit province %s (%s)", e.ID, prov, r.Name)
	}
	if len(f.Prefectures) > 0 && !slices.Contains(f.Prefectures, r.Prefecture.Code) {
		add("prefecture", "%s fits only in prefectures %s; %s is in %s", e.ID, strings.Join(f.Prefectures, ", "), r.Name, r.Prefecture.Code)
	}
	if slices.Contains(f.NotPrefectures, r.Prefecture.Code) {
		add("prefecture", "%s does not fit prefecture %s (%s)", e.ID, r.Prefecture.Code, r.Name)
	}
	if len(f.Temps) > 0 && cm.Temp != "" && !slices.Contains(f.Temps, cm.Temp) {
		add("temp", "%s needs a %s month; %s in %s is %s", e.ID, strings.Join(f.Temps, " or "), r.Name, MonthName(m), cm.Temp)
	}
	return out
}

// RoadUnfit reports why a road surface is implausible in a region (nil when
// it is plausible or unknown: unknown ids are the caller's check).
func (s *Snapshot) RoadUnfit(road string, r *Region) *Unfit {
	rd := s.roadByID[road]
	if rd == nil {
		return nil
	}
	return roadUnfitIn(rd, r)
}

func roadUnfitIn(rd *Road, r *Region) *Unfit {
	if rd.Fit == nil {
		return nil
	}
	if len(rd.Fit.Tags) > 0 && !slices.ContainsFunc(rd.Fit.Tags, r.HasTag) {
		return &Unfit{Rule: "road_place", Detail: fmt.Sprintf("a %s road needs a county tagged %s; %s is not",
			rd.ID, strings.Join(rd.Fit.Tags, " or "), r.Name)}
	}
	if i := slices.IndexFunc(rd.Fit.NotTags, r.HasTag); i >= 0 {
		return &Unfit{Rule: "road_place", Detail: fmt.Sprintf("a %s road does not fit a county tagged %s like %s",
			rd.ID, rd.Fit.NotTags[i], r.Name)}
	}
	return nil
}

// FitsRegion reports whether the element fits region code in month m on
// road, the road being plausible there too. Unknown ids never fit.
func (s *Snapshot) FitsRegion(elementID, code string, m int, road string) bool {
	t := s.regionFit[elementID]
	ri, okR := s.regionIndex[code]
	rdi, okD := s.roadIndex[road]
	if t == nil || !okR || !okD || m < 1 || m > 12 {
		return false
	}
	return t[ri*13+m]&(1<<rdi) != 0
}

// regionFitTable expands an element's fit into region × month → road mask.
func (s *Snapshot) regionFitTable(e *Element) []uint64 {
	t := make([]uint64, len(s.regions)*13)
	for ri, r := range s.regions {
		for m := 1; m <= 12; m++ {
			cm := s.regionClim[ri][m]
			var mask uint64
			for di, rd := range s.roads {
				if roadFitsIn(rd, r) && fitsIn(e, r, cm, m, rd.ID) {
					mask |= 1 << di
				}
			}
			t[ri*13+m] = mask
		}
	}
	return t
}

// Tags returns the tag vocabulary in file order.
func (s *Snapshot) Tags() []*Tag {
	out := make([]*Tag, len(s.pool.Tags))
	for i := range s.pool.Tags {
		out[i] = &s.pool.Tags[i]
	}
	return out
}

// Tag returns the tag with the id, or nil.
func (s *Snapshot) Tag(id string) *Tag { return s.tagByID[id] }

// fitsIn is unfitIn without the reasons: the allocation-free check the fit
// tables are built with (unfitIn must agree; TestFitsAgreesWithUnfit).
func fitsIn(e *Element, r *Region, cm ClimateMonth, m int, road string) bool {
	f := &e.Fit
	switch {
	case len(f.Zones) > 0 && !slices.Contains(f.Zones, r.Zone),
		len(f.Months) > 0 && !slices.Contains(f.Months, m),
		len(f.Roads) > 0 && !slices.Contains(f.Roads, road),
		f.NotSnow && cm.Snow,
		f.Snow && !cm.Snow,
		len(f.Tags) > 0 && !slices.ContainsFunc(f.Tags, r.HasTag),
		slices.ContainsFunc(f.NotTags, r.HasTag):
		return false
	}
	prov := r.ProvinceCode()
	switch {
	case len(f.Provinces) > 0 && !slices.Contains(f.Provinces, prov),
		slices.Contains(f.NotProvinces, prov),
		len(f.Prefectures) > 0 && !slices.Contains(f.Prefectures, r.Prefecture.Code),
		slices.Contains(f.NotPrefectures, r.Prefecture.Code),
		len(f.Temps) > 0 && cm.Temp != "" && !slices.Contains(f.Temps, cm.Temp):
		return false
	}
	return true
}

func roadFitsIn(rd *Road, r *Region) bool {
	if rd.Fit == nil {
		return true
	}
	return (len(rd.Fit.Tags) == 0 || slices.ContainsFunc(rd.Fit.Tags, r.HasTag)) && !slices.ContainsFunc(rd.Fit.NotTags, r.HasTag)
}

// RegionFit returns the element's fit table: for region index i (in
// Regions() order) and month m, entry i*13+m is a bit mask of the road
// indexes (in Roads() order) on which the element fits there, every place
// rule applied. It is what FitsRegion reads, for callers that index the
// whole pool at once; nil for an unknown element. Do not modify it.
func (s *Snapshot) RegionFit(elementID string) []uint64 { return s.regionFit[elementID] }
