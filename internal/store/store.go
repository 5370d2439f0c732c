// Package store is ludeng's persistence layer: one API over SQLite (the
// embedded default) and PostgreSQL (production, several nodes).
//
// All SQL of the application lives in this package. Queries are written once
// with PostgreSQL-style $N placeholders and rewritten to SQLite's ?N form, so
// the two engines share every statement that does not need engine-specific
// syntax. Times are BIGINT unix microseconds in both engines so scanning is
// identical and ordering is exact.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/ludeng/ludeng/internal/fault"
)

// Engine names a database engine.
type Engine string

// The supported engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// ErrNotFound is returned when a row does not exist or is not visible to the caller.
var ErrNotFound = fault.New(fault.NotFound, "not_found", "The resource does not exist.")

// ErrConflict is returned when a unique constraint would be violated.
var ErrConflict = fault.New(fault.Conflict, "conflict", "The resource already exists.")

// Options configure Open.
type Options struct {
	// URL is empty for SQLite in DataDir, or a postgres:// URL.
	URL string
	// DataDir holds the SQLite file (ludeng.db) when URL is empty.
	DataDir string
	// SQLitePath overrides the SQLite file path (tests).
	SQLitePath string
	// PGSchema, when set, pins search_path to this schema (tests isolate themselves this way).
	PGSchema string
	// MaxConns caps the PostgreSQL pool (default 20).
	MaxConns int32
	Logger   *slog.Logger
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// DB is an open database with a write pool and a read pool.
//
// On SQLite the write pool has exactly one connection: SQLite allows one
// writer, and funnelling writes through one connection turns SQLITE_BUSY into
// queueing. The same *sql.DB is later handed to River (riversqlite) so jobs are
// inserted in the application's transactions. Code holding a write transaction
// must use that tx, never W, or it waits for itself forever.
type DB struct {
	Engine Engine
	W      *sql.DB
	R      *sql.DB
	// PG is the pgx pool on PostgreSQL (nil on SQLite), for River and LISTEN/NOTIFY.
	PG     *pgxpool.Pool
	Path   string // SQLite file path
	now    func() time.Time
	logger *slog.Logger

	decoded decodedBatches

	rebindMu    sync.RWMutex
	rebindCache map[string]string

	// Set once before serving (see PublishEvents).
	eventHook     func(batchID string, seq int64)
	notifyChannel string
}

// PublishEvents says how stored batch events are announced. On PostgreSQL
// with a channel, each event runs pg_notify(channel, "<batch>:<seq>") inside
// its transaction, so PostgreSQL delivers the wake-up exactly when the
// event commits and a crash cannot lose it. Otherwise hook (if any) runs
// after the commit. Call before the first write.
func (db *DB) PublishEvents(channel string, hook func(batchID string, seq int64)) {
	if db.Engine == Postgres {
		db.notifyChannel = channel
	}
	db.eventHook = hook
}

// Open connects and configures the pools. It does not migrate; call Migrate.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	db := &DB{now: o.Now, logger: o.Logger, rebindCache: map[string]string{}}
	switch {
	case o.URL == "" || strings.HasPrefix(o.URL, "sqlite:") || strings.HasPrefix(o.URL, "file:"):
		db.Engine = SQLite
		path := o.SQLitePath
		if path == "" {
			path = strings.TrimPrefix(strings.TrimPrefix(o.URL, "sqlite:"), "file:")
		}
		if path == "" {
			if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
				return nil, fmt.Errorf("create data dir: %w", err)
			}
			path = filepath.Join(o.DataDir, "ludeng.db")
		}
		db.Path = path
		// busy_timeout first: the other pragmas may already need to wait for a lock.
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		w, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		r, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite read pool: %w", err)
		}
		r.SetMaxOpenConns(4)
		db.W, db.R = w, r
		if err := w.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("ping sqlite %s: %w", path, err)
		}
	case strings.HasPrefix(o.URL, "postgres://") || strings.HasPrefix(o.URL, "postgresql://"):
		db.Engine = Postgres
		cfg, err := pgxpool.ParseConfig(o.URL)
		if err != nil {
			return nil, fmt.Errorf("parse database url: %w", err)
		}
		cfg.MaxConns = o.MaxConns
		if cfg.MaxConns == 0 {
			cfg.MaxConns = 20
		}
		if o.PGSchema != "" {
			cfg.ConnConfig.RuntimeParams["search_path"] = o.PGSchema
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect postgres: %w", err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("ping postgres: %w", err)
		}
		db.PG = pool
		db.W = stdlib.OpenDBFromPool(pool)
		db.R = db.W
	default:
		return nil, fault.New(fault.Invalid, "bad_database_url", "LUDENG_DATABASE_URL must be empty (SQLite) or a postgres:// URL")
	}
	return db, nil
}

// Close releases the pools.
func (db *DB) Close() error {
	var errs []error
	if db.R != nil && db.R != db.W {
		errs = append(errs, db.R.Close())
	}
	if db.W != nil {
		errs = append(errs, db.W.Close())
	}
	if db.PG != nil {
		db.PG.Close()
	}
	return errors.Join(errs...)
}

// Ping checks that the database answers (used by /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.W.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	var one int
	if err := db.R.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("select 1: %w", err)
	}
	return nil
}

// Now is the store's clock.
func (db *DB) Now() time.Time { return db.now() }

// q rewrites $N placeholders for SQLite. SQLite's ?NNN binds by explicit
// index, so a statement may reuse $1 and the rewrite stays correct.
func (db *DB) q(query string) string {
	if db.Engine != SQLite {
		return query
	}
	db.rebindMu.RLock()
	out, ok := db.rebindCache[query]
	db.rebindMu.RUnlock()
	if ok {
		return out
	}
	out = strings.ReplaceAll(query, "$", "?")
	db.rebindMu.Lock()
	db.rebindCache[query] = out
	db.rebindMu.Unlock()
	return out
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is an application transaction; pass it to the store methods that take
// one. On PostgreSQL the transaction is begun through pgx on a dedicated
// connection, so River's riverpgxv5 driver can insert jobs into the very same
// transaction (PgxTx) while the store keeps using database/sql on that
// connection. On SQLite it is a plain *sql.Tx (SQLTx), which riversqlite takes.
type Tx struct {
	q        querier
	sqlTx    *sql.Tx
	pgxTx    pgx.Tx
	conn     *sql.Conn
	finished bool
	// afterCommit runs once the transaction committed (event wake-ups).
	afterCommit []func()
}

// AfterCommit registers fn to run after a successful commit.
func (t *Tx) AfterCommit(fn func()) { t.afterCommit = append(t.afterCommit, fn) }

// SQLTx is the database/sql transaction on SQLite (nil on PostgreSQL).
func (t *Tx) SQLTx() *sql.Tx { return t.sqlTx }

// PgxTx is the pgx transaction on PostgreSQL (nil on SQLite).
func (t *Tx) PgxTx() pgx.Tx { return t.pgxTx }

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.q.ExecContext(ctx, query, args...)
}

// QueryContext queries in the transaction.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.q.QueryContext(ctx, query, args...)
}

// QueryRowContext queries one row in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.q.QueryRowContext(ctx, query, args...)
}

// Commit commits the transaction.
func (t *Tx) Commit() error {
	if t.finished {
		return sql.ErrTxDone
	}
	t.finished = true
	var err error
	if t.sqlTx != nil {
		err = t.sqlTx.Commit()
	} else {
		err = t.pgxTx.Commit(context.Background())
		t.conn.Close()
	}
	if err != nil {
		return err
	}
	for _, fn := range t.afterCommit {
		fn()
	}
	return nil
}

// Rollback aborts the transaction; after Commit it is a no-op.
func (t *Tx) Rollback() error {
	if t.finished {
		return sql.ErrTxDone
	}
	t.finished = true
	if t.sqlTx != nil {
		return t.sqlTx.Rollback()
	}
	defer t.conn.Close()
	return t.pgxTx.Rollback(context.Background())
}

// Begin starts a write transaction. On SQLite it is BEGIN IMMEDIATE, so the
// write lock is taken up front instead of failing at the first write.
func (db *DB) Begin(ctx context.Context) (*Tx, error) {
	if db.Engine == SQLite {
		tx, err := db.W.BeginTx(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
		return &Tx{q: tx, sqlTx: tx}, nil
	}
	conn, err := db.W.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: acquire conn: %w", err)
	}
	var ptx pgx.Tx
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		var err error
		ptx, err = c.Conn().Begin(ctx)
		return err
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &Tx{q: conn, pgxTx: ptx, conn: conn}, nil
}

// InTx runs fn in a write transaction, committing when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (db *DB) exec(ctx context.Context, x querier, query string, args ...any) (sql.Result, error) {
	return x.ExecContext(ctx, db.q(query), args...)
}

func (db *DB) queryRow(ctx context.Context, x querier, query string, args ...any) *sql.Row {
	return x.QueryRowContext(ctx, db.q(query), args...)
}

func (db *DB) query(ctx context.Context, x querier, query string, args ...any) (*sql.Rows, error) {
	return x.QueryContext(ctx, db.q(query), args...)
}

// micros converts a time to stored form.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts stored form back to UTC time.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// isUniqueViolation reports whether err is a unique-constraint failure on either engine.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
