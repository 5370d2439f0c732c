package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["NodesHeartbeatAndClaim"] = testNodesHeartbeatAndClaim
	storeCases["InterruptImages"] = testInterruptImages
}

func testNodesHeartbeatAndClaim(t *testing.T, db *store.DB) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, db.RegisterNode(ctx, store.Node{ID: id, Hostname: "h", PID: 1, StartedAt: t0, HeartbeatAt: t0}))
	}
	ok, err := db.HeartbeatNode(ctx, "a", t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, ok)

	// b and c are stale; a (alive) claims them, and a second claim gets none.
	dead, err := db.ClaimDeadNodes(ctx, "a", t0.Add(30*time.Second))
	require.NoError(t, err)
	var ids []string
	for _, n := range dead {
		ids = append(ids, n.ID)
	}
	require.ElementsMatch(t, []string{"b", "c"}, ids)
	again, err := db.ClaimDeadNodes(ctx, "a", t0.Add(30*time.Second))
	require.NoError(t, err)
	require.Empty(t, again)

	// A claimed node learns it was declared dead from its heartbeat.
	ok, err = db.HeartbeatNode(ctx, "b", t0.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, ok)

	// A node never claims itself, however stale.
	self, err := db.ClaimDeadNodes(ctx, "a", t0.Add(time.Hour))
	require.NoError(t, err)
	require.Empty(t, self)
	require.NoError(t, db.RemoveNode(ctx, "a"))
	all, err := db.Nodes(ctx)
	require.NoError(t, err)
	require.Empty(t, all)
}

func testInterruptImages(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u, up := userWithUpload(t, db)
	b := &store.Batch{UserID: u.ID, UploadID: up.ID, Mode: "smart", Priority: 2, Plan: &plan.Plan{}}
	g := &store.Group{Index: 0, Key: "k"}
	var imgs []*store.Image
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		g.ID = store.NewID()
		for i := range 3 {
			imgs = append(imgs, &store.Image{GroupID: g.ID, Index: i, Variant: store.Variant{ID: "v"}})
		}
		return db.CreateBatch(ctx, tx, b, []*store.Group{g}, imgs)
	}))
	// Two running, one queued: only the running ones named are interrupted.
	for _, im := range imgs[:2] {
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			_, err := db.UpdateImage(ctx, tx, im, nil, store.ImageUpdate{Status: store.ImageRunning})
			return err
		}))
	}
	n, err := db.InterruptImages(ctx, []string{imgs[0].ID, imgs[2].ID, "missing"})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got, err := db.ImageByID(ctx, imgs[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.ImageInterrupted, got.Status)
	require.Equal(t, "interrupted", got.Reason)
	for i, want := range []string{store.ImageRunning, store.ImageQueued} {
		got, err := db.ImageByID(ctx, imgs[i+1].ID)
		require.NoError(t, err)
		require.Equal(t, want, got.Status)
	}
	evs, err := db.EventsAfter(ctx, b.ID, 0, 0)
	require.NoError(t, err)
	require.Equal(t, store.ImageKind(store.ImageInterrupted), evs[len(evs)-1].Type)
}
