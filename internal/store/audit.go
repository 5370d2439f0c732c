package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEntry is one row of the audit log: who did what to which target, when.
type AuditEntry struct {
	ID         string         `json:"id"`
	At         time.Time      `json:"at"`
	ActorID    string         `json:"actor_id,omitempty"`
	ActorName  string         `json:"actor_name"`
	Action     string         `json:"action"`
	TargetType string         `json:"target_type"`
	TargetID   string         `json:"target_id"`
	Detail     map[string]any `json:"detail,omitempty"`
	IP         string         `json:"ip,omitempty"`
	RequestID  string         `json:"request_id,omitempty"`
}

// Audit appends an entry. Pass the transaction of the change it describes so
// the record exists exactly when the change does; tx may be nil for events
// that change nothing else (a failed login, a blocked upload).
func (db *DB) Audit(ctx context.Context, tx *Tx, e AuditEntry) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.At.IsZero() {
		e.At = db.now()
	}
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return fmt.Errorf("marshal audit detail: %w", err)
	}
	var x querier = db.W
	if tx != nil {
		x = tx
	}
	var actor any
	if e.ActorID != "" {
		actor = e.ActorID
	}
	_, err = db.exec(ctx, x, `INSERT INTO audit_log (id, at, actor_id, actor_name, action, target_type, target_id, detail, ip, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.ID, micros(e.At), actor, e.ActorName, e.Action, e.TargetType, e.TargetID, string(detail), e.IP, e.RequestID)
	if err != nil {
		return fmt.Errorf("insert audit: %w", err)
	}
	return nil
}

// AuditFilter narrows ListAudit.
type AuditFilter struct {
	Action     string
	TargetType string
	TargetID   string
	Before     string // id cursor
	Limit      int
}

// ListAudit returns entries newest first.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	before := f.Before
	if before == "" {
		before = "~"
	}
	rows, err := db.query(ctx, db.R, `SELECT id, at, COALESCE(actor_id, ''), actor_name, action, target_type, target_id, detail, ip, request_id
		FROM audit_log WHERE id < $1 AND ($2 = '' OR action = $2) AND ($3 = '' OR target_type = $3) AND ($4 = '' OR target_id = $4)
		ORDER BY id DESC LIMIT $5`, before, f.Action, f.TargetType, f.TargetID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.ActorID, &e.ActorName, &e.Action, &e.TargetType, &e.TargetID, &detail, &e.IP, &e.RequestID); err != nil {
			return nil, fmt.Errorf("scan audit: %w", err)
		}
		e.At = fromMicros(at)
		_ = json.Unmarshal([]byte(detail), &e.Detail)
		out = append(out, e)
	}
	return out, rows.Err()
}
