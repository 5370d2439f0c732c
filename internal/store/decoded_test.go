package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["TypedRows"] = testTypedRows
}

// rawColumn reads one JSON column as stored.
func rawColumn(t *testing.T, db *store.DB, table, col, id string) string {
	t.Helper()
	ph := "$1"
	if db.Engine == store.SQLite {
		ph = "?1"
	}
	var s string
	require.NoError(t, db.R.QueryRowContext(context.Background(), "SELECT "+col+" FROM "+table+" WHERE id = "+ph, id).Scan(&s))
	return s
}

func setRawColumn(t *testing.T, db *store.DB, table, col, id, raw string) {
	t.Helper()
	q := "UPDATE " + table + " SET " + col + " = $1 WHERE id = $2"
	if db.Engine == store.SQLite {
		q = "UPDATE " + table + " SET " + col + " = ?1 WHERE id = ?2"
	}
	_, err := db.W.ExecContext(context.Background(), q, raw, id)
	require.NoError(t, err)
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// testTypedRows: plan, params, combination, scene, variant and QC are
// decoded by the store into typed fields, stored as the JSON encoding of
// those types (the bytes the pipeline wrote before the rows were typed),
// and a damaged column is an error, never a silent zero value.
func testTypedRows(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u, up := userWithUpload(t, db)
	cmb := plan.Combination{CountyCode: "130521", ProvinceCode: "130000", Month: 7, Road: "dirt", Elements: []string{"tricycle"}}
	scene := plan.Scene{County: "信都区", Province: "河北", Season: "summer", Road: plan.Label{ID: "dirt", ZH: "土路", EN: "dirt road"}}
	pl := &plan.Plan{Mode: "manual", PoolVersion: "pv1", Groups: []plan.Group{{Index: 0, Combination: cmb, Key: "k0", Scene: scene,
		Variants: []plan.Variant{{ID: "sunny_morning", Time: "morning", Weather: "sunny", PromptEN: "a lamp"}}}}}
	prm := store.BatchParams{Aspect: "3:4", Resolution: 1024, Enhance: "off", Priority: "normal", Budget: "2.50", Snow: []bool{false}}
	b := &store.Batch{UserID: u.ID, UploadID: up.ID, Mode: "manual", Priority: 2, Plan: pl, Params: prm}
	g := &store.Group{ID: store.NewID(), Index: 0, Key: "k0", Combination: cmb, Scene: scene}
	v := store.Variant{ID: "sunny_morning", Time: "morning", Weather: "sunny", Base: "sunny_morning"}
	im := &store.Image{GroupID: g.ID, Variant: v}
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		return db.CreateBatch(ctx, tx, b, []*store.Group{g}, []*store.Image{im})
	}))

	// Stored bytes: the JSON encoding of the typed values.
	require.Equal(t, marshal(t, pl), rawColumn(t, db, "batches", "plan", b.ID))
	require.Equal(t, marshal(t, prm), rawColumn(t, db, "batches", "params", b.ID))
	require.Equal(t, marshal(t, cmb), rawColumn(t, db, "batch_groups", "combination", g.ID))
	require.Equal(t, marshal(t, scene), rawColumn(t, db, "batch_groups", "scene", g.ID))
	require.Equal(t, marshal(t, v), rawColumn(t, db, "images", "variant", im.ID))
	require.Equal(t, "[]", rawColumn(t, db, "images", "qc", im.ID))

	// Read back typed.
	got, err := db.BatchByID(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, pl, got.Plan)
	require.Equal(t, prm, got.Params)
	again, err := db.BatchByID(ctx, b.ID)
	require.NoError(t, err)
	require.Same(t, got.Plan, again.Plan, "the plan is decoded once")
	gs, err := db.GroupsOf(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, gs, 1)
	require.Equal(t, cmb, gs[0].Combination)
	require.Equal(t, scene, gs[0].Scene)
	gotIm, err := db.ImageByID(ctx, im.ID)
	require.NoError(t, err)
	require.Equal(t, v, gotIm.Variant)
	require.NotNil(t, gotIm.QC)
	require.Empty(t, gotIm.QC)

	// QC verdicts and a nudged variant written through UpdateImage.
	qc := []store.QCVerdict{{Try: 0, Variant: "sunny_morning", Reason: "similar_phash", Scores: &similarity.Scores{Hamming: 3, SSIM: 0.9},
		Against: "other"}, {Try: 1, Variant: "overcast_morning", Reason: "blank"}}
	nv := store.Variant{ID: "overcast_morning", Time: "morning", Weather: "overcast", Base: "sunny_morning", Seed: 42}
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		_, err := db.UpdateImage(ctx, tx, gotIm, nil, store.ImageUpdate{Variant: &nv, QC: qc})
		return err
	}))
	require.Equal(t, marshal(t, qc), rawColumn(t, db, "images", "qc", im.ID))
	imgs, err := db.ImagesOf(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, qc, imgs[0].QC)
	require.Equal(t, nv, imgs[0].Variant)
	// An empty, non-nil list clears the verdicts; nil leaves them.
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := db.UpdateImage(ctx, tx, gotIm, nil, store.ImageUpdate{QC: nil}); err != nil {
			return err
		}
		require.Equal(t, marshal(t, qc), rawColumn(t, db, "images", "qc", im.ID))
		_, err := db.UpdateImage(ctx, tx, gotIm, nil, store.ImageUpdate{QC: []store.QCVerdict{}})
		return err
	}))
	require.Equal(t, "[]", rawColumn(t, db, "images", "qc", im.ID))

	// Rows written by older releases (fewer fields) decode; the decoded
	// plan follows the stored bytes, not a stale cache entry.
	setRawColumn(t, db, "images", "variant", im.ID, `{"id":"rain_night"}`)
	gotIm, err = db.ImageByID(ctx, im.ID)
	require.NoError(t, err)
	require.Equal(t, store.Variant{ID: "rain_night"}, gotIm.Variant)
	setRawColumn(t, db, "batches", "plan", b.ID, `{"mode":"smart","groups":[]}`)
	got, err = db.BatchByID(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "smart", got.Plan.Mode)
	require.Empty(t, got.Plan.Groups)

	// A damaged column is an error naming the row.
	for _, tc := range []struct{ table, col, id string }{
		{"batches", "plan", b.ID}, {"batches", "params", b.ID}, {"batch_groups", "scene", g.ID}, {"images", "qc", im.ID},
	} {
		old := rawColumn(t, db, tc.table, tc.col, tc.id)
		setRawColumn(t, db, tc.table, tc.col, tc.id, `{"broken`)
		var err error
		switch tc.table {
		case "batches":
			_, err = db.BatchByID(ctx, b.ID)
		case "batch_groups":
			_, err = db.GroupsOf(ctx, b.ID)
		default:
			_, err = db.ImagesOf(ctx, b.ID)
		}
		require.ErrorContains(t, err, tc.id, "%s.%s", tc.table, tc.col)
		setRawColumn(t, db, tc.table, tc.col, tc.id, old)
	}
}
