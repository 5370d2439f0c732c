package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
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

// BatchTerminal reports whether a batch state is final.
func BatchTerminal(s string) bool {
	switch s {
	case BatchSucceeded, BatchPartiallyFailed, BatchFailed, BatchCancelled:
		return true
	}
	return false
}

// Image states.
const (
	ImageQueued      = "queued"
	ImageRunning     = "running"
	ImageInterrupted = "interrupted"
	ImageSucceeded   = "succeeded"
	ImageFailed      = "failed"
	ImageCancelled   = "cancelled"
)

// ImageTerminal reports whether an image state is final.
func ImageTerminal(s string) bool {
	return s == ImageSucceeded || s == ImageFailed || s == ImageCancelled
}

// Group states.
const (
	GroupPending   = "pending"
	GroupSucceeded = "succeeded"
	GroupFailed    = "failed"
	GroupCancelled = "cancelled"
)

// Batch is one user request.
type Batch struct {
	ID             string
	UserID         string
	UploadID       string
	Mode           string
	Status         string
	Priority       int
	Seed           int64
	Params         json.RawMessage
	Plan           json.RawMessage
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
	Combination json.RawMessage
	Scene       json.RawMessage
	Status      string
}

// Image is one variant of a group.
type Image struct {
	ID           string
	BatchID      string
	GroupID      string
	UserID       string
	Index        int
	Variant      json.RawMessage
	Prompt       string
	PromptSource string
	Status       string
	QCTries      int
	Reason       string
	QC           json.RawMessage
	ResultKey    string
	MIME         string
	Width        int
	Height       int
	Bytes        int64
	Provider     string
	CostMicros   int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Event is one stored state change of a batch.
type Event struct {
	BatchID   string          `json:"batch_id"`
	Seq       int64           `json:"seq"`
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// ErrBatchNotFound is the batch flavour of ErrNotFound.
var ErrBatchNotFound = fault.New(fault.NotFound, "batch_not_found", "The batch does not exist.")

const batchCols = "id, user_id, upload_id, mode, status, priority, seed, params, plan, estimate_micros, cap_micros, message, event_seq, created_at, updated_at, started_at, finished_at"

func scanBatch(row interface{ Scan(...any) error }) (*Batch, error) {
	var b Batch
	var params, plan string
	var capM, started, finished sql.NullInt64
	var created, updated int64
	if err := row.Scan(&b.ID, &b.UserID, &b.UploadID, &b.Mode, &b.Status, &b.Priority, &b.Seed, &params, &plan,
		&b.EstimateMicros, &capM, &b.Message, &b.EventSeq, &created, &updated, &started, &finished); err != nil {
		if err == sql.ErrNoRows {
			return nil, ErrBatchNotFound
		}
		return nil, err
	}
	b.Params, b.Plan = json.RawMessage(params), json.RawMessage(plan)
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
	g.Combination, g.Scene = json.RawMessage(combo), json.RawMessage(scene)
	return &g, nil
}

const imageCols = "id, batch_id, group_id, user_id, idx, variant, prompt, prompt_source, status, qc_tries, reason, qc, result_key, mime, width, height, bytes, provider, cost_micros, created_at, updated_at"

func scanImage(row interface{ Scan(...any) error }) (*Image, error) {
	var im Image
	var variant, qc string
	var created, updated int64
	if err := row.Scan(&im.ID, &im.BatchID, &im.GroupID, &im.UserID, &im.Index, &variant, &im.Prompt, &im.PromptSource,
		&im.Status, &im.QCTries, &im.Reason, &qc, &im.ResultKey, &im.MIME, &im.Width, &im.Height, &im.Bytes,
		&im.Provider, &im.CostMicros, &created, &updated); err != nil {
		return nil, notFound(err)
	}
	im.Variant, im.QC = json.RawMessage(variant), json.RawMessage(qc)
	im.CreatedAt, im.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &im, nil
}

func rawOr(r json.RawMessage, def string) string {
	if len(r) == 0 {
		return def
	}
	return string(r)
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
	_, err := db.exec(ctx, tx, `INSERT INTO batches (`+batchCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13, NULL, NULL)`,
		b.ID, b.UserID, b.UploadID, b.Mode, b.Status, b.Priority, b.Seed, rawOr(b.Params, "{}"), rawOr(b.Plan, "{}"),
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
			g.ID, g.BatchID, g.Index, g.Key, rawOr(g.Combination, "{}"), rawOr(g.Scene, "{}"), g.Status); err != nil {
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
			im.ID, im.BatchID, im.GroupID, im.UserID, im.Index, rawOr(im.Variant, "{}"), im.Prompt, im.PromptSource, im.Status, micros(now)); err != nil {
			return fmt.Errorf("insert image: %w", err)
		}
	}
	seq, err := db.AddEvent(ctx, tx, b.ID, "batch.created", map[string]any{"status": b.Status, "groups": len(groups), "images": len(images)})
	if err != nil {
		return err
	}
	b.EventSeq = seq
	return nil
}

// AddEvent appends an event to the batch's log with the next sequence
// number. Call it in the transaction of the state change it describes.
func (db *DB) AddEvent(ctx context.Context, tx *Tx, batchID, typ string, data any) (int64, error) {
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
		batchID, seq, typ, string(raw), micros(db.now())); err != nil {
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

// BatchByID reads a batch (from the read pool).
func (db *DB) BatchByID(ctx context.Context, id string) (*Batch, error) {
	return scanBatch(db.queryRow(ctx, db.R, "SELECT "+batchCols+" FROM batches WHERE id = $1", id))
}

// BatchByIDTx reads a batch inside tx.
func (db *DB) BatchByIDTx(ctx context.Context, tx *Tx, id string) (*Batch, error) {
	return scanBatch(db.queryRow(ctx, tx, "SELECT "+batchCols+" FROM batches WHERE id = $1", id))
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

// ImagesOf returns the batch's images ordered by group then index.
func (db *DB) ImagesOf(ctx context.Context, batchID string) ([]*Image, error) {
	return db.imagesOf(ctx, db.R, batchID)
}

// ImagesOfTx is ImagesOf inside tx.
func (db *DB) ImagesOfTx(ctx context.Context, tx *Tx, batchID string) ([]*Image, error) {
	return db.imagesOf(ctx, tx, batchID)
}

func (db *DB) imagesOf(ctx context.Context, q querier, batchID string) ([]*Image, error) {
	rs, err := db.query(ctx, q, "SELECT i."+strings.ReplaceAll(imageCols, ", ", ", i.")+
		" FROM images i JOIN batch_groups g ON g.id = i.group_id WHERE i.batch_id = $1 ORDER BY g.idx, i.idx", batchID)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	defer rs.Close()
	var out []*Image
	for rs.Next() {
		im, err := scanImage(rs)
		if err != nil {
			return nil, fmt.Errorf("scan image: %w", err)
		}
		out = append(out, im)
	}
	return out, rs.Err()
}

// ImageByID reads one image.
func (db *DB) ImageByID(ctx context.Context, id string) (*Image, error) {
	return scanImage(db.queryRow(ctx, db.R, "SELECT "+imageCols+" FROM images WHERE id = $1", id))
}

// ImageByIDTx reads one image inside tx.
func (db *DB) ImageByIDTx(ctx context.Context, tx *Tx, id string) (*Image, error) {
	return scanImage(db.queryRow(ctx, tx, "SELECT "+imageCols+" FROM images WHERE id = $1", id))
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
	if _, err := db.AddEvent(ctx, tx, id, "batch.status", data); err != nil {
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

// ImageUpdate lists the image fields to change; nil fields stay.
type ImageUpdate struct {
	Status       string
	Variant      json.RawMessage
	Prompt       *string
	PromptSource *string
	QCTries      *int
	Reason       *string
	QC           json.RawMessage
	ResultKey    *string
	MIME         *string
	Width        *int
	Height       *int
	Bytes        *int64
	Provider     *string
	CostMicros   *int64
	// Event data added to the image.<status> event (type image.updated
	// when Status is empty).
	Event map[string]any
}

// UpdateImage applies u when the image's state is one of from (any when
// empty) and writes an event, in tx. It reports whether the row changed:
// a conditional update is how a result is stored at most once.
func (db *DB) UpdateImage(ctx context.Context, tx *Tx, im *Image, from []string, u ImageUpdate) (bool, error) {
	sets := []string{"updated_at = $1"}
	args := []any{micros(db.now())}
	set := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, col+" = $"+strconv.Itoa(len(args)))
	}
	if u.Status != "" {
		set("status", u.Status)
	}
	if u.Variant != nil {
		set("variant", string(u.Variant))
	}
	if u.Prompt != nil {
		set("prompt", *u.Prompt)
	}
	if u.PromptSource != nil {
		set("prompt_source", *u.PromptSource)
	}
	if u.QCTries != nil {
		set("qc_tries", *u.QCTries)
	}
	if u.Reason != nil {
		set("reason", *u.Reason)
	}
	if u.QC != nil {
		set("qc", string(u.QC))
	}
	if u.ResultKey != nil {
		set("result_key", *u.ResultKey)
	}
	if u.MIME != nil {
		set("mime", *u.MIME)
	}
	if u.Width != nil {
		set("width", *u.Width)
	}
	if u.Height != nil {
		set("height", *u.Height)
	}
	if u.Bytes != nil {
		set("bytes", *u.Bytes)
	}
	if u.Provider != nil {
		set("provider", *u.Provider)
	}
	if u.CostMicros != nil {
		set("cost_micros", *u.CostMicros)
	}
	args = append(args, im.ID)
	q := "UPDATE images SET " + strings.Join(sets, ", ") + " WHERE id = $" + strconv.Itoa(len(args))
	if len(from) > 0 {
		q += " AND status IN (" + placeholders(&args, from) + ")"
	}
	res, err := db.exec(ctx, tx, q, args...)
	if err != nil {
		return false, fmt.Errorf("update image: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	typ := "image.updated"
	data := map[string]any{"image_id": im.ID, "group_id": im.GroupID}
	if u.Status != "" {
		typ = "image." + u.Status
		data["status"] = u.Status
	}
	if u.Reason != nil && *u.Reason != "" {
		data["reason"] = *u.Reason
	}
	for k, v := range u.Event {
		data[k] = v
	}
	if _, err := db.AddEvent(ctx, tx, im.BatchID, typ, data); err != nil {
		return false, err
	}
	// Finishing (or re-queuing a finished) image moves the batch's progress
	// and, once it leaves the queue, the queue position of the batches
	// behind it: both are events of their own, for live progress.
	if u.Status != "" && (ImageTerminal(u.Status) || ImageTerminal(im.Status)) {
		if err := db.progressEvent(ctx, tx, im.BatchID); err != nil {
			return false, err
		}
		if ImageTerminal(u.Status) {
			if err := db.queueEvents(ctx, tx, im.BatchID); err != nil {
				return false, err
			}
		}
	}
	return true, nil
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
	_, err = db.AddEvent(ctx, tx, batchID, "batch.progress", map[string]any{"done": done, "total": total, "succeeded": succeeded, "failed": failed})
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
		b, err := scanBatch(rs)
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
		if _, err := db.AddEvent(ctx, tx, b.ID, "batch.queue", map[string]any{"queue_position": ahead}); err != nil {
			return err
		}
	}
	return nil
}

// SetGroupStatus changes a group's state and writes group.<status>.
func (db *DB) SetGroupStatus(ctx context.Context, tx *Tx, batchID, groupID, status string) error {
	if _, err := db.exec(ctx, tx, "UPDATE batch_groups SET status = $1 WHERE id = $2", status, groupID); err != nil {
		return fmt.Errorf("set group status: %w", err)
	}
	_, err := db.AddEvent(ctx, tx, batchID, "group."+status, map[string]any{"group_id": groupID, "status": status})
	return err
}

// ResetImagesForRetry puts the batch's failed (or interrupted) images — all,
// or only those of groupID — back to queued with fresh QC tries and
// returns them; the groups go back to pending. The batch is not touched.
func (db *DB) ResetImagesForRetry(ctx context.Context, tx *Tx, batchID, groupID string) ([]*Image, error) {
	all, err := db.imagesOf(ctx, tx, batchID)
	if err != nil {
		return nil, err
	}
	var out []*Image
	zero, empty := 0, ""
	for _, im := range all {
		if groupID != "" && im.GroupID != groupID {
			continue
		}
		if im.Status != ImageFailed && im.Status != ImageCancelled && im.Status != ImageInterrupted {
			continue
		}
		ok, err := db.UpdateImage(ctx, tx, im, []string{im.Status}, ImageUpdate{Status: ImageQueued, QCTries: &zero, Reason: &empty, Event: map[string]any{"retry": true}})
		if err != nil {
			return nil, err
		}
		if ok {
			im.Status = ImageQueued
			out = append(out, im)
			if _, err := db.exec(ctx, tx, "UPDATE batch_groups SET status = $1 WHERE id = $2", GroupPending, im.GroupID); err != nil {
				return nil, fmt.Errorf("reset group: %w", err)
			}
		}
	}
	return out, nil
}

// MarkInterrupted turns images left running by a stopped process into
// interrupted ones (one event each) and returns how many. On PostgreSQL
// with several nodes, pass only batches this node owned; ludeng calls it at
// start with startedBefore = the process start, so running calls of other
// nodes (updated since) are left alone.
func (db *DB) MarkInterrupted(ctx context.Context, updatedBefore time.Time) (int, error) {
	rs, err := db.query(ctx, db.R, "SELECT "+imageCols+" FROM images WHERE status = $1 AND updated_at < $2", ImageRunning, micros(updatedBefore))
	if err != nil {
		return 0, fmt.Errorf("list running images: %w", err)
	}
	var list []*Image
	for rs.Next() {
		im, err := scanImage(rs)
		if err != nil {
			rs.Close()
			return 0, err
		}
		list = append(list, im)
	}
	rs.Close()
	return db.interrupt(ctx, list)
}

// InterruptImages marks the given images interrupted when they are still
// running (a dead node's in-flight generations) and returns how many.
func (db *DB) InterruptImages(ctx context.Context, ids []string) (int, error) {
	var list []*Image
	for _, id := range ids {
		im, err := db.ImageByID(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return 0, err
		}
		if im.Status == ImageRunning {
			list = append(list, im)
		}
	}
	return db.interrupt(ctx, list)
}

func (db *DB) interrupt(ctx context.Context, list []*Image) (int, error) {
	n := 0
	for _, im := range list {
		reason := "interrupted"
		err := db.InTx(ctx, func(tx *Tx) error {
			ok, err := db.UpdateImage(ctx, tx, im, []string{ImageRunning}, ImageUpdate{Status: ImageInterrupted, Reason: &reason})
			if ok {
				n++
			}
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// BatchFilter narrows ListBatches.
type BatchFilter struct {
	UserID   string   // "" = everyone (admins)
	Statuses []string // any of these (none = all)
	Mode     string
	From     *time.Time
	To       *time.Time
	// Text matches the plan JSON (county, province, road names…).
	Text   string
	Cursor string
	Limit  int
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
	if f.Text != "" {
		add("plan LIKE $?", "%"+strings.NewReplacer("%", "", "_", "").Replace(f.Text)+"%")
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
		b, err := scanBatch(rs)
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
	for _, q := range []string{"DELETE FROM batch_events WHERE batch_id = $1", "DELETE FROM images WHERE batch_id = $1",
		"DELETE FROM batch_groups WHERE batch_id = $1", "DELETE FROM batches WHERE id = $1"} {
		if _, err := db.exec(ctx, tx, q, id); err != nil {
			return fmt.Errorf("delete batch: %w", err)
		}
	}
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

// Progress counts a batch's images.
type Progress struct {
	Done      int `json:"done"`
	Total     int `json:"total"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
}

// ProgressOf counts the images of each batch in one query (list pages).
func (db *DB) ProgressOf(ctx context.Context, batchIDs []string) (map[string]Progress, error) {
	out := make(map[string]Progress, len(batchIDs))
	if len(batchIDs) == 0 {
		return out, nil
	}
	var args []any
	rs, err := db.query(ctx, db.R, "SELECT batch_id, status, COUNT(*) FROM images WHERE batch_id IN ("+placeholders(&args, batchIDs)+
		") GROUP BY batch_id, status", args...)
	if err != nil {
		return nil, fmt.Errorf("batch progress: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, status string
		var n int
		if err := rs.Scan(&id, &status, &n); err != nil {
			return nil, fmt.Errorf("scan progress: %w", err)
		}
		p := out[id]
		p.Total += n
		if ImageTerminal(status) {
			p.Done += n
		}
		switch status {
		case ImageSucceeded:
			p.Succeeded += n
		case ImageFailed:
			p.Failed += n
		}
		out[id] = p
	}
	return out, rs.Err()
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
		b, err := scanBatch(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
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
