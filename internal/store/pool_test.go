package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["PoolVersions"] = func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		n, err := db.LatestPoolVersionNumber(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		_, err = db.LatestPoolVersion(ctx)
		require.ErrorIs(t, err, store.ErrNotFound)

		add := func(hash string) (*store.PoolVersion, bool) {
			var v *store.PoolVersion
			var created bool
			require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
				var err error
				v, created, err = db.AddPoolVersion(ctx, tx, hash, []byte(`{"h":"`+hash+`"}`), "{}", "test", "")
				return err
			}))
			return v, created
		}
		v, created := add("aaa")
		require.True(t, created)
		require.Equal(t, 1, v.Number)
		v, created = add("aaa")
		require.False(t, created, "same content is not a new version")
		require.Equal(t, 1, v.Number)
		v, created = add("bbb")
		require.True(t, created)
		require.Equal(t, 2, v.Number)
		latest, err := db.LatestPoolVersion(ctx)
		require.NoError(t, err)
		require.Equal(t, "bbb", latest.Hash)
		require.JSONEq(t, `{"h":"bbb"}`, string(latest.Content))
		list, err := db.ListPoolVersions(ctx, 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		n, err = db.LatestPoolVersionNumber(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
	}
}
