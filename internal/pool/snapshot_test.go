package pool_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pool"
)

func regionCodes(rs []*pool.Region) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func elementIDs(es []*pool.Element) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestSnapshotLookups(t *testing.T) {
	t.Parallel()
	s := smallSnapshot(t)
	require.Equal(t, loadSmall(t).Version, s.Version())

	r, err := s.Region("130503")
	require.NoError(t, err)
	require.Equal(t, "信都区", r.Name)
	require.Equal(t, "130000", r.ProvinceCode())
	require.Equal(t, "河北省", s.ProvinceOf(r).Name)

	_, err = s.Region("130521") // an old code is not a current one
	require.ErrorIs(t, err, pool.ErrRegionNotFound)
	require.Equal(t, fault.NotFound, fault.KindOf(err))
	require.Equal(t, "130521", fault.As(err).Params["code"])

	for _, code := range []string{"130000", "13"} {
		p, err := s.Province(code)
		require.NoError(t, err)
		require.Equal(t, "河北", p.Short)
		rs, err := s.ByProvince(code)
		require.NoError(t, err)
		require.Equal(t, []string{"130104", "130503", "130581", "130703"}, regionCodes(rs))
		require.Equal(t, 4, s.CountyCount(code))
	}
	_, err = s.ByProvince("310000")
	require.ErrorIs(t, err, pool.ErrProvinceNotFound)
	require.Equal(t, 0, s.CountyCount("310000"))

	require.Equal(t, []string{"130104", "130503", "130581", "130703", "232701", "232722"}, regionCodes(s.Regions()))
	require.Len(t, s.Provinces(), 2)
	require.Len(t, s.Zones(), 2)
	require.Len(t, s.Roads(), 4)
	require.Len(t, s.Categories(), 3)
	require.Len(t, s.Elements(), 5)
	require.Equal(t, pool.Counts{Zones: 2, Provinces: 2, Regions: 6, Aliases: 2, Seasons: 24, Roads: 4, Categories: 3, Elements: 5}, s.Counts())

	z, err := s.Zone("cold_temperate")
	require.NoError(t, err)
	require.True(t, z.Cold)
	_, err = s.Zone("arid")
	require.ErrorIs(t, err, pool.ErrZoneNotFound)

	rd, err := s.Road("dirt")
	require.NoError(t, err)
	require.Equal(t, "土路", rd.ZH)
	_, err = s.Road("gravel")
	require.ErrorIs(t, err, pool.ErrRoadNotFound)

	e, err := s.Element("tricycle")
	require.NoError(t, err)
	require.Equal(t, "三轮车", e.ZH)
	_, err = s.Element("yak")
	require.ErrorIs(t, err, pool.ErrElementNotFound)
	c, err := s.Category("farm_work")
	require.NoError(t, err)
	require.Equal(t, "农事", c.ZH)
	_, err = s.Category("animals")
	require.ErrorIs(t, err, pool.ErrCategoryNotFound)
}

func TestSnapshotSeasons(t *testing.T) {
	t.Parallel()
	s := smallSnapshot(t)

	se, err := s.Season("warm_temperate", 7)
	require.NoError(t, err)
	require.Equal(t, "summer", se.Season)
	require.False(t, se.SnowCover)
	require.Equal(t, se.CropStates["fruit"], se.CropStateFor("fruit"))
	require.Equal(t, se.CropState, se.CropStateFor("tea"), "a kind without an entry falls back to crop_state")

	se, err = s.Season("cold_temperate", 1)
	require.NoError(t, err)
	require.True(t, se.SnowCover)

	_, err = s.Season("warm_temperate", 13)
	require.ErrorIs(t, err, pool.ErrSeasonNotFound)

	tests := []struct {
		zone    string
		month   int
		want    int
		wantErr error
	}{
		{"", 0, 24, nil},
		{"warm_temperate", 0, 12, nil},
		{"", 7, 2, nil},
		{"cold_temperate", 7, 1, nil},
		{"arid", 0, 0, pool.ErrUnknownZone},
		{"", 13, 0, pool.ErrBadMonth},
		{"", -1, 0, pool.ErrBadMonth},
	}
	for _, tt := range tests {
		got, err := s.Seasons(tt.zone, tt.month)
		if tt.wantErr != nil {
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, fault.Invalid, fault.KindOf(err))
			continue
		}
		require.NoError(t, err)
		require.Len(t, got, tt.want, "%s/%d", tt.zone, tt.month)
		for _, se := range got {
			if tt.zone != "" {
				require.Equal(t, tt.zone, se.Zone)
			}
			if tt.month != 0 {
				require.Equal(t, tt.month, se.Month)
			}
		}
	}
}

func TestFits(t *testing.T) {
	t.Parallel()
	s := smallSnapshot(t)
	tests := []struct {
		name          string
		element, zone string
		month         int
		road          string
		want          bool
	}{
		{"tricycle on a dirt road in a Hebei July", "tricycle", "warm_temperate", 7, "dirt", true},
		{"tricycle not on flagstone", "tricycle", "warm_temperate", 7, "flagstone", false},
		{"tricycle in the snow", "tricycle", "cold_temperate", 1, "dirt", true},
		{"ox ploughing in spring", "ox_ploughing", "warm_temperate", 4, "cement", true},
		{"no ox ploughing in a cold-temperate April", "ox_ploughing", "cold_temperate", 4, "dirt", false},
		{"no ox ploughing in January", "ox_ploughing", "warm_temperate", 1, "dirt", false},
		{"no ox ploughing on asphalt", "ox_ploughing", "warm_temperate", 4, "asphalt", false},
		{"not_snow excludes a snowy January", "villagers_chatting", "cold_temperate", 1, "dirt", false},
		{"not_snow admits a cold-temperate July", "villagers_chatting", "cold_temperate", 7, "dirt", true},
		{"not_snow admits a snowless January", "villagers_chatting", "warm_temperate", 1, "flagstone", true},
		{"sledge in winter", "snow_sledge", "cold_temperate", 1, "dirt", true},
		{"no sledge in summer", "snow_sledge", "cold_temperate", 7, "dirt", false},
		{"wildcards: ox somewhere sometime", "ox_ploughing", "", 0, "", true},
		{"wildcards: never an ox in the cold zone", "ox_ploughing", "cold_temperate", 0, "", false},
		{"wildcards: never a sledge on asphalt", "snow_sledge", "", 0, "asphalt", false},
		{"wildcards: wheat harvest in June", "wheat_harvest", "", 6, "", true},
		{"wildcards: no wheat harvest in July", "wheat_harvest", "", 7, "", false},
		{"unknown element", "yak", "warm_temperate", 7, "dirt", false},
		{"unknown zone", "tricycle", "arid", 7, "dirt", false},
		{"bad month", "tricycle", "warm_temperate", 13, "dirt", false},
		{"unknown road", "tricycle", "warm_temperate", 7, "gravel", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, s.Fits(tt.element, tt.zone, tt.month, tt.road))
		})
	}
}

func TestElementsFor(t *testing.T) {
	t.Parallel()
	s := smallSnapshot(t)
	tests := []struct {
		zone    string
		month   int
		road    string
		want    []string
		wantErr error
	}{
		{"warm_temperate", 7, "dirt", []string{"villagers_chatting", "tricycle"}, nil},
		{"warm_temperate", 4, "cement", []string{"villagers_chatting", "tricycle", "ox_ploughing"}, nil},
		{"warm_temperate", 6, "asphalt", []string{"villagers_chatting", "tricycle", "wheat_harvest"}, nil},
		{"cold_temperate", 1, "dirt", []string{"tricycle", "snow_sledge"}, nil},
		{"cold_temperate", 1, "flagstone", []string{}, nil},
		{"", 0, "flagstone", []string{"villagers_chatting"}, nil},
		{"", 0, "", []string{"villagers_chatting", "tricycle", "snow_sledge", "ox_ploughing", "wheat_harvest"}, nil},
		{"cold_temperate", 0, "", []string{"villagers_chatting", "tricycle", "snow_sledge"}, nil},
		{"arid", 7, "dirt", nil, pool.ErrUnknownZone},
		{"warm_temperate", 13, "dirt", nil, pool.ErrBadMonth},
		{"warm_temperate", 7, "gravel", nil, pool.ErrUnknownRoad},
	}
	for _, tt := range tests {
		got, err := s.ElementsFor(tt.zone, tt.month, tt.road)
		if tt.wantErr != nil {
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, fault.Invalid, fault.KindOf(err))
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, elementIDs(got), "%s/%d/%s", tt.zone, tt.month, tt.road)
	}
}

func TestSnapshotIsImmutable(t *testing.T) {
	t.Parallel()
	p := loadSmall(t)
	s, err := pool.NewSnapshot(p)
	require.NoError(t, err)

	p.Regions[1].Name = "changed"
	p.Elements[1].Fit.Roads[0] = "flagstone"
	r, err := s.Region("130503")
	require.NoError(t, err)
	require.Equal(t, "信都区", r.Name, "the snapshot owns a copy of the pool")
	require.True(t, s.Fits("tricycle", "warm_temperate", 7, "dirt"))

	rs := s.Regions()
	rs[0] = nil
	require.NotNil(t, s.Regions()[0], "returned slices are copies")
}

func TestNewSnapshotRejectsBrokenPool(t *testing.T) {
	t.Parallel()
	p := loadSmall(t)
	p.Elements[1].Category = "machines"
	_, err := pool.NewSnapshot(p)
	require.ErrorIs(t, err, pool.ErrInvalid)
	require.Equal(t, []string{`elements.json: elements[tricycle].category: unknown category "machines"`},
		pool.ProblemsOf(err).Strings())

	// Count minimums are Validate's business, not the snapshot's.
	p = loadSmall(t)
	p.Regions = p.Regions[:1]
	_, err = pool.NewSnapshot(p)
	require.NoError(t, err)
}

func TestHolder(t *testing.T) {
	t.Parallel()
	s1 := smallSnapshot(t)
	p := loadSmall(t)
	p.Roads[0].ZH = "泥土路"
	s2, err := pool.NewSnapshot(p)
	require.NoError(t, err)
	require.NotEqual(t, s1.Version(), s2.Version())

	h := pool.NewHolder(s1)
	require.Same(t, s1, h.Current())
	require.Same(t, s1, h.Swap(s2))
	require.Same(t, s2, h.Current())
	require.False(t, h.CompareAndSwap(s1, s1), "s1 is no longer current")
	require.True(t, h.CompareAndSwap(s2, s1))
	require.Same(t, s1, h.Current())
	require.Panics(t, func() { h.Swap(nil) })

	// Readers always see a whole snapshot while a writer swaps (run with -race).
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				v := h.Current().Version()
				require.Contains(t, []string{s1.Version(), s2.Version()}, v)
			}
		}()
	}
	for i := range 1000 {
		if i%2 == 0 {
			h.Swap(s2)
		} else {
			h.Swap(s1)
		}
	}
	wg.Wait()
}
