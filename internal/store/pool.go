package store

import (
	"context"
	"fmt"
	"time"
)

// PoolVersion is one stored version of the element pool.
type PoolVersion struct {
	Number    int       `json:"number"`
	Hash      string    `json:"hash"`
	Counts    string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Note      string    `json:"note"`
	Content   []byte    `json:"-"`
}

// LatestPoolVersion returns the newest pool version with its content.
func (db *DB) LatestPoolVersion(ctx context.Context) (*PoolVersion, error) {
	return db.scanPoolVersion(db.queryRow(ctx, db.R,
		"SELECT number, hash, content, counts, created_at, created_by, note FROM pool_versions ORDER BY number DESC LIMIT 1"))
}

// LatestPoolVersionNumber is the cheap poll other nodes use to notice edits.
func (db *DB) LatestPoolVersionNumber(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, db.R, "SELECT COALESCE(MAX(number), 0) FROM pool_versions").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("latest pool version: %w", err)
	}
	return n, nil
}

func (db *DB) scanPoolVersion(row interface{ Scan(...any) error }) (*PoolVersion, error) {
	var v PoolVersion
	var at int64
	if err := row.Scan(&v.Number, &v.Hash, &v.Content, &v.Counts, &at, &v.CreatedBy, &v.Note); err != nil {
		return nil, notFound(err)
	}
	v.CreatedAt = fromMicros(at)
	return &v, nil
}

// ListPoolVersions returns versions newest first, without content.
func (db *DB) ListPoolVersions(ctx context.Context, limit int) ([]*PoolVersion, error) {
	rows, err := db.query(ctx, db.R, "SELECT number, hash, created_at, created_by, note FROM pool_versions ORDER BY number DESC LIMIT $1", limit)
	if err != nil {
		return nil, fmt.Errorf("list pool versions: %w", err)
	}
	defer rows.Close()
	var out []*PoolVersion
	for rows.Next() {
		var v PoolVersion
		var at int64
		if err := rows.Scan(&v.Number, &v.Hash, &at, &v.CreatedBy, &v.Note); err != nil {
			return nil, fmt.Errorf("scan pool version: %w", err)
		}
		v.CreatedAt = fromMicros(at)
		out = append(out, &v)
	}
	return out, rows.Err()
}

// AddPoolVersion stores content as version N+1 unless the newest version
// already has the same hash (import is idempotent). It reports whether a new
// version was written.
func (db *DB) AddPoolVersion(ctx context.Context, tx *Tx, hash string, content []byte, counts, by, note string) (*PoolVersion, bool, error) {
	latest, err := db.scanPoolVersion(db.queryRow(ctx, tx,
		"SELECT number, hash, content, counts, created_at, created_by, note FROM pool_versions ORDER BY number DESC LIMIT 1"))
	if err != nil && err != ErrNotFound {
		return nil, false, fmt.Errorf("latest pool version: %w", err)
	}
	next := 1
	if latest != nil {
		if latest.Hash == hash {
			return latest, false, nil
		}
		next = latest.Number + 1
	}
	v := &PoolVersion{Number: next, Hash: hash, Content: content, Counts: counts, CreatedAt: db.now().UTC(), CreatedBy: by, Note: note}
	_, err = db.exec(ctx, tx, `INSERT INTO pool_versions (number, hash, content, counts, created_at, created_by, note)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, v.Number, hash, content, counts, micros(v.CreatedAt), by, note)
	if isUniqueViolation(err) {
		return nil, false, ErrConflict.Wrap(err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("insert pool version: %w", err)
	}
	return v, true, nil
}
