package pool

import (
	"fmt"
	"slices"
	"strings"
)

// place checks the place-level data: the tag vocabulary, the climate
// profiles, each region's tags and climate, the place rules of elements and
// roads, and (with PlaceData) that every element fits some county and month.
func (c *checker) place(p *Pool, provinces map[string]*Province, zones map[string]*Zone, roads map[string]*Road, snowy map[zoneMonth]bool) {
	tags := map[string]*Tag{}
	seen := newIDs("tags")
	for i := range p.Tags {
		t := &p.Tags[i]
		w, fresh := c.slug(FileTags, seen, i, t.ID)
		if fresh {
			tags[t.ID] = t
		}
		if !slices.Contains(TagGroups, t.Group) {
			c.add(FileTags, w+".group", "bad_group", "group %q is not one of %s", t.Group, strings.Join(TagGroups, ", "))
		}
		c.text(FileTags, w, t.ZH, t.EN)
		c.required(FileTags, w+".rule", t.Rule)
		c.required(FileTags, w+".source", t.Source)
	}

	climates := map[string]*Climate{}
	seenC := newIDs("climates")
	for i := range p.Climates {
		cl := &p.Climates[i]
		w, fresh := c.slug(FileClimates, seenC, i, cl.ID)
		if fresh {
			climates[cl.ID] = cl
		}
		c.text(FileClimates, w, cl.ZH, cl.EN)
		c.required(FileClimates, w+".station", cl.Station)
		c.required(FileClimates, w+".source", cl.Source)
		if len(cl.Months) != 12 {
			c.add(FileClimates, w+".months", "bad_months", "%s, exactly 12 required (January first)", plural(len(cl.Months), "month"))
		}
		for j, m := range cl.Months {
			mw := fmt.Sprintf("%s.months[%d]", w, j)
			if !slices.Contains(TempBands, m.Temp) {
				c.add(FileClimates, mw+".temp", "bad_band", "temperature band %q is not one of %s", m.Temp, strings.Join(TempBands, ", "))
			}
			if !slices.Contains(PrecipClasses, m.Precip) {
				c.add(FileClimates, mw+".precip", "bad_band", "precipitation class %q is not one of %s", m.Precip, strings.Join(PrecipClasses, ", "))
			}
			// Lying snow through a month whose mean is above 16 °C does
			// not happen in a settled valley.
			if m.Snow && slices.Index(TempBands, m.Temp) > slices.Index(TempBands, TempCool) {
				c.add(FileClimates, mw+".snow", "snow_mismatch", "snow cannot lie through a %s month", m.Temp)
			}
		}
	}

	index := map[string]int{}
	for ri := range p.Regions {
		r := &p.Regions[ri]
		f := r.fileName()
		i := index[f]
		index[f]++
		w := fmt.Sprintf("regions[%d]", i)
		if codeRE.MatchString(r.Code) {
			w = "regions[" + r.Code + "]"
		}
		seenT := map[string]bool{}
		for j, t := range r.Tags {
			tw := fmt.Sprintf("%s.tags[%d]", w, j)
			switch {
			case tags[t] == nil:
				c.add(f, tw, "unknown_tag", "unknown tag %q (see %s)", t, FileTags)
			case seenT[t]:
				c.add(f, tw, "duplicate_value", "tag %q listed twice", t)
			}
			seenT[t] = true
		}
		switch {
		case r.Climate != "" && climates[r.Climate] == nil:
			c.add(f, w+".climate", "unknown_climate", "unknown climate profile %q (see %s)", r.Climate, FileClimates)
		case r.Climate == "" && c.m.PlaceData:
			c.add(f, w+".climate", "required", "every region needs a climate profile (%s)", FileClimates)
		}
		if c.m.PlaceData && len(r.Tags) == 0 {
			c.add(f, w+".tags", "required", "every region needs at least one feature tag (%s)", FileTags)
		}
	}

	tagRefs := func(file, where string, list []string) bool {
		ok := true
		for j, t := range list {
			if tags[t] == nil {
				c.add(file, fmt.Sprintf("%s[%d]", where, j), "unknown_tag", "unknown tag %q (see %s)", t, FileTags)
				ok = false
			}
		}
		return ok
	}
	for i := range p.Roads {
		r := &p.Roads[i]
		if r.Fit == nil {
			continue
		}
		w := "roads[" + r.ID + "].fit"
		tagRefs(FileRoads, w+".tags", r.Fit.Tags)
		tagRefs(FileRoads, w+".not_tags", r.Fit.NotTags)
	}

	placeOK := true
	for i := range p.Elements {
		e := &p.Elements[i]
		w := "elements[" + e.ID + "].fit"
		ok := tagRefs(FileElements, w+".tags", e.Fit.Tags)
		ok = tagRefs(FileElements, w+".not_tags", e.Fit.NotTags) && ok
		for _, l := range []struct {
			name  string
			codes []string
		}{{"provinces", e.Fit.Provinces}, {"not_provinces", e.Fit.NotProvinces}} {
			for j, code := range l.codes {
				if provinces[code] == nil {
					c.add(FileElements, fmt.Sprintf("%s.%s[%d]", w, l.name, j), "unknown_province", "no province %q in %s", code, FileProvinces)
					ok = false
				}
			}
		}
		for _, l := range []struct {
			name  string
			codes []string
		}{{"prefectures", e.Fit.Prefectures}, {"not_prefectures", e.Fit.NotPrefectures}} {
			for j, code := range l.codes {
				if !codeRE.MatchString(code) || !strings.HasSuffix(code, "00") || strings.HasSuffix(code, "0000") {
					c.add(FileElements, fmt.Sprintf("%s.%s[%d]", w, l.name, j), "bad_code", "%q is not a prefecture code (4 digits + \"00\")", code)
					ok = false
				}
			}
		}
		for j, t := range e.Fit.Temps {
			if !slices.Contains(TempBands, t) {
				c.add(FileElements, fmt.Sprintf("%s.temps[%d]", w, j), "bad_band", "temperature band %q is not one of %s", t, strings.Join(TempBands, ", "))
				ok = false
			}
		}
		if e.Fit.Snow && e.Fit.NotSnow {
			c.add(FileElements, w, "fit_never", "snow and not_snow exclude each other")
		}
		if !ok {
			placeOK = false
		}
	}

	// Whether each element fits some county needs every reference resolved.
	if !c.m.PlaceData || !placeOK || len(c.ps) > 0 {
		return
	}
	clim := func(r *Region, m int) ClimateMonth {
		if cl := climates[r.Climate]; cl != nil && len(cl.Months) == 12 {
			return cl.Month(m)
		}
		return ClimateMonth{Snow: snowy[zoneMonth{r.Zone, m}]}
	}
	for i := range p.Elements {
		e := &p.Elements[i]
		if !fitsSomeCounty(e, p, clim) {
			c.add(FileElements, "elements["+e.ID+"].fit", "fit_nowhere",
				"the element fits no county × month × road of the pool (check its tags, provinces, zones and months)")
		}
	}
}

func fitsSomeCounty(e *Element, p *Pool, clim func(*Region, int) ClimateMonth) bool {
	for ri := range p.Regions {
		r := &p.Regions[ri]
		for m := 1; m <= 12; m++ {
			for di := range p.Roads {
				rd := &p.Roads[di]
				if roadFitsIn(rd, r) && fitsIn(e, r, clim(r, m), m, rd.ID) {
					return true
				}
			}
		}
	}
	return false
}
