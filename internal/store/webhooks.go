package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ludeng/ludeng/internal/fault"
)

// Delivery states.
const (
	DeliveryPending   = "pending"   // not yet delivered; River retries it
	DeliveryDelivered = "delivered" // a 2xx answer arrived
	DeliveryFailed    = "failed"    // permanent failure or out of attempts
)

// Errors of the webhook store.
var (
	ErrWebhookNotFound  = fault.New(fault.NotFound, "webhook_not_found", "No webhook is configured.")
	ErrDeliveryNotFound = fault.New(fault.NotFound, "webhook_delivery_not_found", "The webhook delivery does not exist.")
)

// Webhook is a user's outgoing webhook (at most one per user).
type Webhook struct {
	ID     string
	UserID string
	URL    string
	Events []string
	// Secret signs deliveries. It must never reach a log: LogValue omits it.
	Secret    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LogValue keeps the secret and the URL (which may embed a token, as
// Slack-style URLs do) out of logs.
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", w.ID), slog.String("user_id", w.UserID))
}

// WebhookDelivery is one event sent (or to be sent) to a webhook; attempts
// counts the tries.
type WebhookDelivery struct {
	ID        string
	WebhookID string
	UserID    string
	Event     string
	// BatchID is "" for events without a batch (ping).
	BatchID string
	// Payload is the exact JSON body sent with every attempt.
	Payload        json.RawMessage
	Status         string
	Attempts       int
	LastStatusCode int // 0: no HTTP answer
	LastError      string
	CreatedAt      time.Time
	LastAttemptAt  *time.Time
	DeliveredAt    *time.Time
}

const webhookCols = "id, user_id, url, events, secret, created_at, updated_at"

func scanWebhook(row interface{ Scan(...any) error }) (*Webhook, error) {
	var w Webhook
	var events string
	var created, updated int64
	if err := row.Scan(&w.ID, &w.UserID, &w.URL, &events, &w.Secret, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrWebhookNotFound
		}
		return nil, fmt.Errorf("scan webhook: %w", err)
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s events: %w", w.ID, err)
	}
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &w, nil
}

// WebhookByUser returns the user's webhook or ErrWebhookNotFound.
func (db *DB) WebhookByUser(ctx context.Context, userID string) (*Webhook, error) {
	return scanWebhook(db.queryRow(ctx, db.R, "SELECT "+webhookCols+" FROM webhooks WHERE user_id = $1", userID))
}

// WebhookByUserTx is WebhookByUser inside tx: the pipeline looks the
// webhook up in the transaction that ends a batch, so the delivery is
// queued with that change or not at all.
func (db *DB) WebhookByUserTx(ctx context.Context, tx *Tx, userID string) (*Webhook, error) {
	return scanWebhook(db.queryRow(ctx, tx, "SELECT "+webhookCols+" FROM webhooks WHERE user_id = $1", userID))
}

// WebhookByID returns a webhook by id.
func (db *DB) WebhookByID(ctx context.Context, id string) (*Webhook, error) {
	return scanWebhook(db.queryRow(ctx, db.R, "SELECT "+webhookCols+" FROM webhooks WHERE id = $1", id))
}

// PutWebhook creates the user's webhook or replaces its URL and events.
// An existing webhook keeps its id and secret unless rotate is set; secret
// is the value to store when the webhook is created or rotated. It reports
// whether the row was created, and fills w from the stored row.
func (db *DB) PutWebhook(ctx context.Context, tx *Tx, w *Webhook, secret string, rotate bool) (created bool, err error) {
	// Serialise concurrent PUTs of one user on PostgreSQL, so the second
	// sees the first's row instead of failing the unique index.
	if err := db.LockUser(ctx, tx, w.UserID); err != nil {
		return false, err
	}
	events, err := json.Marshal(w.Events)
	if err != nil {
		return false, fmt.Errorf("encode webhook events: %w", err)
	}
	now := micros(db.now())
	old, err := db.WebhookByUserTx(ctx, tx, w.UserID)
	switch {
	case errors.Is(err, ErrWebhookNotFound):
		w.ID = NewID()
		if _, err := db.exec(ctx, tx, "INSERT INTO webhooks ("+webhookCols+") VALUES ($1, $2, $3, $4, $5, $6, $6)",
			w.ID, w.UserID, w.URL, string(events), secret, now); err != nil {
			return false, fmt.Errorf("insert webhook: %w", err)
		}
		created = true
	case err != nil:
		return false, err
	default:
		w.ID = old.ID
		q := "UPDATE webhooks SET url = $1, events = $2, updated_at = $3 WHERE id = $4"
		args := []any{w.URL, string(events), now, old.ID}
		if rotate {
			q = "UPDATE webhooks SET url = $1, events = $2, updated_at = $3, secret = $5 WHERE id = $4"
			args = append(args, secret)
		}
		if _, err := db.exec(ctx, tx, q, args...); err != nil {
			return false, fmt.Errorf("update webhook: %w", err)
		}
	}
	stored, err := db.WebhookByUserTx(ctx, tx, w.UserID)
	if err != nil {
		return false, err
	}
	*w = *stored
	return created, nil
}

// DeleteWebhook removes the user's webhook with its delivery log; pending
// delivery jobs find nothing and end.
func (db *DB) DeleteWebhook(ctx context.Context, tx *Tx, userID string) error {
	res, err := db.exec(ctx, tx, "DELETE FROM webhooks WHERE user_id = $1", userID)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrWebhookNotFound
	}
	return nil
}

const deliveryCols = "id, webhook_id, user_id, event, batch_id, payload, status, attempts, last_status_code, last_error, created_at, last_attempt_at, delivered_at"

func scanDelivery(row interface{ Scan(...any) error }) (*WebhookDelivery, error) {
	var d WebhookDelivery
	var batchID sql.NullString
	var payload string
	var created int64
	var attempted, delivered sql.NullInt64
	if err := row.Scan(&d.ID, &d.WebhookID, &d.UserID, &d.Event, &batchID, &payload, &d.Status, &d.Attempts,
		&d.LastStatusCode, &d.LastError, &created, &attempted, &delivered); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrDeliveryNotFound
		}
		return nil, fmt.Errorf("scan webhook delivery: %w", err)
	}
	d.BatchID, d.Payload = batchID.String, json.RawMessage(payload)
	d.CreatedAt = fromMicros(created)
	d.LastAttemptAt, d.DeliveredAt = fromNullMicros(attempted), fromNullMicros(delivered)
	return &d, nil
}

// CreateWebhookDelivery records a pending delivery (ID assigned when
// empty) in tx; the caller queues its job in the same transaction.
func (db *DB) CreateWebhookDelivery(ctx context.Context, tx *Tx, d *WebhookDelivery) error {
	if d.ID == "" {
		d.ID = NewID()
	}
	d.Status, d.Attempts = DeliveryPending, 0
	d.CreatedAt = db.now().UTC().Truncate(time.Microsecond)
	var batchID any
	if d.BatchID != "" {
		batchID = d.BatchID
	}
	_, err := db.exec(ctx, tx, "INSERT INTO webhook_deliveries ("+deliveryCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, '', $8, NULL, NULL)",
		d.ID, d.WebhookID, d.UserID, d.Event, batchID, string(d.Payload), d.Status, micros(d.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert webhook delivery: %w", err)
	}
	return nil
}

// WebhookDeliveryByID reads one delivery.
func (db *DB) WebhookDeliveryByID(ctx context.Context, id string) (*WebhookDelivery, error) {
	return scanDelivery(db.queryRow(ctx, db.R, "SELECT "+deliveryCols+" FROM webhook_deliveries WHERE id = $1", id))
}

// PendingDeliveries counts a webhook's pending deliveries of one event, in tx.
func (db *DB) PendingDeliveries(ctx context.Context, tx *Tx, webhookID, event string) (int, error) {
	var n int
	if err := db.queryRow(ctx, tx, "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = $1 AND event = $2 AND status = $3",
		webhookID, event, DeliveryPending).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending deliveries: %w", err)
	}
	return n, nil
}

// maxDeliveryError bounds last_error: a receiver's failure description,
// not a place to store its whole answer.
const maxDeliveryError = 500

// RecordWebhookAttempt counts one attempt of a still pending delivery and
// moves it to status (pending while River retries, delivered or failed).
// It returns ErrDeliveryNotFound when the delivery is gone or already
// settled, so a job that runs twice records nothing twice.
func (db *DB) RecordWebhookAttempt(ctx context.Context, id, status string, statusCode int, errText string) (*WebhookDelivery, error) {
	now := micros(db.now())
	var delivered any
	if status == DeliveryDelivered {
		delivered = now
	}
	errText = cutUTF8(errText, maxDeliveryError)
	res, err := db.exec(ctx, db.W, `UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2,
		last_error = $3, last_attempt_at = $4, delivered_at = $5 WHERE id = $6 AND status = $7`,
		status, statusCode, errText, now, delivered, id, DeliveryPending)
	if err != nil {
		return nil, fmt.Errorf("record webhook attempt: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrDeliveryNotFound
	}
	return scanDelivery(db.queryRow(ctx, db.W, "SELECT "+deliveryCols+" FROM webhook_deliveries WHERE id = $1", id))
}

// ListWebhookDeliveries returns a webhook's deliveries newest first and the
// next cursor ("" on the last page).
func (db *DB) ListWebhookDeliveries(ctx context.Context, webhookID, cursor string, limit int) ([]*WebhookDelivery, string, error) {
	if limit <= 0 {
		limit = 50
	}
	q := "SELECT " + deliveryCols + " FROM webhook_deliveries WHERE webhook_id = $1"
	args := []any{webhookID}
	if cursor != "" {
		at, id, err := decodeTimeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		args = append(args, at, id)
		q += " AND (created_at < $2 OR (created_at = $2 AND id < $3))"
	}
	args = append(args, limit+1)
	q += " ORDER BY created_at DESC, id DESC LIMIT $" + strconv.Itoa(len(args))
	rs, err := db.query(ctx, db.R, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list webhook deliveries: %w", err)
	}
	defer rs.Close()
	out := []*WebhookDelivery{}
	for rs.Next() {
		d, err := scanDelivery(rs)
		if err != nil {
			return nil, "", err
		}
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, "", fmt.Errorf("list webhook deliveries: %w", err)
	}
	out, next := timePage(out, limit, func(d *WebhookDelivery) (time.Time, string) { return d.CreatedAt, d.ID })
	return out, next, nil
}

// PruneWebhookDeliveries deletes a webhook's settled deliveries created
// before a time and returns how many; pending ones stay until River is done.
func (db *DB) PruneWebhookDeliveries(ctx context.Context, webhookID string, before time.Time) (int64, error) {
	res, err := db.exec(ctx, db.W, "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND created_at < $2 AND status <> $3",
		webhookID, micros(before), DeliveryPending)
	if err != nil {
		return 0, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// cutUTF8 shortens s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
