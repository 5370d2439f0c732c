package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/store/storetest"
)

// TestStore is the conformance suite: every subtest runs on each engine, and
// CI requires equal pass counts for TestStore/sqlite and TestStore/postgres.
func TestStore(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			for name, fn := range storeCases {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					fn(t, storetest.Open(t, engine))
				})
			}
		})
	}
}

var storeCases = map[string]func(t *testing.T, db *store.DB){
	"MigrateIsIdempotent": func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		n, err := db.Migrate(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		ms, err := db.MigrationStatus(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, ms)
		for _, m := range ms {
			require.True(t, m.Applied, m.Name)
		}
	},
	"UserCRUD": func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var u *store.User
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			u, err = db.CreateUser(ctx, tx, "alice", "hash", store.RoleOperator)
			return err
		}))
		got, err := db.UserByName(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.False(t, got.Disabled)
		require.Equal(t, store.RoleOperator, got.Role)

		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := db.CreateUser(ctx, tx, "alice", "hash", store.RoleOperator)
			return err
		})
		require.Equal(t, fault.Conflict, fault.KindOf(err))

		_, err = db.UserByName(ctx, "nobody")
		require.ErrorIs(t, err, store.ErrNotFound)

		admin := store.RoleAdmin
		daily := int64(5_000_000)
		dp := &daily
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			_, err := db.UpdateUser(ctx, tx, u.ID, store.UserUpdate{Role: &admin, DailyBudget: &dp})
			return err
		}))
		got, err = db.UserByID(ctx, u.ID)
		require.NoError(t, err)
		require.True(t, got.IsAdmin())
		require.Equal(t, daily, *got.DailyBudgetMicros)
		n, err := db.CountAdmins(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		list, err := db.ListUsers(ctx, "", 10)
		require.NoError(t, err)
		require.Len(t, list, 1)
	},
	"SessionsAndTokensRevokedOnDisable": func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var u *store.User
		var tok *store.APIToken
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if u, err = db.CreateUser(ctx, tx, "bob", "hash", store.RoleOperator); err != nil {
				return err
			}
			tok, err = db.CreateAPIToken(ctx, tx, u.ID, "ci", "tokhash", "ldg_abcd", nil)
			return err
		}))
		require.NoError(t, db.CreateSession(ctx, "sesshash", u.ID, time.Hour, "127.0.0.1", "test"))
		got, err := db.SessionUser(ctx, "sesshash")
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		got, gotTok, err := db.TokenUser(ctx, "tokhash")
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.Equal(t, tok.ID, gotTok.ID)

		yes := true
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			_, err := db.UpdateUser(ctx, tx, u.ID, store.UserUpdate{Disabled: &yes})
			return err
		}))
		_, err = db.SessionUser(ctx, "sesshash")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, _, err = db.TokenUser(ctx, "tokhash")
		require.ErrorIs(t, err, store.ErrNotFound)
		toks, err := db.ListAPITokens(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, toks, 1)
		require.NotNil(t, toks[0].RevokedAt)
	},
	"ExpiredSessionAndToken": func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var u *store.User
		past := time.Now().Add(-time.Minute)
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if u, err = db.CreateUser(ctx, tx, "carol", "hash", store.RoleOperator); err != nil {
				return err
			}
			_, err = db.CreateAPIToken(ctx, tx, u.ID, "old", "oldhash", "ldg_old", &past)
			return err
		}))
		require.NoError(t, db.CreateSession(ctx, "short", u.ID, -time.Second, "", ""))
		_, err := db.SessionUser(ctx, "short")
		require.ErrorIs(t, err, store.ErrNotFound)
		n, err := db.DeleteExpiredSessions(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, _, err = db.TokenUser(ctx, "oldhash")
		require.ErrorIs(t, err, store.ErrNotFound)
	},
	"AuditLog": func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		require.NoError(t, db.Audit(ctx, nil, store.AuditEntry{ActorName: "system", Action: "user.create", TargetType: "user", TargetID: "u1", Detail: map[string]any{"role": "admin"}}))
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			return db.Audit(ctx, tx, store.AuditEntry{ActorName: "admin", Action: "user.disable", TargetType: "user", TargetID: "u1"})
		}))
		// A rolled-back change leaves no audit row.
		_ = db.InTx(ctx, func(tx *store.Tx) error {
			require.NoError(t, db.Audit(ctx, tx, store.AuditEntry{ActorName: "admin", Action: "user.delete", TargetType: "user", TargetID: "u1"}))
			return fault.New(fault.Conflict, "x", "abort")
		})
		all, err := db.ListAudit(ctx, store.AuditFilter{TargetID: "u1"})
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, "user.disable", all[0].Action)
		require.Equal(t, "admin", all[1].Detail["role"])
	},
	"CursorRoundTrip": func(t *testing.T, db *store.DB) {
		c := store.EncodeCursor("0193-abc")
		k, err := store.DecodeCursor(c)
		require.NoError(t, err)
		require.Equal(t, "0193-abc", k)
		_, err = store.DecodeCursor("!!!")
		require.Equal(t, fault.Invalid, fault.KindOf(err))
	},
}
