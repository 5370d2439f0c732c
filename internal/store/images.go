package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/similarity"
)

// Image states.
const (
	ImageQueued      = "queued"
	ImageRunning     = "running"
	ImageInterrupted = "interrupted"
	ImageSucceeded   = "succeeded"
	ImageFailed      = "failed"
	ImageCancelled   = "cancelled"
)

// ImageStatus is an image state (see BatchStatus for why the constants are
// untyped).
type ImageStatus string

// ImageStatuses are every image state.
var ImageStatuses = []ImageStatus{ImageQueued, ImageRunning, ImageInterrupted, ImageSucceeded, ImageFailed, ImageCancelled}

// Terminal reports whether the state is final. Interrupted is not: the
// image is re-queued when its node comes back or another node rescues it.
func (s ImageStatus) Terminal() bool {
	return s == ImageSucceeded || s == ImageFailed || s == ImageCancelled
}

// ImageTerminal reports whether an image state is final.
func ImageTerminal(s string) bool { return ImageStatus(s).Terminal() }

// Variant is what an image renders (the variant column): the planned
// variant's time and weather, or a QC nudge of it.
type Variant struct {
	ID      string `json:"id"`
	Time    string `json:"time"`
	Weather string `json:"weather"`
	// Base is the planned variant id before nudges.
	Base string `json:"base"`
	// Seed is set by a regenerate (a new draw of the same variant).
	Seed int64 `json:"seed,omitempty"`
}

// QCVerdict is one QC rejection kept on an image (the qc column's list).
type QCVerdict struct {
	Try     int                `json:"try"`
	Variant string             `json:"variant"`
	Reason  string             `json:"reason"`
	Scores  *similarity.Scores `json:"scores,omitempty"`
	Against string             `json:"against,omitempty"`
}

// Image is one variant of a group.
type Image struct {
	ID           string
	BatchID      string
	GroupID      string
	UserID       string
	Index        int
	Variant      Variant
	Prompt       string
	PromptSource string
	Status       string
	QCTries      int
	Reason       string
	// QC is every QC rejection of the image, oldest first (never nil).
	QC         []QCVerdict
	ResultKey  string
	MIME       string
	Width      int
	Height     int
	Bytes      int64
	Provider   string
	CostMicros int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
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
	if err := decodeColumn("variant", variant, &im.Variant); err != nil {
		return nil, fmt.Errorf("image %s: %w", im.ID, err)
	}
	im.QC = []QCVerdict{}
	if err := decodeColumn("qc", qc, &im.QC); err != nil {
		return nil, fmt.Errorf("image %s: %w", im.ID, err)
	}
	im.CreatedAt, im.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &im, nil
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

// ImageUpdate lists the image fields to change; nil fields stay.
type ImageUpdate struct {
	Status       string
	Variant      *Variant
	Prompt       *string
	PromptSource *string
	QCTries      *int
	Reason       *string
	// QC replaces the image's QC verdicts when non-nil ([]QCVerdict{}
	// clears them).
	QC         []QCVerdict
	ResultKey  *string
	MIME       *string
	Width      *int
	Height     *int
	Bytes      *int64
	Provider   *string
	CostMicros *int64
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
		set("variant", encodeColumn(u.Variant))
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
		set("qc", encodeColumn(u.QC))
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
	kind := KindImageUpdated
	data := map[string]any{"image_id": im.ID, "group_id": im.GroupID}
	if u.Status != "" {
		kind = ImageKind(u.Status)
		data["status"] = u.Status
	}
	if u.Reason != nil && *u.Reason != "" {
		data["reason"] = *u.Reason
	}
	for k, v := range u.Event {
		data[k] = v
	}
	if _, err := db.AddEvent(ctx, tx, im.BatchID, kind, data); err != nil {
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

// CountActiveImages counts a user's images that are queued, running or
// interrupted (work still to do).
func (db *DB) CountActiveImages(ctx context.Context, tx *Tx, userID string) (int, error) {
	var n int
	err := db.queryRow(ctx, tx, `SELECT COUNT(*) FROM images i JOIN batches b ON b.id = i.batch_id
		WHERE b.user_id = $1 AND i.status IN ($2, $3, $4)`, userID, ImageQueued, ImageRunning, ImageInterrupted).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count active images: %w", err)
	}
	return n, nil
}
