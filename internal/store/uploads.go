package store

import (
	"context"
	"fmt"
	"time"
)

// Upload is a user's product photo. Exif and Warnings are JSON documents.
type Upload struct {
	ID        string
	UserID    string
	SHA256    string
	MIME      string
	Width     int
	Height    int
	Bytes     int64
	Filename  string
	EXIF      string
	Warnings  string
	CreatedAt time.Time
}

const uploadCols = "id, user_id, sha256, mime, width, height, bytes, filename, exif, warnings, created_at"

func scanUpload(row interface{ Scan(...any) error }) (*Upload, error) {
	var u Upload
	var at int64
	if err := row.Scan(&u.ID, &u.UserID, &u.SHA256, &u.MIME, &u.Width, &u.Height, &u.Bytes, &u.Filename, &u.EXIF, &u.Warnings, &at); err != nil {
		return nil, notFound(err)
	}
	u.CreatedAt = fromMicros(at)
	return &u, nil
}

// CreateUpload inserts an upload record (ID and CreatedAt are filled in).
func (db *DB) CreateUpload(ctx context.Context, tx *Tx, u *Upload) error {
	if u.ID == "" {
		u.ID = NewID()
	}
	u.CreatedAt = db.now().UTC()
	_, err := db.exec(ctx, tx, "INSERT INTO uploads ("+uploadCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		u.ID, u.UserID, u.SHA256, u.MIME, u.Width, u.Height, u.Bytes, u.Filename, u.EXIF, u.Warnings, micros(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert upload: %w", err)
	}
	return nil
}

// UploadByID returns an upload (callers check ownership).
func (db *DB) UploadByID(ctx context.Context, id string) (*Upload, error) {
	return scanUpload(db.queryRow(ctx, db.R, "SELECT "+uploadCols+" FROM uploads WHERE id = $1", id))
}

// ListUploads returns a user's uploads newest first, before the cursor id.
func (db *DB) ListUploads(ctx context.Context, userID, before string, limit int) ([]*Upload, error) {
	if before == "" {
		before = "~"
	}
	rows, err := db.query(ctx, db.R, "SELECT "+uploadCols+" FROM uploads WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
		userID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	defer rows.Close()
	var out []*Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("scan upload: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// DeleteUpload removes an upload record; the blob stays until cleanup finds
// it unreferenced (other users may share it).
func (db *DB) DeleteUpload(ctx context.Context, tx *Tx, id string) error {
	res, err := db.exec(ctx, tx, "DELETE FROM uploads WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("delete upload: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// ContentReferenced reports whether any upload uses the content hash
// (cleanup.References).
func (db *DB) ContentReferenced(ctx context.Context, sha256 string) (bool, error) {
	var n int
	if err := db.queryRow(ctx, db.R, "SELECT COUNT(*) FROM uploads WHERE sha256 = $1", sha256).Scan(&n); err != nil {
		return false, fmt.Errorf("count blob references: %w", err)
	}
	return n > 0, nil
}
