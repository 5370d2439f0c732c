package pool_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/pool"
)

func TestSmallFixtureIsValid(t *testing.T) {
	t.Parallel()
	p, ps := pool.ValidateFS(smallFS(t), smallMinimums)
	require.Empty(t, ps.Strings())
	require.Equal(t, pool.Counts{Zones: 2, Provinces: 2, Regions: 6, Aliases: 2, Seasons: 24, Roads: 4, Categories: 3, Elements: 5}, p.Counts())
}

// TestDefaultMinimums checks that Validate applies the shipped pool's
// minimums (150 regions, 31 provinces, 3 per province, 5 per zone, 60
// elements in 6 categories, 5 zones, and the place data of issue #12: a
// climate profile and tags on every region).
func TestDefaultMinimums(t *testing.T) {
	t.Parallel()
	require.Equal(t, pool.Minimums{
		Regions: 150, Provinces: 31, RegionsPerProvince: 3, RegionsPerZone: 5,
		Zones: 5, Elements: 60, Categories: 6, TermsPerList: 2, PlaceData: true,
	}, pool.DefaultMinimums())

	// testdata/small predates place data: with PlaceData off only the
	// count minimums remain; with it on, every region lacks both.
	m := pool.DefaultMinimums()
	m.PlaceData = false
	ps := pool.ValidateWith(loadSmall(t), m)
	require.Equal(t, []string{
		"zones.json: zones: 2 zones, at least 5 required",
		"zones.json: zones[cold_temperate]: 2 regions, at least 5 required",
		"zones.json: zones[warm_temperate]: 4 regions, at least 5 required",
		"provinces.json: provinces: 2 provinces, at least 31 required",
		"regions/*.json: regions: 6 regions, at least 150 required",
		"regions/23.json: regions: 2 regions, at least 3 required",
		"elements.json: categories: 3 categories, at least 6 required",
		"elements.json: elements: 5 elements, at least 60 required",
	}, ps.Strings())
	for _, p := range ps {
		require.Equal(t, "too_few", p.Code)
	}
	missing := 0
	for _, p := range pool.Validate(loadSmall(t)) {
		if p.Code == "required" {
			missing++
		}
	}
	require.Equal(t, 12, missing, "6 regions × (climate, tags)")
}

// TestBrokenFixtures runs every testdata/broken/<case>: the case's files are
// laid over testdata/small (paths listed in DELETE are removed) and the
// problems must equal want.txt, one line each.
func TestBrokenFixtures(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir("testdata/broken")
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		dir := filepath.Join("testdata/broken", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			fsys := smallFS(t)
			for name, f := range dirMap(t, dir) {
				fsys[name] = f
			}
			if b, err := os.ReadFile(filepath.Join(dir, "DELETE")); err == nil {
				for _, name := range strings.Fields(string(b)) {
					delete(fsys, name)
				}
			}
			_, ps := pool.ValidateFS(fsys, smallMinimums)
			got := strings.Join(ps.Strings(), "\n") + "\n"
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				require.NoError(t, os.WriteFile(wantFile, []byte(got), 0o644))
			}
			want, err := os.ReadFile(wantFile)
			require.NoError(t, err)
			require.NotEqual(t, "\n", string(want), "a broken fixture must report something")
			require.Equal(t, string(want), got)
		})
	}
}
