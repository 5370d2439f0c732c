package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

// Errors of the preset store.
var (
	ErrPresetNotFound  = fault.New(fault.NotFound, "preset_not_found", "The preset does not exist.")
	ErrPresetNameTaken = fault.New(fault.Conflict, "preset_name_taken", "You already have a preset with this name.")
)

// Preset is a user's named batch settings. Settings is the JSON of
// pipeline.PresetSettings; the store keeps it opaque.
type Preset struct {
	ID        string
	UserID    string
	Name      string
	Settings  json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

const presetCols = "id, user_id, name, settings, created_at, updated_at"

func scanPreset(row interface{ Scan(...any) error }) (*Preset, error) {
	var p Preset
	var settings string
	var created, updated int64
	if err := row.Scan(&p.ID, &p.UserID, &p.Name, &settings, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrPresetNotFound
		}
		return nil, fmt.Errorf("scan preset: %w", err)
	}
	p.Settings = json.RawMessage(settings)
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &p, nil
}

// CreatePreset inserts a preset (ID and times are filled in). A name the
// user already uses is ErrPresetNameTaken.
func (db *DB) CreatePreset(ctx context.Context, tx *Tx, p *Preset) error {
	if p.ID == "" {
		p.ID = NewID()
	}
	now := db.now().UTC().Truncate(time.Microsecond)
	p.CreatedAt, p.UpdatedAt = now, now
	_, err := db.exec(ctx, tx, "INSERT INTO presets ("+presetCols+") VALUES ($1, $2, $3, $4, $5, $5)",
		p.ID, p.UserID, p.Name, rawOr(p.Settings, "{}"), micros(now))
	if isUniqueViolation(err) {
		return ErrPresetNameTaken.With("name", p.Name)
	}
	if err != nil {
		return fmt.Errorf("insert preset: %w", err)
	}
	return nil
}

// PresetByID reads a preset; callers check ownership.
func (db *DB) PresetByID(ctx context.Context, id string) (*Preset, error) {
	return scanPreset(db.queryRow(ctx, db.R, "SELECT "+presetCols+" FROM presets WHERE id = $1", id))
}

// CountPresets counts a user's presets inside tx (the per-user cap).
func (db *DB) CountPresets(ctx context.Context, tx *Tx, userID string) (int, error) {
	var n int
	if err := db.queryRow(ctx, tx, "SELECT COUNT(*) FROM presets WHERE user_id = $1", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count presets: %w", err)
	}
	return n, nil
}

// ListPresets returns a user's presets ordered by name, after the cursor
// name, and the next cursor ("" on the last page).
func (db *DB) ListPresets(ctx context.Context, userID, afterName string, limit int) ([]*Preset, string, error) {
	if limit <= 0 {
		limit = 100
	}
	rs, err := db.query(ctx, db.R, "SELECT "+presetCols+" FROM presets WHERE user_id = $1 AND name > $2 ORDER BY name LIMIT $3",
		userID, afterName, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list presets: %w", err)
	}
	defer rs.Close()
	out := []*Preset{}
	for rs.Next() {
		p, err := scanPreset(rs)
		if err != nil {
			return nil, "", err
		}
		out = append(out, p)
	}
	if err := rs.Err(); err != nil {
		return nil, "", fmt.Errorf("list presets: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = EncodeCursor(out[limit-1].Name)
	}
	return out, next, nil
}

// UpdatePreset stores p's name and settings and stamps UpdatedAt. A name
// the owner already uses for another preset is ErrPresetNameTaken.
func (db *DB) UpdatePreset(ctx context.Context, tx *Tx, p *Preset) error {
	now := db.now().UTC().Truncate(time.Microsecond)
	res, err := db.exec(ctx, tx, "UPDATE presets SET name = $1, settings = $2, updated_at = $3 WHERE id = $4",
		p.Name, rawOr(p.Settings, "{}"), micros(now), p.ID)
	if isUniqueViolation(err) {
		return ErrPresetNameTaken.With("name", p.Name)
	}
	if err != nil {
		return fmt.Errorf("update preset: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrPresetNotFound
	}
	p.UpdatedAt = now
	return nil
}

// DeletePreset removes a preset.
func (db *DB) DeletePreset(ctx context.Context, tx *Tx, id string) error {
	res, err := db.exec(ctx, tx, "DELETE FROM presets WHERE id = $1", id)
	if err != nil {
		return fmt.Errorf("delete preset: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrPresetNotFound
	}
	return nil
}
