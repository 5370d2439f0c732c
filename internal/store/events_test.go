package store_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["EventPublishing"] = testEventPublishing
	storeCases["ProgressAndQueueEvents"] = testProgressAndQueueEvents
}

// testEventPublishing: an event announces itself only once it is committed
// and readable (after-commit hook; NOTIFY inside the transaction on
// PostgreSQL), and a rolled-back event never does.
func testEventPublishing(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u, up := userWithUpload(t, db)
	newBatch := func() *store.Batch {
		b := &store.Batch{UserID: u.ID, UploadID: up.ID, Mode: "smart", Priority: 2, Plan: &plan.Plan{}}
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.CreateBatch(ctx, tx, b, nil, nil) }))
		return b
	}

	// What was announced, and whether the event was readable at that moment.
	var mu sync.Mutex
	var got []string
	readable := true
	var next func(timeout time.Duration) (string, bool)
	if db.Engine == store.Postgres {
		channel := "t_events_" + strconv.FormatInt(time.Now().UnixNano(), 36)
		conn, err := pgx.ConnectConfig(ctx, db.PG.Config().ConnConfig.Copy())
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		_, err = conn.Exec(ctx, "LISTEN "+channel)
		require.NoError(t, err)
		db.PublishEvents(channel, nil)
		next = func(timeout time.Duration) (string, bool) {
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			n, err := conn.WaitForNotification(wctx)
			if err != nil {
				return "", false
			}
			return n.Payload, true
		}
	} else {
		db.PublishEvents("", func(batchID string, seq int64) {
			evs, err := db.EventsAfter(context.Background(), batchID, seq-1, 1)
			mu.Lock()
			defer mu.Unlock()
			readable = readable && err == nil && len(evs) == 1 && evs[0].Seq == seq
			got = append(got, batchID+":"+strconv.FormatInt(seq, 10))
		})
		next = func(time.Duration) (string, bool) {
			mu.Lock()
			defer mu.Unlock()
			if len(got) == 0 {
				return "", false
			}
			p := got[0]
			got = got[1:]
			return p, true
		}
	}

	a := newBatch()
	p, ok := next(5 * time.Second)
	require.True(t, ok, "batch.created announced")
	require.Equal(t, a.ID+":1", p)

	// Rolled back on a, then committed on b: only b's event is announced.
	b := newBatch()
	p, ok = next(5 * time.Second)
	require.True(t, ok)
	require.Equal(t, b.ID+":1", p)
	errRollback := errors.New("roll back")
	require.ErrorIs(t, db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := db.AddEvent(ctx, tx, a.ID, "test.rolled_back", nil); err != nil {
			return err
		}
		return errRollback
	}), errRollback)
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		_, err := db.AddEvent(ctx, tx, b.ID, "test.committed", nil)
		return err
	}))
	p, ok = next(5 * time.Second)
	require.True(t, ok)
	require.Equal(t, b.ID+":2", p, "the rolled-back event was never announced")
	_, ok = next(200 * time.Millisecond)
	require.False(t, ok, "nothing else announced")
	mu.Lock()
	defer mu.Unlock()
	require.True(t, readable, "each event was readable when announced")
}

// testProgressAndQueueEvents: a finishing image stores batch.progress for
// its batch and batch.queue for each batch still waiting behind it.
func testProgressAndQueueEvents(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u, up := userWithUpload(t, db)
	mk := func() (*store.Batch, []*store.Image) {
		b := &store.Batch{UserID: u.ID, UploadID: up.ID, Mode: "smart", Priority: 2, Plan: &plan.Plan{}}
		g := &store.Group{ID: store.NewID(), Key: "k"}
		imgs := []*store.Image{{GroupID: g.ID}, {GroupID: g.ID, Index: 1}}
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.CreateBatch(ctx, tx, b, []*store.Group{g}, imgs) }))
		return b, imgs
	}
	a, imgs := mk()
	time.Sleep(2 * time.Millisecond) // created_at orders the queue
	behind, _ := mk()
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := db.SetBatchStatus(ctx, tx, a.ID, nil, store.BatchRunning, "", nil); err != nil {
			return err
		}
		_, err := db.UpdateImage(ctx, tx, imgs[0], nil, store.ImageUpdate{Status: store.ImageSucceeded})
		return err
	}))
	last := func(batchID string) store.Event {
		evs, err := db.EventsAfter(ctx, batchID, 0, 0)
		require.NoError(t, err)
		return evs[len(evs)-1]
	}
	p := last(a.ID)
	require.Equal(t, store.KindBatchProgress, p.Type)
	require.JSONEq(t, `{"done":1,"total":2,"succeeded":1,"failed":0}`, string(p.Data))
	q := last(behind.ID)
	require.Equal(t, store.KindBatchQueue, q.Type)
	require.JSONEq(t, `{"queue_position":1}`, string(q.Data), "one image of the older batch still waiting")
}

// userWithUpload creates the user "alice" and one upload of hers, the
// fixture every batch test starts from.
func userWithUpload(t *testing.T, db *store.DB) (*store.User, *store.Upload) {
	t.Helper()
	ctx := context.Background()
	var u *store.User
	up := &store.Upload{SHA256: "abc", MIME: "image/jpeg", Width: 10, Height: 10, Bytes: 1, EXIF: "{}", Warnings: "[]"}
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = db.CreateUser(ctx, tx, "alice", "h", store.RoleOperator); err != nil {
			return err
		}
		up.UserID = u.ID
		return db.CreateUpload(ctx, tx, up)
	}))
	return u, up
}
