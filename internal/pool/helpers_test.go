package pool_test

import (
	"flag"
	"io/fs"
	"os"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/pool"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/small formatting, testdata/broken/*/want.txt)")

// smallMinimums fit testdata/small with a little slack, so that each broken
// fixture reports only its own mistake.
var smallMinimums = pool.Minimums{
	Regions: 5, Provinces: 2, RegionsPerProvince: 1, RegionsPerZone: 1,
	Zones: 2, Elements: 5, Categories: 3, TermsPerList: 2,
}

// dirMap copies a directory into a MapFS (without want.txt and DELETE).
func dirMap(t *testing.T, dir string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "want.txt" || name == "DELETE" {
			return err
		}
		b, err := fs.ReadFile(os.DirFS(dir), name)
		if err != nil {
			return err
		}
		m[name] = &fstest.MapFile{Data: b, Mode: 0o644}
		return nil
	})
	require.NoError(t, err)
	return m
}

func smallFS(t *testing.T) fstest.MapFS {
	t.Helper()
	return dirMap(t, "testdata/small")
}

func loadSmall(t *testing.T) *pool.Pool {
	t.Helper()
	p, err := pool.Load(smallFS(t))
	require.NoError(t, err)
	return p
}

func smallSnapshot(t *testing.T) *pool.Snapshot {
	t.Helper()
	s, err := pool.NewSnapshot(loadSmall(t))
	require.NoError(t, err)
	return s
}
