package store

import (
	"context"
	"fmt"
)

// EventHead is the highest event sequence number of one batch.
type EventHead struct {
	BatchID string
	Seq     int64
}

// EventHeadsSince returns, per batch, the highest seq among the events
// stored after the row cursor (SQLite's rowid, which only grows: events are
// never updated and only deleted with their batch), and the new cursor.
// cursor < 0 returns no heads, only the current cursor.
//
// It exists for SQLite, whose in-process event hook cannot hear another
// process: during a binary handoff two processes share the file and each
// one's WebSocket clients must see the other's events. PostgreSQL has
// LISTEN/NOTIFY for that.
func (db *DB) EventHeadsSince(ctx context.Context, cursor int64) ([]EventHead, int64, error) {
	if db.Engine != SQLite {
		return nil, cursor, fmt.Errorf("event heads: only on SQLite")
	}
	if cursor < 0 {
		var top int64
		if err := db.R.QueryRowContext(ctx, "SELECT COALESCE(MAX(rowid), 0) FROM batch_events").Scan(&top); err != nil {
			return nil, cursor, fmt.Errorf("event cursor: %w", err)
		}
		return nil, top, nil
	}
	rs, err := db.R.QueryContext(ctx, "SELECT batch_id, MAX(seq), MAX(rowid) FROM batch_events WHERE rowid > ? GROUP BY batch_id", cursor)
	if err != nil {
		return nil, cursor, fmt.Errorf("event heads: %w", err)
	}
	defer rs.Close()
	var out []EventHead
	next := cursor
	for rs.Next() {
		var h EventHead
		var top int64
		if err := rs.Scan(&h.BatchID, &h.Seq, &top); err != nil {
			return nil, cursor, fmt.Errorf("scan event head: %w", err)
		}
		out = append(out, h)
		next = max(next, top)
	}
	if err := rs.Err(); err != nil {
		return nil, cursor, err
	}
	return out, next, nil
}
