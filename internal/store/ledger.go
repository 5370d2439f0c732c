package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SpentSince sums settled and unknown ledger cost of a user since a time.
func (db *DB) SpentSince(ctx context.Context, tx *Tx, userID string, since time.Time) (int64, error) {
	var v sql.NullInt64
	if err := db.queryRow(ctx, tx, "SELECT SUM(cost_micros) FROM usage_ledger WHERE user_id = $1 AND started_at >= $2", userID, micros(since)).Scan(&v); err != nil {
		return 0, fmt.Errorf("sum spend: %w", err)
	}
	return v.Int64, nil
}

// BatchSpent sums the ledger cost of one batch, counting pending calls at
// their estimate (they may be billed).
func (db *DB) BatchSpent(ctx context.Context, batchID string) (int64, error) {
	var v sql.NullInt64
	if err := db.queryRow(ctx, db.R, "SELECT SUM(CASE WHEN status = 'pending' THEN estimated_cost_micros ELSE cost_micros END) FROM usage_ledger WHERE batch_id = $1", batchID).Scan(&v); err != nil {
		return 0, fmt.Errorf("sum batch spend: %w", err)
	}
	return v.Int64, nil
}

// ReservedByActive sums, over the user's non-terminal batches, the part of
// their estimate not yet spent: what they may still cost.
func (db *DB) ReservedByActive(ctx context.Context, tx *Tx, userID string) (int64, error) {
	args := []any{userID}
	q := `SELECT b.estimate_micros, COALESCE((SELECT SUM(cost_micros) FROM usage_ledger u WHERE u.batch_id = b.id), 0)
		FROM batches b WHERE b.user_id = $1 AND b.status IN (` + placeholders(&args, ActiveBatchStates) + ")"
	rs, err := db.query(ctx, tx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("reserved budget: %w", err)
	}
	defer rs.Close()
	var total int64
	for rs.Next() {
		var est, spent int64
		if err := rs.Scan(&est, &spent); err != nil {
			return 0, err
		}
		total += max(0, est-spent)
	}
	return total, rs.Err()
}

// UsageByDay sums a user's spend per day (UTC offset applied by loc) and
// provider since a time.
func (db *DB) UsageRows(ctx context.Context, userID string, since time.Time) ([]UsageRow, error) {
	rs, err := db.query(ctx, db.R, "SELECT provider, started_at, cost_micros, images FROM usage_ledger WHERE user_id = $1 AND started_at >= $2 ORDER BY started_at", userID, micros(since))
	if err != nil {
		return nil, fmt.Errorf("usage rows: %w", err)
	}
	defer rs.Close()
	var out []UsageRow
	for rs.Next() {
		var r UsageRow
		var at int64
		if err := rs.Scan(&r.Provider, &at, &r.CostMicros, &r.Images); err != nil {
			return nil, err
		}
		r.At = fromMicros(at)
		out = append(out, r)
	}
	return out, rs.Err()
}

// UsageRow is one ledger row, reduced.
type UsageRow struct {
	Provider   string
	At         time.Time
	CostMicros int64
	Images     int64
}

// LedgerCount counts the ledger rows of a batch by provider and outcome.
func (db *DB) LedgerCount(ctx context.Context, batchID string) (map[string]int, error) {
	rs, err := db.query(ctx, db.R, "SELECT provider, outcome, COUNT(*) FROM usage_ledger WHERE batch_id = $1 GROUP BY provider, outcome", batchID)
	if err != nil {
		return nil, fmt.Errorf("ledger count: %w", err)
	}
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var p, o string
		var n int
		if err := rs.Scan(&p, &o, &n); err != nil {
			return nil, err
		}
		out[p+"/"+o] += n
	}
	return out, rs.Err()
}

// RefreshBudgets re-reads the user's budgets inside tx.
func (db *DB) RefreshBudgets(ctx context.Context, tx *Tx, u *User) error {
	var daily, monthly sql.NullInt64
	if err := db.queryRow(ctx, tx, "SELECT daily_budget_micros, monthly_budget_micros FROM users WHERE id = $1", u.ID).Scan(&daily, &monthly); err != nil {
		return fmt.Errorf("read budgets: %w", notFound(err))
	}
	u.DailyBudgetMicros, u.MonthlyBudgetMicros = nil, nil
	if daily.Valid {
		v := daily.Int64
		u.DailyBudgetMicros = &v
	}
	if monthly.Valid {
		v := monthly.Int64
		u.MonthlyBudgetMicros = &v
	}
	return nil
}
