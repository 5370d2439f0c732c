package store_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["WebhookPutRotateDelete"] = testWebhookPutRotateDelete
	storeCases["WebhookDeliveryLog"] = testWebhookDeliveryLog
}

func newUser(t *testing.T, db *store.DB, name string) *store.User {
	t.Helper()
	ctx := context.Background()
	var u *store.User
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		u, err = db.CreateUser(ctx, tx, name, "hash", store.RoleOperator)
		return err
	}))
	return u
}

func putWebhook(t *testing.T, db *store.DB, w *store.Webhook, secret string, rotate bool) bool {
	t.Helper()
	ctx := context.Background()
	var created bool
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		created, err = db.PutWebhook(ctx, tx, w, secret, rotate)
		return err
	}))
	return created
}

func testWebhookPutRotateDelete(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := newUser(t, db, "alice")
	_, err := db.WebhookByUser(ctx, u.ID)
	require.ErrorIs(t, err, store.ErrWebhookNotFound)

	w := &store.Webhook{UserID: u.ID, URL: "https://a.example/hook", Events: []string{"batch.done"}}
	require.True(t, putWebhook(t, db, w, "whsec_one", false))
	id := w.ID
	require.NotEmpty(t, id)
	require.Equal(t, "whsec_one", w.Secret)

	for _, tc := range []struct {
		name       string
		url        string
		events     []string
		secret     string
		rotate     bool
		wantSecret string
	}{
		{"update keeps the secret", "https://b.example/hook", []string{"batch.done", "group.done"}, "whsec_two", false, "whsec_one"},
		{"rotate replaces it", "https://b.example/hook", []string{"group.done"}, "whsec_three", true, "whsec_three"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &store.Webhook{UserID: u.ID, URL: tc.url, Events: tc.events}
			require.False(t, putWebhook(t, db, w, tc.secret, tc.rotate))
			got, err := db.WebhookByUser(ctx, u.ID)
			require.NoError(t, err)
			require.Equal(t, id, got.ID, "one webhook per user, id kept")
			require.Equal(t, tc.url, got.URL)
			require.Equal(t, tc.events, got.Events)
			require.Equal(t, tc.wantSecret, got.Secret)
			require.Equal(t, *got, *w)
		})
	}

	// The secret never reaches a log line.
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", slog.Any("webhook", w), slog.Any("value", *w))
	require.NotContains(t, buf.String(), "whsec_")
	require.NotContains(t, buf.String(), "b.example")

	var tx *store.Tx
	require.NoError(t, db.InTx(ctx, func(x *store.Tx) error {
		tx = x
		got, err := db.WebhookByUserTx(ctx, tx, u.ID)
		require.NoError(t, err)
		require.Equal(t, id, got.ID)
		return db.DeleteWebhook(ctx, tx, u.ID)
	}))
	_, err = db.WebhookByID(ctx, id)
	require.ErrorIs(t, err, store.ErrWebhookNotFound)
	err = db.InTx(ctx, func(tx *store.Tx) error { return db.DeleteWebhook(ctx, tx, u.ID) })
	require.ErrorIs(t, err, store.ErrWebhookNotFound)
}

func testWebhookDeliveryLog(t *testing.T, db *store.DB) {
	ctx := context.Background()
	u := newUser(t, db, "bob")
	w := &store.Webhook{UserID: u.ID, URL: "https://a.example/hook", Events: []string{"batch.done"}}
	putWebhook(t, db, w, "whsec_x", false)

	create := func(event, batchID string) *store.WebhookDelivery {
		d := &store.WebhookDelivery{WebhookID: w.ID, UserID: u.ID, Event: event, BatchID: batchID, Payload: []byte(`{"id":"x"}`)}
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.CreateWebhookDelivery(ctx, tx, d) }))
		return d
	}
	ping := create("ping", "")
	done := create("batch.done", "b1")
	third := create("batch.done", "b2")

	// A delivery created in a rolled-back transaction does not exist.
	lost := &store.WebhookDelivery{WebhookID: w.ID, UserID: u.ID, Event: "ping", Payload: []byte(`{}`)}
	_ = db.InTx(ctx, func(tx *store.Tx) error {
		require.NoError(t, db.CreateWebhookDelivery(ctx, tx, lost))
		return store.ErrConflict
	})
	_, err := db.WebhookDeliveryByID(ctx, lost.ID)
	require.ErrorIs(t, err, store.ErrDeliveryNotFound)

	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		n, err := db.PendingDeliveries(ctx, tx, w.ID, "ping")
		require.Equal(t, 1, n)
		return err
	}))

	// Every attempt is counted; a settled delivery takes no more.
	for _, tc := range []struct {
		name         string
		status       string
		code         int
		errText      string
		wantAttempts int
		wantErr      error
	}{
		{"5xx, retrying", store.DeliveryPending, 503, "HTTP 503 Service Unavailable", 1, nil},
		{"2xx", store.DeliveryDelivered, 200, "", 2, nil},
		{"settled", store.DeliveryFailed, 500, "late", 0, store.ErrDeliveryNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.RecordWebhookAttempt(ctx, done.ID, tc.status, tc.code, tc.errText)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantAttempts, got.Attempts)
			require.Equal(t, tc.status, got.Status)
			require.Equal(t, tc.code, got.LastStatusCode)
			require.Equal(t, tc.errText, got.LastError)
			require.NotNil(t, got.LastAttemptAt)
			require.Equal(t, tc.status == store.DeliveryDelivered, got.DeliveredAt != nil)
		})
	}
	got, err := db.WebhookDeliveryByID(ctx, done.ID)
	require.NoError(t, err)
	require.Equal(t, store.DeliveryDelivered, got.Status)
	require.Equal(t, 2, got.Attempts)
	require.Equal(t, "b1", got.BatchID)
	require.JSONEq(t, `{"id":"x"}`, string(got.Payload))
	got, err = db.WebhookDeliveryByID(ctx, ping.ID)
	require.NoError(t, err)
	require.Empty(t, got.BatchID)

	// Newest first, two pages.
	page, next, err := db.ListWebhookDeliveries(ctx, w.ID, "", 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.NotEmpty(t, next)
	rest, next2, err := db.ListWebhookDeliveries(ctx, w.ID, next, 2)
	require.NoError(t, err)
	require.Empty(t, next2)
	var ids []string
	for _, d := range append(page, rest...) {
		ids = append(ids, d.ID)
	}
	require.Equal(t, []string{third.ID, done.ID, ping.ID}, ids)
	_, _, err = db.ListWebhookDeliveries(ctx, w.ID, store.EncodeCursor("nonsense"), 2)
	require.Error(t, err)

	// Pruning takes settled deliveries only.
	n, err := db.PruneWebhookDeliveries(ctx, w.ID, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, err = db.WebhookDeliveryByID(ctx, done.ID)
	require.ErrorIs(t, err, store.ErrDeliveryNotFound)

	// Deleting the webhook deletes its log.
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error { return db.DeleteWebhook(ctx, tx, u.ID) }))
	_, err = db.WebhookDeliveryByID(ctx, ping.ID)
	require.ErrorIs(t, err, store.ErrDeliveryNotFound)
}
