// Package storetest opens isolated, migrated databases for tests: a fresh
// SQLite file per test always, and a fresh PostgreSQL schema per test when
// LUDENG_TEST_DATABASE_URL is set.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

// EnvURL names the variable holding the PostgreSQL test URL.
const EnvURL = "LUDENG_TEST_DATABASE_URL"

// Engines lists the engines tests should run on. PostgreSQL is included only
// when LUDENG_TEST_DATABASE_URL is set; CI sets it and then compares pass
// counts per engine, so a silently missing engine fails the run.
func Engines() []store.Engine {
	if os.Getenv(EnvURL) != "" {
		return []store.Engine{store.SQLite, store.Postgres}
	}
	return []store.Engine{store.SQLite}
}

// Open returns a migrated database on engine, removed when the test ends.
func Open(t testing.TB, engine store.Engine) *store.DB {
	t.Helper()
	ctx := context.Background()
	var opts store.Options
	switch engine {
	case store.SQLite:
		opts.SQLitePath = filepath.Join(t.TempDir(), "test.db")
	case store.Postgres:
		url := os.Getenv(EnvURL)
		require.NotEmpty(t, url, EnvURL+" must be set for postgres tests")
		schema := "t_" + randHex(8)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err, "connect to "+EnvURL)
		_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			_ = conn.Close(context.Background())
		})
		opts.URL, opts.PGSchema, opts.MaxConns = url, schema, 4
	}
	db, err := store.Open(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	return db
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
