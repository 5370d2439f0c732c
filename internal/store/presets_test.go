package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["Presets"] = testPresets
}

func testPresets(t *testing.T, db *store.DB) {
	ctx := context.Background()
	alice, bob := newUser(t, db, "alice"), newUser(t, db, "bob")
	create := func(userID, name string) (*store.Preset, error) {
		p := &store.Preset{UserID: userID, Name: name, Settings: []byte(`{"mode":"smart","groups":4}`)}
		err := db.InTx(ctx, func(tx *store.Tx) error { return db.CreatePreset(ctx, tx, p) })
		return p, err
	}
	for _, tc := range []struct {
		name     string
		userID   string
		preset   string
		wantCode string
	}{
		{"first", alice.ID, "winter", ""},
		{"second", alice.ID, "autumn", ""},
		{"third", alice.ID, "summer", ""},
		{"name taken", alice.ID, "winter", "preset_name_taken"},
		{"another user may use the name", bob.ID, "winter", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := create(tc.userID, tc.preset)
			if tc.wantCode == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, fault.Conflict, fault.KindOf(err))
			require.Equal(t, tc.wantCode, fault.As(err).Code)
		})
	}
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		n, err := db.CountPresets(ctx, tx, alice.ID)
		require.Equal(t, 3, n)
		return err
	}))

	// Ordered by name, paged by name.
	page, next, err := db.ListPresets(ctx, alice.ID, "", 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, "autumn", page[0].Name)
	require.Equal(t, "summer", page[1].Name)
	after, err := store.DecodeCursor(next)
	require.NoError(t, err)
	rest, next, err := db.ListPresets(ctx, alice.ID, after, 2)
	require.NoError(t, err)
	require.Empty(t, next)
	require.Len(t, rest, 1)
	require.Equal(t, "winter", rest[0].Name)
	require.JSONEq(t, `{"mode":"smart","groups":4}`, string(rest[0].Settings))

	// Rename onto a taken name fails; a free one works.
	p := page[0]
	p.Name = "summer"
	err = db.InTx(ctx, func(tx *store.Tx) error { return db.UpdatePreset(ctx, tx, p) })
	require.Equal(t, "preset_name_taken", fault.As(err).Code)
	p.Name, p.Settings = "spring", []byte(`{"mode":"manual"}`)
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.UpdatePreset(ctx, tx, p) }))
	got, err := db.PresetByID(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "spring", got.Name)
	require.Equal(t, alice.ID, got.UserID)
	require.JSONEq(t, `{"mode":"manual"}`, string(got.Settings))
	require.False(t, got.UpdatedAt.Before(got.CreatedAt))

	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.DeletePreset(ctx, tx, p.ID) }))
	_, err = db.PresetByID(ctx, p.ID)
	require.ErrorIs(t, err, store.ErrPresetNotFound)
	err = db.InTx(ctx, func(tx *store.Tx) error { return db.DeletePreset(ctx, tx, p.ID) })
	require.ErrorIs(t, err, store.ErrPresetNotFound)
	err = db.InTx(ctx, func(tx *store.Tx) error { return db.UpdatePreset(ctx, tx, p) })
	require.ErrorIs(t, err, store.ErrPresetNotFound)
}
