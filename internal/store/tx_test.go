package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	// The driver-level handle of a Tx (what River's InsertTx receives) and the
	// store's own statements must be one transaction: both vanish on rollback
	// and both appear on commit.
	storeCases["TxDriverHandleSharesTransaction"] = func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rawInsert := func(tx *store.Tx, id, name string) {
			if tx.PgxTx() != nil {
				_, err := tx.PgxTx().Exec(ctx, "INSERT INTO audit_log (id, at, actor_name, action) VALUES ($1, 1, $2, 'raw')", id, name)
				require.NoError(t, err)
				return
			}
			_, err := tx.SQLTx().ExecContext(ctx, "INSERT INTO audit_log (id, at, actor_name, action) VALUES (?, 1, ?, 'raw')", id, name)
			require.NoError(t, err)
		}
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			rawInsert(tx, "raw-1", "driver")
			require.NoError(t, db.Audit(ctx, tx, store.AuditEntry{ID: "app-1", ActorName: "store", Action: "raw"}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		got, err := db.ListAudit(ctx, store.AuditFilter{Action: "raw"})
		require.NoError(t, err)
		require.Empty(t, got)

		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			rawInsert(tx, "raw-2", "driver")
			return db.Audit(ctx, tx, store.AuditEntry{ID: "app-2", ActorName: "store", Action: "raw"})
		}))
		got, err = db.ListAudit(ctx, store.AuditFilter{Action: "raw"})
		require.NoError(t, err)
		require.Len(t, got, 2)
	}
}
