package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// Migration is one embedded schema step.
type Migration struct {
	Version   int
	Name      string
	SQL       string
	Applied   bool
	AppliedAt int64
}

// migrationLockKey is the PostgreSQL advisory lock held while migrating, so
// two nodes starting together do not apply the same step twice.
const migrationLockKey = 7402031

func (db *DB) migrations() ([]Migration, error) {
	dir := "migrations/" + string(db.Engine)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".up.sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with NNN_", name)
		}
		b, err := migrationFS.ReadFile(dir + "/" + name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".up.sql"), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("duplicate migration version %d", out[i].Version)
		}
	}
	return out, nil
}

func (db *DB) ensureMigrationTable(ctx context.Context) error {
	_, err := db.W.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return nil
}

// MigrationStatus lists every embedded migration and whether it is applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]Migration, error) {
	if err := db.ensureMigrationTable(ctx); err != nil {
		return nil, err
	}
	ms, err := db.migrations()
	if err != nil {
		return nil, err
	}
	rows, err := db.W.QueryContext(ctx, "SELECT version, applied_at FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]int64{}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			return nil, fmt.Errorf("scan migration: %w", err)
		}
		applied[v] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	for i := range ms {
		if at, ok := applied[ms[i].Version]; ok {
			ms[i].Applied, ms[i].AppliedAt = true, at
		}
	}
	return ms, nil
}

// Migrate applies every pending migration, each in its own transaction, and
// returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	if db.Engine == Postgres {
		conn, err := db.W.Conn(ctx)
		if err != nil {
			return 0, fmt.Errorf("migration lock conn: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
			return 0, fmt.Errorf("migration lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
		}()
	}
	ms, err := db.MigrationStatus(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if m.Applied {
			continue
		}
		err := db.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			_, err := db.exec(ctx, tx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.Version, m.Name, micros(db.now()))
			return err
		})
		if err != nil {
			return n, err
		}
		db.logger.InfoContext(ctx, "migration applied", "version", m.Version, "name", m.Name)
		n++
	}
	return n, nil
}
