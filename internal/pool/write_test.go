package pool_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/pool"
)

// TestWriteDirGolden: testdata/small is itself WriteDir's output, so the
// export format (2-space indent, short objects on one line) is pinned.
func TestWriteDirGolden(t *testing.T) {
	t.Parallel()
	p := loadSmall(t)
	dir := t.TempDir()
	if *update {
		dir = "testdata/small"
	}
	require.NoError(t, pool.WriteDir(p, dir))
	got := dirMap(t, dir)
	want := smallFS(t)
	require.Equal(t, len(want), len(got))
	for name, f := range want {
		require.Contains(t, got, name)
		require.Equal(t, string(f.Data), string(got[name].Data), name)
	}
}

func TestWriteDirRoundTrip(t *testing.T) {
	t.Parallel()
	p := loadSmall(t)
	dir := t.TempDir()
	require.NoError(t, pool.WriteDir(p, dir))
	q, err := pool.Load(os.DirFS(dir))
	require.NoError(t, err)
	require.Equal(t, p.Version, q.Version)
	require.Equal(t, p.Regions, q.Regions)
	require.Equal(t, p.Elements, q.Elements)

	// Writing again gives the same bytes.
	dir2 := t.TempDir()
	require.NoError(t, pool.WriteDir(q, dir2))
	require.Equal(t, dirMap(t, dir), dirMap(t, dir2))
}

// TestWriteDirReplaces: exporting over an older export leaves exactly the new
// pool (a province whose regions are gone loses its file).
func TestWriteDirReplaces(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := loadSmall(t)
	require.NoError(t, pool.WriteDir(p, dir))
	require.FileExists(t, filepath.Join(dir, "regions", "23.json"))

	p.DeleteRegion("232701")
	p.DeleteRegion("232722")
	p.Version = p.ComputeVersion()
	require.NoError(t, pool.WriteDir(p, dir))
	require.NoFileExists(t, filepath.Join(dir, "regions", "23.json"))
	q, err := pool.Load(os.DirFS(dir))
	require.NoError(t, err)
	require.Equal(t, p.Version, q.Version)

	// No temporary files are left behind.
	var names []string
	require.NoError(t, fs.WalkDir(os.DirFS(dir), ".", func(name string, d fs.DirEntry, err error) error {
		if !d.IsDir() {
			names = append(names, name)
		}
		return err
	}))
	require.ElementsMatch(t, []string{"zones.json", "provinces.json", "seasons.json", "roads.json", "elements.json", "regions/13.json"}, names)
}
