package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["BatchesEventsAndImages"] = testBatchesEventsAndImages
}

func testBatchesEventsAndImages(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u, up := userWithUpload(t, db)
	capM := int64(500)
	b := &store.Batch{UserID: u.ID, UploadID: up.ID, Mode: "smart", Priority: 2, Seed: 7, Plan: &plan.Plan{},
		EstimateMicros: 400, CapMicros: &capM}
	g := &store.Group{Index: 0, Key: "k"}
	var imgs []*store.Image
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		g.ID = store.NewID()
		for i := range 2 {
			imgs = append(imgs, &store.Image{GroupID: g.ID, Index: i, Variant: store.Variant{ID: "v"}})
		}
		return db.CreateBatch(ctx, tx, b, []*store.Group{g}, imgs)
	}))
	inUse, err := db.UploadInUse(ctx, nil, up.ID)
	require.NoError(t, err)
	require.True(t, inUse)

	// Conditional updates: a result is stored once; a second writer loses.
	key := "results/x.jpg"
	for _, tc := range []struct {
		name string
		from []string
		to   string
		want bool
	}{
		{"queued→running", []string{store.ImageQueued}, store.ImageRunning, true},
		{"running→succeeded", []string{store.ImageRunning}, store.ImageSucceeded, true},
		{"second store loses", []string{store.ImageRunning}, store.ImageSucceeded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
				ok, err := db.UpdateImage(ctx, tx, imgs[0], tc.from, store.ImageUpdate{Status: tc.to, ResultKey: &key})
				require.Equal(t, tc.want, ok)
				return err
			}))
		})
	}
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		ok, err := db.SetBatchStatus(ctx, tx, b.ID, []string{store.BatchQueued}, store.BatchRunning, "", nil)
		require.True(t, ok)
		return err
	}))
	// Interrupted: a running image of a stopped process.
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		_, err := db.UpdateImage(ctx, tx, imgs[1], nil, store.ImageUpdate{Status: store.ImageRunning})
		return err
	}))
	n, err := db.MarkInterrupted(ctx, db.Now().AddDate(0, 0, 1))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	st, err := db.QueueStats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Depth[store.ImageInterrupted])

	// Events: consecutive sequence numbers, written with each change.
	evs, err := db.EventsAfter(ctx, b.ID, 0, 100)
	require.NoError(t, err)
	var types []string
	for i, e := range evs {
		require.EqualValues(t, i+1, e.Seq)
		types = append(types, string(e.Type))
	}
	require.Equal(t, []string{"batch.created", "image.running", "image.succeeded", "batch.progress", "batch.status", "image.running", "image.interrupted"}, types)
	got, err := db.BatchByID(ctx, b.ID)
	require.NoError(t, err)
	require.EqualValues(t, len(evs), got.EventSeq)
	require.Equal(t, store.BatchRunning, got.Status)
	require.NotNil(t, got.StartedAt)
	require.Equal(t, capM, *got.CapMicros)
	later, err := db.EventsAfter(ctx, b.ID, 3, 100)
	require.NoError(t, err)
	require.Len(t, later, len(evs)-3)

	// A failed transaction leaves neither the change nor its event.
	require.Error(t, db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := db.SetBatchStatus(ctx, tx, b.ID, nil, store.BatchPaused, "", nil); err != nil {
			return err
		}
		return store.ErrConflict
	}))
	got, err = db.BatchByID(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, store.BatchRunning, got.Status)
	require.EqualValues(t, len(evs), got.EventSeq)

	list, next, err := db.ListBatches(ctx, store.BatchFilter{UserID: u.ID, Statuses: []string{store.BatchQueued, store.BatchRunning}})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Empty(t, next)
	none, _, err := db.ListBatches(ctx, store.BatchFilter{UserID: u.ID, Statuses: []string{store.BatchSucceeded}})
	require.NoError(t, err)
	require.Empty(t, none)
	prog, err := db.ProgressOf(ctx, []string{b.ID, "missing"})
	require.NoError(t, err)
	require.Equal(t, map[string]store.Progress{b.ID: {Done: 1, Total: 2, Succeeded: 1}}, prog)
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		_, err := db.SetBatchStatus(ctx, tx, b.ID, nil, store.BatchCancelled, "", nil)
		return err
	}))
	inUse, err = db.UploadInUse(ctx, nil, up.ID)
	require.NoError(t, err)
	require.False(t, inUse)
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.DeleteBatch(ctx, tx, b.ID) }))
	_, err = db.BatchByID(ctx, b.ID)
	require.ErrorIs(t, err, store.ErrBatchNotFound)
}
