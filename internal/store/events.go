package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event is one stored state change of a batch.
type Event struct {
	BatchID   string          `json:"batch_id"`
	Seq       int64           `json:"seq"`
	Type      EventKind       `json:"type"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// EventKind names a batch event. It is the one vocabulary of the event log
// (REST /events "type"), the WebSocket stream ("kind", passed through
// unchanged) and the webhooks (which add the two *.done kinds).
type EventKind string

// Event kinds. Image and group kinds are "image.<status>" and
// "group.<status>" (ImageKind, GroupKind); image.updated is a change without
// a status change (a nudged variant, an enhanced prompt).
const (
	KindBatchCreated  EventKind = "batch.created"  // data: status, groups, images
	KindBatchStatus   EventKind = "batch.status"   // data: status, message, …
	KindBatchProgress EventKind = "batch.progress" // data: done, total, succeeded, failed
	KindBatchQueue    EventKind = "batch.queue"    // data: queue_position
	KindImageUpdated  EventKind = "image.updated"  // data: image_id, group_id, …
	// KindBatchDone and KindGroupDone are webhook events, never stored.
	KindBatchDone EventKind = "batch.done"
	KindGroupDone EventKind = "group.done"
)

// ImageKind is the kind of an image's move to status.
func ImageKind(status string) EventKind { return EventKind("image." + status) }

// GroupKind is the kind of a group's move to status.
func GroupKind(status string) EventKind { return EventKind("group." + status) }

// EventKinds are every kind the event log can hold, for the API document.
func EventKinds() []EventKind {
	out := []EventKind{KindBatchCreated, KindBatchStatus, KindBatchProgress, KindBatchQueue, KindImageUpdated}
	for _, s := range ImageStatuses {
		out = append(out, ImageKind(string(s)))
	}
	for _, s := range []string{GroupPending, GroupSucceeded, GroupFailed, GroupCancelled} {
		out = append(out, GroupKind(s))
	}
	return out
}

// AddEvent appends an event to the batch's log with the next sequence
// number. Call it in the transaction of the state change it describes.
func (db *DB) AddEvent(ctx context.Context, tx *Tx, batchID string, kind EventKind, data any) (int64, error) {
	var seq int64
	if err := db.queryRow(ctx, tx, "UPDATE batches SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq", batchID).Scan(&seq); err != nil {
		return 0, fmt.Errorf("next event seq: %w", notFound(err))
	}
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	if _, err := db.exec(ctx, tx, "INSERT INTO batch_events (batch_id, seq, type, data, created_at) VALUES ($1, $2, $3, $4, $5)",
		batchID, seq, string(kind), string(raw), micros(db.now())); err != nil {
		return 0, fmt.Errorf("insert event: %w", err)
	}
	switch {
	case db.notifyChannel != "":
		if _, err := db.exec(ctx, tx, "SELECT pg_notify($1, $2)", db.notifyChannel, batchID+":"+strconv.FormatInt(seq, 10)); err != nil {
			return 0, fmt.Errorf("notify event: %w", err)
		}
	case db.eventHook != nil:
		hook := db.eventHook
		tx.AfterCommit(func() { hook(batchID, seq) })
	}
	return seq, nil
}

// EventsAfter returns the batch's events with seq > after, in order.
func (db *DB) EventsAfter(ctx context.Context, batchID string, after int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	rs, err := db.query(ctx, db.R, "SELECT batch_id, seq, type, data, created_at FROM batch_events WHERE batch_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
		batchID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rs.Close()
	out := []Event{}
	for rs.Next() {
		var e Event
		var data string
		var at int64
		if err := rs.Scan(&e.BatchID, &e.Seq, &e.Type, &data, &at); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e.Data, e.CreatedAt = json.RawMessage(data), fromMicros(at)
		out = append(out, e)
	}
	return out, rs.Err()
}

// progressEvent stores batch.progress with the batch's image counts.
func (db *DB) progressEvent(ctx context.Context, tx *Tx, batchID string) error {
	var total, done, succeeded, failed int64
	err := db.queryRow(ctx, tx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN status IN ('succeeded', 'failed', 'cancelled') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0)
		FROM images WHERE batch_id = $1`, batchID).Scan(&total, &done, &succeeded, &failed)
	if err != nil {
		return fmt.Errorf("batch progress: %w", err)
	}
	_, err = db.AddEvent(ctx, tx, batchID, KindBatchProgress, map[string]any{"done": done, "total": total, "succeeded": succeeded, "failed": failed})
	return err
}

// queueEvents stores batch.queue with the new queue position for each batch
// still waiting to start (other than the one whose image just finished): an
// image leaving the queue moves every waiting batch behind it one ahead.
func (db *DB) queueEvents(ctx context.Context, tx *Tx, except string) error {
	rs, err := db.query(ctx, tx, "SELECT "+batchCols+" FROM batches WHERE status = $1 AND id <> $2", BatchQueued, except)
	if err != nil {
		return fmt.Errorf("queued batches: %w", err)
	}
	var waiting []*Batch
	for rs.Next() {
		b, err := db.scanBatch(rs)
		if err != nil {
			rs.Close()
			return err
		}
		waiting = append(waiting, b)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	for _, b := range waiting {
		ahead, err := db.queuedAhead(ctx, tx, b)
		if err != nil {
			return err
		}
		if _, err := db.AddEvent(ctx, tx, b.ID, KindBatchQueue, map[string]any{"queue_position": ahead}); err != nil {
			return err
		}
	}
	return nil
}
