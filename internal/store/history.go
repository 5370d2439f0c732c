package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
)

// DB implements the planner's History.
var _ plan.History = (*DB)(nil)

// HistoryRow is one combination of a user's generation history.
type HistoryRow struct {
	ID          string           `json:"id"`
	UserID      string           `json:"user_id"`
	Combination plan.Combination `json:"combination"`
	Key         string           `json:"key"`
	LOOKeys     [4]string        `json:"loo_keys"`
	PoolVersion string           `json:"pool_version"`
	BatchID     string           `json:"batch_id,omitempty"` // "" is NULL
	GroupID     string           `json:"group_id,omitempty"` // "" is NULL
	// State is plan.StateReserved, StateUsed, StateReleased or StateArchived.
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Entry converts the row to the planner's view.
func (r *HistoryRow) Entry() plan.HistoryEntry {
	return plan.HistoryEntry{
		ID: r.ID, Combination: r.Combination, Key: r.Key, LOOKeys: r.LOOKeys,
		BatchID: r.BatchID, GroupID: r.GroupID, State: r.State, CreatedAt: r.CreatedAt,
	}
}

// HistoryInsert is one row to insert.
type HistoryInsert struct {
	Combination plan.Combination
	PoolVersion string
	BatchID     string // optional
	GroupID     string // optional
	// CreatedAt defaults to the store's clock (set it for imports).
	CreatedAt time.Time
}

// ErrHistoryConflict: a blocking (reserved or used) row of the user already
// has the combination or one a single dimension away. Params name the keys.
var ErrHistoryConflict = fault.New(fault.Conflict, "history_conflict",
	"The combination repeats, or differs in one dimension only from, one already reserved or used.")

var historyStates = []string{plan.StateReserved, plan.StateUsed, plan.StateReleased, plan.StateArchived}

const historyCols = "id, user_id, key, loo1, loo2, loo3, loo4, county_code, province_code, month, road, elements, pool_version, batch_id, group_id, state, created_at, updated_at"

// blockingWhere selects blocking rows. It must stay textually identical to
// the WHERE clause of the partial indexes history_active_loo* so that SQLite
// uses them.
const blockingWhere = "state IN ('reserved', 'used')"

func scanHistory(row interface{ Scan(...any) error }) (*HistoryRow, error) {
	var r HistoryRow
	var elements string
	var batch, group *string
	var created, updated int64
	err := row.Scan(&r.ID, &r.UserID, &r.Key, &r.LOOKeys[0], &r.LOOKeys[1], &r.LOOKeys[2], &r.LOOKeys[3],
		&r.Combination.CountyCode, &r.Combination.ProvinceCode, &r.Combination.Month, &r.Combination.Road,
		&elements, &r.PoolVersion, &batch, &group, &r.State, &created, &updated)
	if err != nil {
		return nil, notFound(err)
	}
	r.Combination.Elements = []string{}
	if elements != "" {
		r.Combination.Elements = strings.Split(elements, "+")
	}
	if batch != nil {
		r.BatchID = *batch
	}
	if group != nil {
		r.GroupID = *group
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &r, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// historyInsertChunk rows per INSERT statement (18 parameters each).
const historyInsertChunk = 200

// InsertHistory inserts rows for the user in state (reserved or used for
// plans; released or archived are accepted for imports). Blocking rows are
// checked first, inside tx: a combination that repeats or is one dimension
// away from a blocking row of the user, or from another blocking row of the
// same call, is ErrHistoryConflict and nothing is inserted. The unique
// partial indexes enforce the same rule against concurrent transactions; a
// violation there is also ErrHistoryConflict, after which the transaction
// must be rolled back.
func (db *DB) InsertHistory(ctx context.Context, tx *Tx, userID, state string, items []HistoryInsert) ([]*HistoryRow, error) {
	if !slices.Contains(historyStates, state) {
		return nil, fault.Newf(fault.Invalid, "history_bad_state", "Unknown history state %q.", state)
	}
	now := db.now().UTC()
	rows := make([]*HistoryRow, len(items))
	for i, it := range items {
		c := it.Combination.Canonical()
		if err := c.Validate(); err != nil {
			return nil, err
		}
		created := it.CreatedAt
		if created.IsZero() {
			created = now
		}
		rows[i] = &HistoryRow{
			ID: NewID(), UserID: userID, Combination: c, Key: c.Key(), LOOKeys: c.LOOKeys(),
			PoolVersion: it.PoolVersion, BatchID: it.BatchID, GroupID: it.GroupID, State: state,
			CreatedAt: created.UTC().Truncate(time.Microsecond), UpdatedAt: now.Truncate(time.Microsecond),
		}
	}
	if state == plan.StateReserved || state == plan.StateUsed {
		if err := db.checkHistoryConflicts(ctx, tx, userID, rows); err != nil {
			return nil, err
		}
	}
	for start := 0; start < len(rows); {
		// Fixed chunk sizes keep the number of distinct statement texts small.
		size := historyInsertChunk
		for size > len(rows)-start {
			size /= 4
		}
		size = max(size, 1)
		chunk := rows[start : start+size]
		start += size
		var sb strings.Builder
		sb.WriteString("INSERT INTO history (" + historyCols + ") VALUES ")
		args := make([]any, 0, len(chunk)*18)
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(")
			for k := range 18 {
				if k > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("$" + strconv.Itoa(len(args)+k+1))
			}
			sb.WriteString(")")
			c := r.Combination
			args = append(args, r.ID, r.UserID, r.Key, r.LOOKeys[0], r.LOOKeys[1], r.LOOKeys[2], r.LOOKeys[3],
				c.CountyCode, c.ProvinceCode, c.Month, c.Road, strings.Join(c.Elements, "+"), r.PoolVersion,
				nullString(r.BatchID), nullString(r.GroupID), r.State, micros(r.CreatedAt), micros(r.UpdatedAt))
		}
		if _, err := db.exec(ctx, tx, sb.String(), args...); err != nil {
			if isUniqueViolation(err) {
				return nil, ErrHistoryConflict.Wrap(err)
			}
			return nil, fmt.Errorf("insert history: %w", err)
		}
	}
	return rows, nil
}

// checkHistoryConflicts refuses rows that share a leave-one-out key with each
// other or with a blocking row of the user.
func (db *DB) checkHistoryConflicts(ctx context.Context, tx *Tx, userID string, rows []*HistoryRow) error {
	var loo [4][]string
	seen := [4]map[string]int{}
	for d := range 4 {
		seen[d] = map[string]int{}
	}
	for i, r := range rows {
		for d := range 4 {
			if j, dup := seen[d][r.LOOKeys[d]]; dup {
				return ErrHistoryConflict.With("key", r.Key).With("conflicts_with", rows[j].Key)
			}
			seen[d][r.LOOKeys[d]] = i
			loo[d] = append(loo[d], r.LOOKeys[d])
		}
	}
	hits, err := db.blockingRows(ctx, tx, userID, loo)
	if err != nil {
		return err
	}
	for _, h := range hits {
		for d := range 4 {
			if i, ok := seen[d][h.LOOKeys[d]]; ok {
				return ErrHistoryConflict.With("key", rows[i].Key).With("conflicts_with", h.Key).With("history_id", h.ID)
			}
		}
	}
	return nil
}

// blockingChunk bounds the keys per dimension of one statement.
const blockingChunk = 1000

// BlockingHistory implements plan.History: the user's reserved and used rows
// whose leave-one-out key of dimension d is among loo[d]. Each dimension is
// an indexed probe of the partial unique index history_active_loo<d+1>, so
// the cost grows with the number of keys, not with the size of the history.
func (db *DB) BlockingHistory(ctx context.Context, userID string, loo [plan.Dimensions][]string) ([]plan.HistoryEntry, error) {
	rows, err := db.blockingRows(ctx, db.R, userID, loo)
	if err != nil {
		return nil, err
	}
	out := make([]plan.HistoryEntry, len(rows))
	for i, r := range rows {
		out[i] = r.Entry()
	}
	return out, nil
}

// blockingQuery is one statement for all four dimensions. The key lists are
// single parameters (a JSON array on SQLite, a text[] on PostgreSQL), so the
// statement text never changes and stays short however many keys are asked.
func (db *DB) blockingQuery() string {
	var sb strings.Builder
	for d := range 4 {
		if d > 0 {
			sb.WriteString(" UNION ALL ")
		}
		member := fmt.Sprintf("loo%d IN (SELECT value FROM json_each($%d))", d+1, d+2)
		if db.Engine == Postgres {
			member = fmt.Sprintf("loo%d = ANY($%d::text[])", d+1, d+2)
		}
		fmt.Fprintf(&sb, "SELECT %s FROM history WHERE user_id = $1 AND %s AND %s", historyCols, blockingWhere, member)
	}
	return sb.String()
}

// keyListParam encodes keys for blockingQuery. Keys are hex digests (the
// planner's) or at least never contain quotes, commas or braces; anything
// else is rejected rather than escaped.
func (db *DB) keyListParam(keys []string) (string, error) {
	for _, k := range keys {
		if strings.ContainsAny(k, "\"{},\\ ") {
			return "", fmt.Errorf("history key %q has a reserved character", k)
		}
	}
	if db.Engine == Postgres {
		return "{" + strings.Join(keys, ",") + "}", nil
	}
	if len(keys) == 0 {
		return "[]", nil
	}
	return `["` + strings.Join(keys, `","`) + `"]`, nil
}

func (db *DB) blockingRows(ctx context.Context, q querier, userID string, loo [4][]string) ([]*HistoryRow, error) {
	var out []*HistoryRow
	seen := map[string]bool{}
	query := db.blockingQuery()
	for start := 0; ; start += blockingChunk {
		args := []any{userID}
		more := false
		for d := range 4 {
			var keys []string
			if start < len(loo[d]) {
				keys = loo[d][start:min(start+blockingChunk, len(loo[d]))]
				more = true
			}
			p, err := db.keyListParam(keys)
			if err != nil {
				return nil, err
			}
			args = append(args, p)
		}
		if !more {
			return out, nil
		}
		rs, err := db.query(ctx, q, query, args...)
		if err != nil {
			return nil, fmt.Errorf("query blocking history: %w", err)
		}
		for rs.Next() {
			r, err := scanHistory(rs)
			if err != nil {
				rs.Close()
				return nil, fmt.Errorf("scan history: %w", err)
			}
			if !seen[r.ID] {
				seen[r.ID] = true
				out = append(out, r)
			}
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("query blocking history: %w", err)
		}
	}
}

// setHistoryState moves the batch's rows (or only the listed groups) from
// one state to another.
func (db *DB) setHistoryState(ctx context.Context, tx *Tx, userID, batchID string, groupIDs []string, from, to string) (int64, error) {
	q := "UPDATE history SET state = $1, updated_at = $2 WHERE user_id = $3 AND batch_id = $4 AND state = $5"
	args := []any{to, micros(db.now()), userID, batchID, from}
	if len(groupIDs) > 0 {
		q += " AND group_id IN ("
		for i, g := range groupIDs {
			if i > 0 {
				q += ", "
			}
			args = append(args, g)
			q += "$" + strconv.Itoa(len(args))
		}
		q += ")"
	}
	res, err := db.exec(ctx, tx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("update history %s→%s: %w", from, to, err)
	}
	return res.RowsAffected()
}

// MarkHistoryUsed turns the batch's reserved rows (all, or only groupIDs)
// into used ones, once their images exist. It returns the rows changed.
func (db *DB) MarkHistoryUsed(ctx context.Context, tx *Tx, userID, batchID string, groupIDs ...string) (int64, error) {
	return db.setHistoryState(ctx, tx, userID, batchID, groupIDs, plan.StateReserved, plan.StateUsed)
}

// ReleaseHistory frees the batch's reserved rows (all, or only groupIDs)
// when a batch is cancelled or its groups failed: released rows no longer
// block.
func (db *DB) ReleaseHistory(ctx context.Context, tx *Tx, userID, batchID string, groupIDs ...string) (int64, error) {
	return db.setHistoryState(ctx, tx, userID, batchID, groupIDs, plan.StateReserved, plan.StateReleased)
}

// ArchiveHistory archives the user's used rows created before the given
// time, freeing their combinations for reuse. Reserved rows (batches still
// running) are left alone. It returns the rows archived.
func (db *DB) ArchiveHistory(ctx context.Context, tx *Tx, userID string, before time.Time) (int64, error) {
	res, err := db.exec(ctx, tx, "UPDATE history SET state = $1, updated_at = $2 WHERE user_id = $3 AND state = $4 AND created_at < $5",
		plan.StateArchived, micros(db.now()), userID, plan.StateUsed, micros(before))
	if err != nil {
		return 0, fmt.Errorf("archive history: %w", err)
	}
	return res.RowsAffected()
}

// HistoryFilter narrows ListHistory.
type HistoryFilter struct {
	// States to include; empty means all.
	States []string
	// Cursor continues after the last row of the previous page.
	Cursor string
	// Limit defaults to 50, at most 500.
	Limit int
}

// ListHistory returns the user's rows, newest first, and the cursor of the
// next page ("" at the end).
func (db *DB) ListHistory(ctx context.Context, userID string, f HistoryFilter) ([]*HistoryRow, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	q := "SELECT " + historyCols + " FROM history WHERE user_id = $1"
	args := []any{userID}
	if f.Cursor != "" {
		t, id, err := decodeTimeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		args = append(args, t, id)
		q += " AND (created_at < $2 OR (created_at = $2 AND id < $3))"
	}
	if len(f.States) > 0 {
		q += " AND state IN ("
		for i, s := range f.States {
			if !slices.Contains(historyStates, s) {
				return nil, "", fault.Newf(fault.Invalid, "history_bad_state", "Unknown history state %q.", s)
			}
			if i > 0 {
				q += ", "
			}
			args = append(args, s)
			q += "$" + strconv.Itoa(len(args))
		}
		q += ")"
	}
	args = append(args, limit+1)
	q += " ORDER BY created_at DESC, id DESC LIMIT $" + strconv.Itoa(len(args))
	rs, err := db.query(ctx, db.R, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list history: %w", err)
	}
	defer rs.Close()
	var out []*HistoryRow
	for rs.Next() {
		r, err := scanHistory(rs)
		if err != nil {
			return nil, "", fmt.Errorf("scan history: %w", err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, "", fmt.Errorf("list history: %w", err)
	}
	out, next := timePage(out, limit, func(r *HistoryRow) (time.Time, string) { return r.CreatedAt, r.ID })
	return out, next, nil
}

// CountHistory returns the number of the user's rows per state (states
// without rows are absent). It reads every row of the user: for a history
// page, not for planning.
func (db *DB) CountHistory(ctx context.Context, userID string) (map[string]int64, error) {
	rs, err := db.query(ctx, db.R, "SELECT state, COUNT(*) FROM history WHERE user_id = $1 GROUP BY state", userID)
	if err != nil {
		return nil, fmt.Errorf("count history: %w", err)
	}
	defer rs.Close()
	out := map[string]int64{}
	for rs.Next() {
		var s string
		var n int64
		if err := rs.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("scan history count: %w", err)
		}
		out[s] = n
	}
	return out, rs.Err()
}
