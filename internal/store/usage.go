package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// UsageBegin is the pending ledger row written before a provider call.
type UsageBegin struct {
	RequestID, UserID, BatchID, GroupID, ImageID string
	Provider, Model, Operation                   string
	Attempt                                      int
	EstimatedCostMicros                          int64
	StartedAt                                    time.Time
}

// UsageSettle completes a ledger row.
type UsageSettle struct {
	Outcome, ErrorCode        string
	InputTokens, OutputTokens int64
	Images                    int
	CostMicros                int64
	Latency                   time.Duration
	FinishedAt                time.Time
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// BeginUsage writes a pending ledger row and returns its id.
func (db *DB) BeginUsage(ctx context.Context, u UsageBegin) (string, error) {
	id := NewID()
	if u.StartedAt.IsZero() {
		u.StartedAt = db.now()
	}
	_, err := db.exec(ctx, db.W, `INSERT INTO usage_ledger (id, request_id, user_id, batch_id, group_id, image_id, provider, model,
		operation, attempt, status, estimated_cost_micros, started_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12)`,
		id, u.RequestID, nullStr(u.UserID), nullStr(u.BatchID), nullStr(u.GroupID), nullStr(u.ImageID), u.Provider, u.Model,
		u.Operation, u.Attempt, u.EstimatedCostMicros, micros(u.StartedAt))
	if err != nil {
		return "", fmt.Errorf("insert usage: %w", err)
	}
	return id, nil
}

// SettleUsage completes a pending row.
func (db *DB) SettleUsage(ctx context.Context, id string, s UsageSettle) error {
	if s.FinishedAt.IsZero() {
		s.FinishedAt = db.now()
	}
	_, err := db.exec(ctx, db.W, `UPDATE usage_ledger SET status = 'settled', outcome = $1, error_code = $2, input_tokens = $3,
		output_tokens = $4, images = $5, cost_micros = $6, latency_ms = $7, finished_at = $8 WHERE id = $9`,
		s.Outcome, s.ErrorCode, s.InputTokens, s.OutputTokens, s.Images, s.CostMicros, s.Latency.Milliseconds(), micros(s.FinishedAt), id)
	if err != nil {
		return fmt.Errorf("settle usage: %w", err)
	}
	return nil
}

// MarkPendingUsageUnknown turns rows left pending by a crash into 'unknown'
// and charges their estimated cost: the provider may have billed the call.
func (db *DB) MarkPendingUsageUnknown(ctx context.Context, startedBefore time.Time) (int64, error) {
	res, err := db.exec(ctx, db.W, `UPDATE usage_ledger SET status = 'unknown', outcome = 'unknown', cost_micros = estimated_cost_micros,
		finished_at = $1 WHERE status = 'pending' AND started_at < $2`, micros(db.now()), micros(startedBefore))
	if err != nil {
		return 0, fmt.Errorf("mark pending usage: %w", err)
	}
	return res.RowsAffected()
}

// UsageTotal sums cost and calls of a filter window.
type UsageTotal struct {
	Provider   string `json:"provider"`
	Calls      int64  `json:"calls"`
	Images     int64  `json:"images"`
	CostMicros int64  `json:"cost_micros"`
}

// UsageByProvider sums settled and unknown usage since a time, optionally
// for one user ("" = everyone).
func (db *DB) UsageByProvider(ctx context.Context, userID string, since time.Time) ([]UsageTotal, error) {
	rows, err := db.query(ctx, db.R, `SELECT provider, COUNT(*), COALESCE(SUM(images), 0), COALESCE(SUM(cost_micros), 0)
		FROM usage_ledger WHERE started_at >= $1 AND ($2 = '' OR user_id = $2) GROUP BY provider ORDER BY provider`,
		micros(since), userID)
	if err != nil {
		return nil, fmt.Errorf("usage by provider: %w", err)
	}
	defer rows.Close()
	out := []UsageTotal{}
	for rows.Next() {
		var t UsageTotal
		var images, cost sql.NullInt64
		if err := rows.Scan(&t.Provider, &t.Calls, &images, &cost); err != nil {
			return nil, fmt.Errorf("scan usage: %w", err)
		}
		t.Images, t.CostMicros = images.Int64, cost.Int64
		out = append(out, t)
	}
	return out, rows.Err()
}
