package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// BatchLabel is a batch's name and archive mark (migration 009).
type BatchLabel struct {
	Name       string
	ArchivedAt *time.Time
}

// BatchLabels returns the labels of the given batches; batches without a
// row are absent (they do not exist).
func (db *DB) BatchLabels(ctx context.Context, ids []string) (map[string]BatchLabel, error) {
	out := make(map[string]BatchLabel, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var args []any
	q := "SELECT id, name, archived_at FROM batches WHERE id IN (" + placeholders(&args, ids) + ")"
	rs, err := db.query(ctx, db.R, q, args...)
	if err != nil {
		return nil, fmt.Errorf("batch labels: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var id, name string
		var archived sql.NullInt64
		if err := rs.Scan(&id, &name, &archived); err != nil {
			return nil, err
		}
		out[id] = BatchLabel{Name: name, ArchivedAt: fromNullMicros(archived)}
	}
	return out, rs.Err()
}

// SetBatchName renames a batch.
func (db *DB) SetBatchName(ctx context.Context, tx *Tx, id, name string) error {
	if _, err := db.exec(ctx, tx, "UPDATE batches SET name = $1 WHERE id = $2", name, id); err != nil {
		return fmt.Errorf("rename batch: %w", err)
	}
	return nil
}

// SetBatchArchived archives (at now) or restores a batch.
func (db *DB) SetBatchArchived(ctx context.Context, tx *Tx, id string, archived bool) error {
	var at any
	if archived {
		at = micros(db.now())
	}
	if _, err := db.exec(ctx, tx, "UPDATE batches SET archived_at = $1 WHERE id = $2", at, id); err != nil {
		return fmt.Errorf("archive batch: %w", err)
	}
	return nil
}

// StarredOf returns the ids of the batch's starred images.
func (db *DB) StarredOf(ctx context.Context, batchID string) (map[string]bool, error) {
	rs, err := db.query(ctx, db.R, "SELECT image_id FROM image_stars WHERE batch_id = $1", batchID)
	if err != nil {
		return nil, fmt.Errorf("starred images: %w", err)
	}
	defer rs.Close()
	out := map[string]bool{}
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rs.Err()
}

// SetStarred stars or unstars an image; doing it twice is a no-op.
func (db *DB) SetStarred(ctx context.Context, tx *Tx, im *Image, starred bool) error {
	var err error
	if starred {
		_, err = db.exec(ctx, tx, "INSERT INTO image_stars (image_id, batch_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (image_id) DO NOTHING",
			im.ID, im.BatchID, micros(db.now()))
	} else {
		_, err = db.exec(ctx, tx, "DELETE FROM image_stars WHERE image_id = $1", im.ID)
	}
	if err != nil {
		return fmt.Errorf("star image: %w", err)
	}
	return nil
}

// ImageVersion is one result an image has had.
type ImageVersion struct {
	ID          string
	ImageID     string
	BatchID     string
	ResultKey   string
	MIME        string
	Width       int
	Height      int
	Bytes       int64
	Provider    string
	Prompt      string
	Variant     Variant
	Instruction string
	CreatedAt   time.Time
}

const versionCols = "id, image_id, batch_id, result_key, mime, width, height, bytes, provider, prompt, variant, instruction, created_at"

func scanVersion(row interface{ Scan(...any) error }) (*ImageVersion, error) {
	var v ImageVersion
	var variant string
	var created int64
	if err := row.Scan(&v.ID, &v.ImageID, &v.BatchID, &v.ResultKey, &v.MIME, &v.Width, &v.Height, &v.Bytes, &v.Provider,
		&v.Prompt, &variant, &v.Instruction, &created); err != nil {
		return nil, notFound(err)
	}
	if err := decodeColumn("variant", variant, &v.Variant); err != nil {
		return nil, fmt.Errorf("image version %s: %w", v.ID, err)
	}
	v.CreatedAt = fromMicros(created)
	return &v, nil
}

// KeepVersion records the image's current result as a version (once per
// result key) with the instruction that produced it. An image without a
// result records nothing.
func (db *DB) KeepVersion(ctx context.Context, tx *Tx, im *Image, instruction string) error {
	if im.ResultKey == "" {
		return nil
	}
	_, err := db.exec(ctx, tx, "INSERT INTO image_versions ("+versionCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"+
		" ON CONFLICT (image_id, result_key) DO NOTHING",
		NewID(), im.ID, im.BatchID, im.ResultKey, im.MIME, im.Width, im.Height, im.Bytes, im.Provider, im.Prompt,
		encodeColumn(im.Variant), instruction, micros(im.UpdatedAt))
	if err != nil {
		return fmt.Errorf("keep image version: %w", err)
	}
	return nil
}

// VersionsOf returns the image's kept versions, oldest first.
func (db *DB) VersionsOf(ctx context.Context, imageID string) ([]*ImageVersion, error) {
	return db.versions(ctx, "image_id", imageID)
}

// VersionsOfBatch returns the kept versions of every image of the batch, oldest first.
func (db *DB) VersionsOfBatch(ctx context.Context, batchID string) ([]*ImageVersion, error) {
	return db.versions(ctx, "batch_id", batchID)
}

func (db *DB) versions(ctx context.Context, col, id string) ([]*ImageVersion, error) {
	rs, err := db.query(ctx, db.R, "SELECT "+versionCols+" FROM image_versions WHERE "+col+" = $1 ORDER BY created_at, id", id)
	if err != nil {
		return nil, fmt.Errorf("image versions: %w", err)
	}
	defer rs.Close()
	var out []*ImageVersion
	for rs.Next() {
		v, err := scanVersion(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

// SelectVersion makes version v the image's current result, keeping the
// current one (made with instruction) as a version first. Only a settled
// image can switch.
func (db *DB) SelectVersion(ctx context.Context, tx *Tx, im *Image, versionID, instruction string) (bool, error) {
	v, err := scanVersion(db.queryRow(ctx, tx, "SELECT "+versionCols+" FROM image_versions WHERE id = $1 AND image_id = $2", versionID, im.ID))
	if err != nil {
		return false, err
	}
	if err := db.KeepVersion(ctx, tx, im, instruction); err != nil {
		return false, err
	}
	st := ImageSucceeded
	return db.UpdateImage(ctx, tx, im, []string{ImageSucceeded, ImageFailed}, ImageUpdate{Status: st, ResultKey: &v.ResultKey,
		MIME: &v.MIME, Width: &v.Width, Height: &v.Height, Bytes: &v.Bytes, Provider: &v.Provider, Prompt: &v.Prompt,
		Variant: &v.Variant, Event: map[string]any{"version": v.ID}})
}

// GroupNote is the post kit (Xiaohongshu note draft) of a group.
type GroupNote struct {
	GroupID   string
	BatchID   string
	Tone      string
	Title     string
	Body      string
	Hashtags  []string
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

const noteCols = "group_id, batch_id, tone, title, body, hashtags, source, created_at, updated_at"

func scanNote(row interface{ Scan(...any) error }) (*GroupNote, error) {
	var n GroupNote
	var tags string
	var created, updated int64
	if err := row.Scan(&n.GroupID, &n.BatchID, &n.Tone, &n.Title, &n.Body, &tags, &n.Source, &created, &updated); err != nil {
		return nil, notFound(err)
	}
	_ = json.Unmarshal([]byte(tags), &n.Hashtags)
	n.CreatedAt, n.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &n, nil
}

// NotesOf returns the batch's post kits by group id.
func (db *DB) NotesOf(ctx context.Context, batchID string) (map[string]*GroupNote, error) {
	rs, err := db.query(ctx, db.R, "SELECT "+noteCols+" FROM group_notes WHERE batch_id = $1", batchID)
	if err != nil {
		return nil, fmt.Errorf("group notes: %w", err)
	}
	defer rs.Close()
	out := map[string]*GroupNote{}
	for rs.Next() {
		n, err := scanNote(rs)
		if err != nil {
			return nil, err
		}
		out[n.GroupID] = n
	}
	return out, rs.Err()
}

// PutNote stores (inserts or replaces) a group's post kit and writes the
// group.note event, so live pages see it.
func (db *DB) PutNote(ctx context.Context, tx *Tx, n *GroupNote) error {
	now := db.now().UTC().Truncate(time.Microsecond)
	tags, _ := json.Marshal(n.Hashtags)
	if n.Hashtags == nil {
		tags = []byte("[]")
	}
	_, err := db.exec(ctx, tx, "INSERT INTO group_notes ("+noteCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"+
		" ON CONFLICT (group_id) DO UPDATE SET tone = $3, title = $4, body = $5, hashtags = $6, source = $7, updated_at = $8",
		n.GroupID, n.BatchID, n.Tone, n.Title, n.Body, string(tags), n.Source, micros(now))
	if err != nil {
		return fmt.Errorf("store note: %w", err)
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now
	}
	n.UpdatedAt = now
	_, err = db.AddEvent(ctx, tx, n.BatchID, "group.note", map[string]any{"group_id": n.GroupID, "source": n.Source})
	return err
}

// deleteBatchExtras removes the batch's rows of migration 009 (the foreign
// keys cascade on PostgreSQL; SQLite's cascade depends on the pragma).
func (db *DB) deleteBatchExtras(ctx context.Context, tx *Tx, id string) error {
	for _, t := range []string{"image_stars", "image_versions", "group_notes"} {
		if _, err := db.exec(ctx, tx, "DELETE FROM "+t+" WHERE batch_id = $1", id); err != nil {
			return fmt.Errorf("delete %s: %w", t, err)
		}
	}
	return nil
}

// RecentCallLatency is the median duration of the user's last successful
// provider calls of operation op within the past day (uses the user/time
// index), and how many calls it is based on (0: none, no estimate).
func (db *DB) RecentCallLatency(ctx context.Context, userID, op string) (time.Duration, int, error) {
	since := micros(db.now().Add(-24 * time.Hour))
	rs, err := db.query(ctx, db.R, `SELECT latency_ms FROM usage_ledger
		WHERE user_id = $1 AND started_at >= $2 AND operation = $3 AND status = 'settled' AND outcome = 'ok'
		ORDER BY started_at DESC LIMIT 50`, userID, since, op)
	if err != nil {
		return 0, 0, fmt.Errorf("recent call latency: %w", err)
	}
	defer rs.Close()
	var ms []int64
	for rs.Next() {
		var v int64
		if err := rs.Scan(&v); err != nil {
			return 0, 0, err
		}
		ms = append(ms, v)
	}
	if err := rs.Err(); err != nil || len(ms) == 0 {
		return 0, 0, err
	}
	slices.Sort(ms)
	return time.Duration(ms[len(ms)/2]) * time.Millisecond, len(ms), nil
}
