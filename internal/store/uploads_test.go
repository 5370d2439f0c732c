package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["Uploads"] = func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var alice, bob *store.User
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if alice, err = db.CreateUser(ctx, tx, "alice", "h", store.RoleOperator); err != nil {
				return err
			}
			bob, err = db.CreateUser(ctx, tx, "bob", "h", store.RoleOperator)
			return err
		}))
		mk := func(user *store.User, sha string) *store.Upload {
			u := &store.Upload{UserID: user.ID, SHA256: sha, MIME: "image/jpeg", Width: 1200, Height: 900, Bytes: 1234, Filename: "light.jpg", EXIF: `{"model":"X"}`, Warnings: "[]"}
			require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.CreateUpload(ctx, tx, u) }))
			return u
		}
		a1 := mk(alice, "aaa")
		a2 := mk(alice, "bbb")
		b1 := mk(bob, "aaa")
		got, err := db.UploadByID(ctx, a1.ID)
		require.NoError(t, err)
		require.Equal(t, "light.jpg", got.Filename)
		require.Equal(t, 1200, got.Width)
		list, err := db.ListUploads(ctx, alice.ID, "", 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, a2.ID, list[0].ID, "newest first")
		list, err = db.ListUploads(ctx, alice.ID, a2.ID, 10)
		require.NoError(t, err)
		require.Len(t, list, 1)

		ref, err := db.ContentReferenced(ctx, "aaa")
		require.NoError(t, err)
		require.True(t, ref)
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.DeleteUpload(ctx, tx, a1.ID) }))
		ref, err = db.ContentReferenced(ctx, "aaa")
		require.NoError(t, err)
		require.True(t, ref, "bob still uses it")
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.DeleteUpload(ctx, tx, b1.ID) }))
		ref, err = db.ContentReferenced(ctx, "aaa")
		require.NoError(t, err)
		require.False(t, ref)
		err = db.InTx(ctx, func(tx *store.Tx) error { return db.DeleteUpload(ctx, tx, b1.ID) })
		require.ErrorIs(t, err, store.ErrNotFound)
	}
}
