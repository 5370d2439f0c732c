package cleanup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/stretchr/testify/require"
)

// refs is an in-memory References: the set of referenced hashes.
type refs struct {
	used map[string]bool
	err  error
}

func (r refs) ContentReferenced(_ context.Context, sum string) (bool, error) {
	return r.used[sum], r.err
}

type testBundle struct {
	store *blob.Local
	root  string
	now   time.Time
}

func setup(t *testing.T) testBundle {
	t.Helper()
	root := t.TempDir()
	s, err := blob.NewLocal(root)
	require.NoError(t, err)
	return testBundle{store: s, root: root, now: time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)}
}

// put stores data under key and backdates it by age.
func (b testBundle) put(t *testing.T, key, data string, age time.Duration) {
	t.Helper()
	_, err := b.store.Put(context.Background(), key, strings.NewReader(data))
	require.NoError(t, err)
	mt := b.now.Add(-age)
	require.NoError(t, os.Chtimes(filepath.Join(b.root, key), mt, mt))
}

// temp writes a file in the temp dir and backdates it.
func (b testBundle) temp(t *testing.T, name string, size int, age time.Duration) {
	t.Helper()
	p := filepath.Join(b.store.TempDir(), name)
	require.NoError(t, os.WriteFile(p, make([]byte, size), 0o600))
	mt := b.now.Add(-age)
	require.NoError(t, os.Chtimes(p, mt, mt))
}

func (b testBundle) exists(key string) bool {
	_, err := os.Stat(filepath.Join(b.root, key))
	return err == nil
}

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestRun(t *testing.T) {
	t.Parallel()
	keep, orphan, young := hashOf("keep"), hashOf("orphan"), hashOf("young")
	scenario := func(t *testing.T) testBundle {
		b := setup(t)
		b.temp(t, "upload-old.spool", 100, 25*time.Hour)
		b.temp(t, "put-new", 50, time.Hour)
		b.put(t, blob.ContentKey(keep), "keep", 72*time.Hour)
		b.put(t, blob.VariantKey(keep, blob.VariantThumb), "kt", 72*time.Hour)
		b.put(t, blob.ContentKey(orphan), "orphan", 2*time.Hour)
		b.put(t, blob.VariantKey(orphan, blob.VariantThumb), "ot", 2*time.Hour)
		b.put(t, blob.VariantKey(orphan, blob.VariantPreview), "op", 2*time.Hour)
		b.put(t, blob.ContentKey(young), "young", 30*time.Minute)
		b.put(t, "blobs/sha256/zz/debris", "junk", 5*time.Hour)
		b.put(t, blob.ResultKey("b-old", "g1", "i1", "jpg"), "old result", 40*24*time.Hour)
		b.put(t, blob.ResultVariantKey("b-old", "g1", "i1", blob.VariantThumb), "ot", 40*24*time.Hour)
		b.put(t, blob.ResultKey("b-new", "g1", "i1", "jpg"), "new result", 24*time.Hour)
		return b
	}
	deps := func(b testBundle) Deps {
		return Deps{Store: b.store, Refs: refs{used: map[string]bool{keep: true}}, TempDirs: []string{b.store.TempDir()}}
	}

	t.Run("dry run deletes nothing and reports everything", func(t *testing.T) {
		t.Parallel()
		b := scenario(t)
		rep, err := Run(context.Background(), Options{DryRun: true, Now: b.now, ResultRetention: 30 * 24 * time.Hour}, deps(b))
		require.NoError(t, err)
		require.True(t, rep.DryRun)
		require.Equal(t, Counts{Files: 1, Bytes: 100}, rep.TempFiles)
		require.Equal(t, Counts{Files: 4, Bytes: int64(len("orphan") + 4 + 4)}, rep.OrphanBlobs)
		require.Equal(t, Counts{Files: 2, Bytes: int64(len("old result") + 2)}, rep.Results)
		require.Equal(t, []string{"b-old"}, rep.ExpiredBatches)
		require.True(t, b.exists(blob.ContentKey(orphan)))
		require.True(t, b.exists(blob.ResultKey("b-old", "g1", "i1", "jpg")))
		_, err = os.Stat(filepath.Join(b.store.TempDir(), "upload-old.spool"))
		require.NoError(t, err)
	})

	t.Run("real run", func(t *testing.T) {
		t.Parallel()
		b := scenario(t)
		dry, err := Run(context.Background(), Options{DryRun: true, Now: b.now, ResultRetention: 30 * 24 * time.Hour}, deps(b))
		require.NoError(t, err)
		rep, err := Run(context.Background(), Options{Now: b.now, ResultRetention: 30 * 24 * time.Hour}, deps(b))
		require.NoError(t, err)
		require.Equal(t, dry.Total(), rep.Total(), "dry run predicts the real run")
		require.Equal(t, 0, rep.Errors)

		require.True(t, b.exists(blob.ContentKey(keep)))
		require.True(t, b.exists(blob.VariantKey(keep, blob.VariantThumb)))
		require.True(t, b.exists(blob.ContentKey(young)), "young orphan kept")
		require.False(t, b.exists(blob.ContentKey(orphan)))
		require.False(t, b.exists(blob.VariantKey(orphan, blob.VariantThumb)))
		require.False(t, b.exists("blobs/sha256/zz/debris"))
		require.False(t, b.exists(blob.ResultKey("b-old", "g1", "i1", "jpg")))
		require.True(t, b.exists(blob.ResultKey("b-new", "g1", "i1", "jpg")))
		_, err = os.Stat(filepath.Join(b.store.TempDir(), "upload-old.spool"))
		require.ErrorIs(t, err, os.ErrNotExist)
		_, err = os.Stat(filepath.Join(b.store.TempDir(), "put-new"))
		require.NoError(t, err)

		// A second run finds nothing more.
		again, err := Run(context.Background(), Options{Now: b.now, ResultRetention: 30 * 24 * time.Hour}, deps(b))
		require.NoError(t, err)
		require.Equal(t, Counts{}, again.Total())
	})

	t.Run("retention off and no references", func(t *testing.T) {
		t.Parallel()
		b := scenario(t)
		d := deps(b)
		d.Refs = nil
		rep, err := Run(context.Background(), Options{Now: b.now}, d)
		require.NoError(t, err)
		require.True(t, rep.OrphansSkipped)
		require.Equal(t, Counts{}, rep.OrphanBlobs)
		require.Equal(t, Counts{}, rep.Results)
		require.True(t, b.exists(blob.ContentKey(orphan)))
		require.True(t, b.exists(blob.ResultKey("b-old", "g1", "i1", "jpg")))
	})

	t.Run("reference lookup failure keeps blobs", func(t *testing.T) {
		t.Parallel()
		b := scenario(t)
		d := deps(b)
		d.Refs = refs{err: errors.New("database is down")}
		rep, err := Run(context.Background(), Options{Now: b.now}, d)
		require.ErrorContains(t, err, "database is down")
		require.Positive(t, rep.Errors)
		require.True(t, b.exists(blob.ContentKey(orphan)))
		require.True(t, b.exists(blob.ContentKey(keep)))
	})
}

// touchingStore reports every blob as just written when re-checked, as if
// an upload re-referenced it between listing and deleting.
type touchingStore struct {
	*blob.Local
	now time.Time
}

func (s touchingStore) Stat(ctx context.Context, key string) (blob.Info, error) {
	info, err := s.Local.Stat(ctx, key)
	info.ModTime = s.now
	return info, err
}

func TestRecheckBeforeDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orphan := hashOf("orphan")
	b.put(t, blob.ContentKey(orphan), "orphan", 5*time.Hour)
	rep, err := Run(context.Background(), Options{Now: b.now}, Deps{
		Store: touchingStore{b.store, b.now},
		Refs:  refs{},
	})
	require.NoError(t, err)
	require.Equal(t, Counts{}, rep.OrphanBlobs)
	require.True(t, b.exists(blob.ContentKey(orphan)))
}

func TestOptionsFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		retention string
		want      time.Duration
	}{
		{"", 0}, {"0", 0}, {"off", 0}, {"90d", 90 * 24 * time.Hour}, {"720h", 720 * time.Hour},
	}
	for _, tt := range tests {
		env := config.NewEnv(func(k string) string {
			if k == "LUDENG_RESULT_RETENTION" {
				return tt.retention
			}
			return ""
		})
		o := OptionsFromEnv(env)
		require.NoError(t, env.Err())
		require.Equal(t, tt.want, o.ResultRetention, tt.retention)
		require.Equal(t, DefaultTempMaxAge, o.TempMaxAge)
	}
	env := config.NewEnv(func(k string) string {
		if k == "LUDENG_RESULT_RETENTION" {
			return "soon"
		}
		return ""
	})
	OptionsFromEnv(env)
	require.ErrorContains(t, env.Err(), "LUDENG_RESULT_RETENTION")
}

func TestCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.temp(t, "old", 1, 48*time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Now: b.now}, Deps{Store: b.store, TempDirs: []string{b.store.TempDir()}})
	require.ErrorIs(t, err, context.Canceled)
}
