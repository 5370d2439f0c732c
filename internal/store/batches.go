package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
)

// Batch states.
const (
	BatchQueued          = "queued"
	BatchRunning         = "running"
	BatchPaused          = "paused"
	BatchWaitingProvider = "waiting_provider"
	BatchSucceeded       = "succeeded"
	BatchPartiallyFailed = "partially_failed"
	BatchFailed          = "failed"
	BatchCancelled       = "cancelled"
)

// ActiveBatchStates are the non-terminal states.
var ActiveBatchStates = []string{BatchQueued, BatchRunning, BatchPaused, BatchWaitingProvider}

// BatchStatus is a batch state. The constants above stay untyped so that
// rows and SQL arguments (plain strings) keep taking them; the API's types
// carry BatchStatus, whose schema lists the states.
type BatchStatus string

// BatchStatuses are every batch state, in lifecycle order.
var BatchStatuses = []BatchStatus{BatchQueued, BatchRunning, BatchPaused, BatchWaitingProvider,
	BatchSucceeded, BatchPartiallyFailed, BatchFailed, BatchCancelled}

// Terminal reports whether the state is final: nothing runs any more and
// only a retry or rerun makes new work.
func (s BatchStatus) Terminal() bool {
	switch s {
	case BatchSucceeded, BatchPartiallyFailed, BatchFailed, BatchCancelled:
		return true
	}
	return false
}

// BatchTerminal reports whether a batch state is final.
func BatchTerminal(s string) bool { return BatchStatus(s).Terminal() }

// Group states.
const (
	GroupPending   = "pending"
	GroupSucceeded = "succeeded"
	GroupFailed    = "failed"
	GroupCancelled = "cancelled"
)

// Batch is one user request.
type Batch struct {
	ID       string
	UserID   string
	UploadID string
	Mode     string
	Status   string
	Priority int
	Seed     int64
	// Params and Plan are decoded from their JSON columns once per process
	// (both are written once, at CreateBatch): rows of one batch share the
	// same *plan.Plan and Snow slice, so callers must not modify them.
	Params         BatchParams
	Plan           *plan.Plan
	EstimateMicros int64
	CapMicros      *int64
	Message        string
	EventSeq       int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
}

// Group is one combination of a batch.
type Group struct {
	ID          string
	BatchID     string
	Index       int
	Key         string
	Combination plan.Combination
	Scene       plan.Scene
	Status      string
}

// BatchParams are a batch's generation options as submitted (the params
// column).
type BatchParams struct {
	Aspect     string `json:"aspect"`
	Resolution int    `json:"resolution"`
	Enhance    string `json:"enhance"`
	Priority   string `json:"priority"`
	Budget     string `json:"budget,omitempty"`
	// Snow of each group index, for nudged variants.
	Snow []bool `json:"snow"`
	// RerunOf names the batch this one reruns.
	RerunOf string `json:"rerun_of,omitempty"`
}

// ErrBatchNotFound is the batch flavour of ErrNotFound.
var ErrBatchNotFound = fault.New(fault.NotFound, "batch_not_found", "The batch does not exist.")

const batchCols = "id, user_id, upload_id, mode, status, priority, seed, params, plan, estimate_micros, cap_micros, message, event_seq, created_at, updated_at, started_at, finished_at"

func (db *DB) scanBatch(row interface{ Scan(...any) error }) (*Batch, error) {
	var b Batch
	var params, planJSON string
	var capM, started, finished sql.NullInt64
	var created, updated int64
	if err := row.Scan(&b.ID, &b.UserID, &b.UploadID, &b.Mode, &b.Status, &b.Priority, &b.Seed, &params, &planJSON,
		&b.EstimateMicros, &capM, &b.Message, &b.EventSeq, &created, &updated, &started, &finished); err != nil {
		if err == sql.ErrNoRows {
			return nil, ErrBatchNotFound
		}
		return nil, err
	}
	d, err := db.decoded.get(b.ID, params, planJSON)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", b.ID, err)
	}
	b.Params, b.Plan = d.params, d.plan
	if capM.Valid {
		v := capM.Int64
		b.CapMicros = &v
	}
	b.CreatedAt, b.UpdatedAt = fromMicros(created), fromMicros(updated)
	b.StartedAt, b.FinishedAt = fromNullMicros(started), fromNullMicros(finished)
	return &b, nil
}

const groupCols = "id, batch_id, idx, key, combination, scene, status"

func scanGroup(row interface{ Scan(...any) error }) (*Group, error) {
	var g Group
	var combo, scene string
	if err := row.Scan(&g.ID, &g.BatchID, &g.Index, &g.Key, &combo, &scene, &g.Status); err != nil {
		return nil, notFound(err)
	}
	if err := decodeColumn("combination", combo, &g.Combination); err != nil {
		return nil, fmt.Errorf("group %s: %w", g.ID, err)
	}
	if err := decodeColumn("scene", scene, &g.Scene); err != nil {
		return nil, fmt.Errorf("group %s: %w", g.ID, err)
	}
	return &g, nil
}

// CreateBatch inserts a batch with its groups and images (ids are assigned
// when empty) and the batch.created event, in tx.
func (db *DB) CreateBatch(ctx context.Context, tx *Tx, b *Batch, groups []*Group, images []*Image) error {
	now := db.now().UTC().Truncate(time.Microsecond)
	if b.ID == "" {
		b.ID = NewID()
	}
	if b.Status == "" {
		b.Status = BatchQueued
	}
	b.CreatedAt, b.UpdatedAt = now, now
	var capM any
	if b.CapMicros != nil {
		capM = *b.CapMicros
	}
	planJSON := "{}"
	if b.Plan != nil {
		planJSON = encodeColumn(b.Plan)
	}
	_, err := db.exec(ctx, tx, `INSERT INTO batches (`+batchCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13, NULL, NULL)`,
		b.ID, b.UserID, b.UploadID, b.Mode, b.Status, b.Priority, b.Seed, encodeColumn(b.Params), planJSON,
		b.EstimateMicros, capM, b.Message, micros(now))
	if err != nil {
		return fmt.Errorf("insert batch: %w", err)
	}
	for _, g := range groups {
		if g.ID == "" {
			g.ID = NewID()
		}
		g.BatchID = b.ID
		if g.Status == "" {
			g.Status = GroupPending
		}
		if _, err := db.exec(ctx, tx, `INSERT INTO batch_groups (`+groupCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			g.ID, g.BatchID, g.Index, g.Key, encodeColumn(g.Combination), encodeColumn(g.Scene), g.Status); err != nil {
			return fmt.Errorf("insert group: %w", err)
		}
	}
	for _, im := range images {
		if im.ID == "" {
			im.ID = NewID()
		}
		im.BatchID, im.UserID = b.ID, b.UserID
		if im.Status == "" {
			im.Status = ImageQueued
		}
		im.CreatedAt, im.UpdatedAt = now, now
		if _, err := db.exec(ctx, tx, `INSERT INTO images (`+imageCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, '', '[]', '', '', 0, 0, 0, '', 0, $10, $10)`,
			im.ID, im.BatchID, im.GroupID, im.UserID, im.Index, encodeColumn(im.Variant), im.Prompt, im.PromptSource, im.Status, micros(now)); err != nil {
			return fmt.Errorf("insert image: %w", err)
		}
	}
	seq, err := db.AddEvent(ctx, tx, b.ID, KindBatchCreated, map[string]any{"status": b.Status, "groups": len(groups), "images": len(images)})
	if err != nil {
		return err
	}
	b.EventSeq = seq
	return nil
}

// BatchByID reads a batch (from the read pool).
func (db *DB) BatchByID(ctx context.Context, id string) (*Batch, error) {
	return db.scanBatch(db.queryRow(ctx, db.R, "SELECT "+batchCols+" FROM batches WHERE id = $1", id))
}

// BatchByIDTx reads a batch inside tx.
func (db *DB) BatchByIDTx(ctx context.Context, tx *Tx, id string) (*Batch, error) {
	return db.scanBatch(db.queryRow(ctx, tx, "SELECT "+batchCols+" FROM batches WHERE id = $1", id))
}

// GroupsOf returns the batch's groups in order.
func (db *DB) GroupsOf(ctx context.Context, batchID string) ([]*Group, error) {
	rs, err := db.query(ctx, db.R, "SELECT "+groupCols+" FROM batch_groups WHERE batch_id = $1 ORDER BY idx", batchID)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rs.Close()
	var out []*Group
	for rs.Next() {
		g, err := scanGroup(rs)
		if err != nil {
			return nil, fmt.Errorf("scan group: %w", err)
		}
		out = append(out, g)
	}
	return out, rs.Err()
}

// SetBatchStatus moves a batch to status when its current state is one of
// from (any state when from is empty), stamps started/finished times, and
// writes the event batch.<status>. It reports whether the row changed.
func (db *DB) SetBatchStatus(ctx context.Context, tx *Tx, id string, from []string, status, message string, data map[string]any) (bool, error) {
	now := micros(db.now())
	q := "UPDATE batches SET status = $1, message = $2, updated_at = $3"
	if status == BatchRunning {
		q += ", started_at = COALESCE(started_at, $3)"
	}
	if BatchTerminal(status) {
		q += ", finished_at = $3"
	}
	q += " WHERE id = $4"
	args := []any{status, message, now, id}
	if len(from) > 0 {
		q += " AND status IN (" + placeholders(&args, from) + ")"
	}
	res, err := db.exec(ctx, tx, q, args...)
	if err != nil {
		return false, fmt.Errorf("set batch status: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if data == nil {
		data = map[string]any{}
	}
	data["status"] = status
	if message != "" {
		data["message"] = message
	}
	if _, err := db.AddEvent(ctx, tx, id, KindBatchStatus, data); err != nil {
		return false, err
	}
	return true, nil
}

func placeholders(args *[]any, vals []string) string {
	var sb strings.Builder
	for i, v := range vals {
		if i > 0 {
			sb.WriteString(", ")
		}
		*args = append(*args, v)
		sb.WriteString("$" + strconv.Itoa(len(*args)))
	}
	return sb.String()
}

// SetGroupStatus changes a group's state and writes group.<status>.
func (db *DB) SetGroupStatus(ctx context.Context, tx *Tx, batchID, groupID, status string) error {
	if _, err := db.exec(ctx, tx, "UPDATE batch_groups SET status = $1 WHERE id = $2", status, groupID); err != nil {
		return fmt.Errorf("set group status: %w", err)
	}
	_, err := db.AddEvent(ctx, tx, batchID, GroupKind(status), map[string]any{"group_id": groupID, "status": status})
	return err
}

// BatchFilter narrows ListBatches.
type BatchFilter struct {
	UserID   string   // "" = everyone (admins)
	Statuses []string // any of these (none = all)
	Mode     string
	From     *time.Time
	To       *time.Time
	// Texts each match the plan JSON (county, province, road names…): a
	// batch is listed when it contains all of them.
	Texts  []string
	Cursor string
	Limit  int
	// Archived: nil lists all, false only unarchived, true only archived.
	Archived *bool
}

// ListBatches returns batches newest first and the next cursor.
func (db *DB) ListBatches(ctx context.Context, f BatchFilter) ([]*Batch, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	q := "SELECT " + batchCols + " FROM batches WHERE 1 = 1"
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		q += " AND " + strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args)))
	}
	if f.UserID != "" {
		add("user_id = $?", f.UserID)
	}
	if len(f.Statuses) > 0 {
		q += " AND status IN (" + placeholders(&args, f.Statuses) + ")"
	}
	if f.Mode != "" {
		add("mode = $?", f.Mode)
	}
	if f.From != nil {
		add("created_at >= $?", micros(*f.From))
	}
	if f.To != nil {
		add("created_at < $?", micros(*f.To))
	}
	if f.Archived != nil {
		if *f.Archived {
			q += " AND archived_at IS NOT NULL"
		} else {
			q += " AND archived_at IS NULL"
		}
	}
	for _, t := range f.Texts {
		add("plan LIKE $?", "%"+strings.NewReplacer("%", "", "_", "").Replace(t)+"%")
	}
	if f.Cursor != "" {
		k, err := DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		add("id < $?", k)
	}
	args = append(args, limit+1)
	q += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	rs, err := db.query(ctx, db.R, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list batches: %w", err)
	}
	defer rs.Close()
	var out []*Batch
	for rs.Next() {
		b, err := db.scanBatch(rs)
		if err != nil {
			return nil, "", fmt.Errorf("scan batch: %w", err)
		}
		out = append(out, b)
	}
	if err := rs.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = EncodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// DeleteBatch removes a terminal batch with its groups, images and events.
// History rows stay.
func (db *DB) DeleteBatch(ctx context.Context, tx *Tx, id string) error {
	if err := db.deleteBatchExtras(ctx, tx, id); err != nil {
		return err
	}
	for _, q := range []string{"DELETE FROM batch_events WHERE batch_id = $1", "DELETE FROM images WHERE batch_id = $1",
		"DELETE FROM batch_groups WHERE batch_id = $1", "DELETE FROM batches WHERE id = $1"} {
		if _, err := db.exec(ctx, tx, q, id); err != nil {
			return fmt.Errorf("delete batch: %w", err)
		}
	}
	db.decoded.forget(id)
	return nil
}

// UploadInUse reports whether a non-terminal batch uses the upload.
func (db *DB) UploadInUse(ctx context.Context, q *Tx, uploadID string) (bool, error) {
	args := []any{uploadID}
	query := "SELECT COUNT(*) FROM batches WHERE upload_id = $1 AND status IN (" + placeholders(&args, ActiveBatchStates) + ")"
	var n int
	var row *sql.Row
	if q != nil {
		row = db.queryRow(ctx, q, query, args...)
	} else {
		row = db.queryRow(ctx, db.R, query, args...)
	}
	if err := row.Scan(&n); err != nil {
		return false, fmt.Errorf("count batches of upload: %w", err)
	}
	return n > 0, nil
}

// LockUser serialises a user's submissions: a row lock on PostgreSQL; on
// SQLite the write transaction (BEGIN IMMEDIATE) already serialises.
func (db *DB) LockUser(ctx context.Context, tx *Tx, userID string) error {
	if db.Engine != Postgres {
		return nil
	}
	var id string
	if err := db.queryRow(ctx, tx, "SELECT id FROM users WHERE id = $1 FOR UPDATE", userID).Scan(&id); err != nil {
		return fmt.Errorf("lock user: %w", notFound(err))
	}
	return nil
}

// QueueStats describes images not yet generated.
type QueueStats struct {
	Depth  map[string]int64
	Oldest *time.Time
}

// QueueStats counts queued, running and interrupted images of active
// batches and finds the oldest queued one.
func (db *DB) QueueStats(ctx context.Context) (QueueStats, error) {
	st := QueueStats{Depth: map[string]int64{ImageQueued: 0, ImageRunning: 0, ImageInterrupted: 0}}
	rs, err := db.query(ctx, db.R, "SELECT status, COUNT(*), MIN(created_at) FROM images WHERE status IN ('queued', 'running', 'interrupted') GROUP BY status")
	if err != nil {
		return st, fmt.Errorf("queue stats: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var s string
		var n, oldest int64
		if err := rs.Scan(&s, &n, &oldest); err != nil {
			return st, err
		}
		st.Depth[s] = n
		if s == ImageQueued {
			t := fromMicros(oldest)
			st.Oldest = &t
		}
	}
	return st, rs.Err()
}

// QueuedAhead counts images of other active batches created before the
// batch that are still waiting or running: the batch's queue position.
func (db *DB) QueuedAhead(ctx context.Context, b *Batch) (int64, error) {
	return db.queuedAhead(ctx, db.R, b)
}

func (db *DB) queuedAhead(ctx context.Context, q querier, b *Batch) (int64, error) {
	var n int64
	err := db.queryRow(ctx, q, `SELECT COUNT(*) FROM images WHERE status IN ('queued', 'running', 'interrupted')
		AND batch_id IN (SELECT id FROM batches WHERE created_at < $1 AND priority <= $2)`, micros(b.CreatedAt), b.Priority).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("queue position: %w", err)
	}
	return n, nil
}

// ActiveBatches returns the batches not yet in a terminal state.
func (db *DB) ActiveBatches(ctx context.Context) ([]*Batch, error) {
	args := []any{}
	rs, err := db.query(ctx, db.R, "SELECT "+batchCols+" FROM batches WHERE status IN ("+placeholders(&args, ActiveBatchStates)+") ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("active batches: %w", err)
	}
	defer rs.Close()
	var out []*Batch
	for rs.Next() {
		b, err := db.scanBatch(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rs.Err()
}
