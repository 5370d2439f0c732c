package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/store"
)

func init() { storeCases["EventHeads"] = testEventHeads }

// testEventHeads: the cursor sees events written by any connection (another
// process during a handoff) once, as the batch's highest seq.
func testEventHeads(t *testing.T, db *store.DB) {
	ctx := context.Background()
	if db.Engine != store.SQLite {
		_, _, err := db.EventHeadsSince(ctx, 0)
		require.Error(t, err)
		return
	}
	u, up := userWithUpload(t, db)
	newBatch := func() *store.Batch {
		b := &store.Batch{UserID: u.ID, UploadID: up.ID, Mode: "smart", Priority: 2, Plan: &plan.Plan{}}
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.CreateBatch(ctx, tx, b, nil, nil) }))
		return b
	}
	add := func(b *store.Batch) {
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { _, err := db.AddEvent(ctx, tx, b.ID, "x", nil); return err }))
	}
	a, b := newBatch(), newBatch()
	add(a)
	heads, cur, err := db.EventHeadsSince(ctx, -1)
	require.NoError(t, err)
	require.Empty(t, heads)
	add(a)
	add(a)
	add(b)
	heads, cur2, err := db.EventHeadsSince(ctx, cur)
	require.NoError(t, err)
	require.Greater(t, cur2, cur)
	got := map[string]int64{}
	for _, h := range heads {
		got[h.BatchID] = h.Seq
	}
	evA, err := db.EventsAfter(ctx, a.ID, 0, 100)
	require.NoError(t, err)
	evB, err := db.EventsAfter(ctx, b.ID, 0, 100)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{a.ID: evA[len(evA)-1].Seq, b.ID: evB[len(evB)-1].Seq}, got)
	heads, cur3, err := db.EventHeadsSince(ctx, cur2)
	require.NoError(t, err)
	require.Empty(t, heads)
	require.Equal(t, cur2, cur3)
}
