package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/store"
)

// The history cases join the conformance suite (TestStore), so they run on
// SQLite and PostgreSQL and count in CI's parity check.
func init() {
	storeCases["HistoryInsertAndBlocking"] = testHistoryInsertAndBlocking
	storeCases["HistoryConflicts"] = testHistoryConflicts
	storeCases["HistoryStates"] = testHistoryStates
	storeCases["HistoryArchiveByDate"] = testHistoryArchiveByDate
	storeCases["HistoryListAndCount"] = testHistoryListAndCount
	storeCases["HistoryManyKeys"] = testHistoryManyKeys
	storeCases["HistoryPlannerUsesStore"] = testHistoryPlannerUsesStore
	storeCases["HistoryConcurrentReservations"] = testHistoryConcurrentReservations
}

func historyUser(t *testing.T, db *store.DB, name string) string {
	t.Helper()
	var u *store.User
	require.NoError(t, db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		u, err = db.CreateUser(context.Background(), tx, name, "hash", store.RoleOperator)
		return err
	}))
	return u.ID
}

func insertHistory(t *testing.T, db *store.DB, userID, state string, items ...store.HistoryInsert) ([]*store.HistoryRow, error) {
	t.Helper()
	var rows []*store.HistoryRow
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		rows, err = db.InsertHistory(context.Background(), tx, userID, state, items)
		return err
	})
	return rows, err
}

func comb(county string, month int, road string, elements ...string) plan.Combination {
	return plan.Combination{CountyCode: county, Month: month, Road: road, Elements: elements}.Canonical()
}

func looSets(cs ...plan.Combination) [plan.Dimensions][]string {
	var out [plan.Dimensions][]string
	for _, c := range cs {
		l := c.LOOKeys()
		for d := range plan.Dimensions {
			out[d] = append(out[d], l[d])
		}
	}
	return out
}

func testHistoryInsertAndBlocking(t *testing.T, db *store.DB) {
	ctx := context.Background()
	uid := historyUser(t, db, "hist1")
	other := historyUser(t, db, "hist1b")
	base := comb("130503", 7, "dirt", "village_dog", "tricycle")
	rows, err := insertHistory(t, db, uid, plan.StateUsed, store.HistoryInsert{Combination: base, PoolVersion: "pv", BatchID: "b1", GroupID: "g1"})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, base.Key(), rows[0].Key)
	require.Equal(t, "130000", rows[0].Combination.ProvinceCode)

	cases := []struct {
		name    string
		c       plan.Combination
		blocked bool
	}{
		{"identical", base, true},
		{"county differs", comb("130133", 7, "dirt", "tricycle", "village_dog"), true},
		{"month differs", comb("130503", 8, "dirt", "tricycle", "village_dog"), true},
		{"road differs", comb("130503", 7, "cement", "tricycle", "village_dog"), true},
		{"elements differ", comb("130503", 7, "dirt", "tricycle"), true},
		{"two dimensions differ", comb("130503", 8, "cement", "tricycle", "village_dog"), false},
		{"all differ", comb("650402", 1, "asphalt", "camels"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.BlockingHistory(ctx, uid, looSets(tc.c))
			require.NoError(t, err)
			if !tc.blocked {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			e := got[0]
			require.Equal(t, rows[0].ID, e.ID)
			require.Equal(t, base, e.Combination)
			require.Equal(t, base.LOOKeys(), e.LOOKeys)
			require.Equal(t, "b1", e.BatchID)
			require.Equal(t, "g1", e.GroupID)
			require.Equal(t, plan.StateUsed, e.State)
		})
	}
	// Another user's history never blocks.
	got, err := db.BlockingHistory(ctx, other, looSets(base))
	require.NoError(t, err)
	require.Empty(t, got)
	// Several candidates at once, one query: only the blocked come back, once.
	got, err = db.BlockingHistory(ctx, uid, looSets(base, comb("650402", 1, "asphalt", "camels"), comb("130503", 8, "dirt", "tricycle", "village_dog")))
	require.NoError(t, err)
	require.Len(t, got, 1)
}

func testHistoryConflicts(t *testing.T, db *store.DB) {
	uid := historyUser(t, db, "hist2")
	other := historyUser(t, db, "hist2b")
	base := comb("130503", 7, "dirt", "tricycle")
	_, err := insertHistory(t, db, uid, plan.StateReserved, store.HistoryInsert{Combination: base, BatchID: "b1"})
	require.NoError(t, err)

	cases := []struct {
		name  string
		items []plan.Combination
		user  string
		ok    bool
	}{
		{"identical", []plan.Combination{base}, uid, false},
		{"one dimension away", []plan.Combination{comb("130503", 7, "cement", "tricycle")}, uid, false},
		{"two dimensions away", []plan.Combination{comb("130503", 8, "cement", "tricycle")}, uid, true},
		{"within the same call", []plan.Combination{comb("650402", 1, "asphalt", "camels"), comb("650402", 2, "asphalt", "camels")}, uid, false},
		{"other user", []plan.Combination{base}, other, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var items []store.HistoryInsert
			for _, c := range tc.items {
				items = append(items, store.HistoryInsert{Combination: c})
			}
			_, err := insertHistory(t, db, tc.user, plan.StateUsed, items...)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, store.ErrHistoryConflict)
			require.Equal(t, fault.Conflict, fault.KindOf(err))
		})
	}
	// Archived and released rows are no obstacle, and the unique indexes
	// (not only the pre-check) allow them.
	_, err = insertHistory(t, db, uid, plan.StateArchived, store.HistoryInsert{Combination: base}, store.HistoryInsert{Combination: base})
	require.NoError(t, err)
	_, err = insertHistory(t, db, uid, "bogus", store.HistoryInsert{Combination: base})
	require.Equal(t, fault.Invalid, fault.KindOf(err))
	_, err = insertHistory(t, db, uid, plan.StateUsed, store.HistoryInsert{Combination: plan.Combination{CountyCode: "13", Month: 7, Road: "dirt"}})
	require.ErrorIs(t, err, plan.ErrBadCombination)
}

func testHistoryStates(t *testing.T, db *store.DB) {
	ctx := context.Background()
	uid := historyUser(t, db, "hist3")
	a := comb("130503", 7, "dirt", "tricycle")
	b := comb("650402", 1, "asphalt", "camels")
	c := comb("540222", 8, "cement", "yak_herd")
	_, err := insertHistory(t, db, uid, plan.StateReserved,
		store.HistoryInsert{Combination: a, BatchID: "b1", GroupID: "g1"},
		store.HistoryInsert{Combination: b, BatchID: "b1", GroupID: "g2"},
		store.HistoryInsert{Combination: c, BatchID: "b1", GroupID: "g3"})
	require.NoError(t, err)

	var n int64
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		n, err = db.MarkHistoryUsed(ctx, tx, uid, "b1", "g1")
		return err
	}))
	require.EqualValues(t, 1, n)
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		n, err = db.ReleaseHistory(ctx, tx, uid, "b1")
		return err
	}))
	require.EqualValues(t, 2, n, "the used group stays used")
	// Wrong user: nothing changes.
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		n, err = db.ReleaseHistory(ctx, tx, "someone-else", "b1")
		return err
	}))
	require.Zero(t, n)

	got, err := db.BlockingHistory(ctx, uid, looSets(a, b, c))
	require.NoError(t, err)
	require.Len(t, got, 1, "released rows do not block")
	require.Equal(t, a.Key(), got[0].Key)
	require.Equal(t, plan.StateUsed, got[0].State)
	// A released combination may be reserved again.
	_, err = insertHistory(t, db, uid, plan.StateReserved, store.HistoryInsert{Combination: b, BatchID: "b2"})
	require.NoError(t, err)
}

func testHistoryArchiveByDate(t *testing.T, db *store.DB) {
	ctx := context.Background()
	uid := historyUser(t, db, "hist4")
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	old := comb("130503", 7, "dirt", "tricycle")
	recent := comb("650402", 1, "asphalt", "camels")
	running := comb("540222", 8, "cement", "yak_herd")
	_, err := insertHistory(t, db, uid, plan.StateUsed,
		store.HistoryInsert{Combination: old, CreatedAt: day.Add(-48 * time.Hour)},
		store.HistoryInsert{Combination: recent, CreatedAt: day.Add(time.Hour)})
	require.NoError(t, err)
	_, err = insertHistory(t, db, uid, plan.StateReserved, store.HistoryInsert{Combination: running, BatchID: "b9", CreatedAt: day.Add(-72 * time.Hour)})
	require.NoError(t, err)

	var n int64
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		n, err = db.ArchiveHistory(ctx, tx, uid, day)
		return err
	}))
	require.EqualValues(t, 1, n, "only used rows before the date; reserved rows are running batches")

	got, err := db.BlockingHistory(ctx, uid, looSets(old, recent, running))
	require.NoError(t, err)
	keys := map[string]bool{}
	for _, e := range got {
		keys[e.Key] = true
	}
	require.Equal(t, map[string]bool{recent.Key(): true, running.Key(): true}, keys)
	// The archived combination is free again.
	_, err = insertHistory(t, db, uid, plan.StateUsed, store.HistoryInsert{Combination: old})
	require.NoError(t, err)
}

func testHistoryListAndCount(t *testing.T, db *store.DB) {
	ctx := context.Background()
	uid := historyUser(t, db, "hist5")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var items []store.HistoryInsert
	for i := range 7 {
		items = append(items, store.HistoryInsert{Combination: comb("130503", i+1, "dirt", "tricycle", "e"+string(rune('a'+i))), CreatedAt: start.Add(time.Duration(i) * time.Hour)})
	}
	_, err := insertHistory(t, db, uid, plan.StateUsed, items...)
	require.NoError(t, err)
	_, err = insertHistory(t, db, uid, plan.StateArchived, store.HistoryInsert{Combination: comb("650402", 1, "asphalt", "camels"), CreatedAt: start})
	require.NoError(t, err)

	var all []*store.HistoryRow
	cursor := ""
	for range 10 {
		page, next, err := db.ListHistory(ctx, uid, store.HistoryFilter{States: []string{plan.StateUsed}, Cursor: cursor, Limit: 3})
		require.NoError(t, err)
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	require.Len(t, all, 7)
	for i := 1; i < len(all); i++ {
		require.True(t, all[i-1].CreatedAt.After(all[i].CreatedAt), "newest first")
	}
	require.Equal(t, 7, all[0].Combination.Month)

	counts, err := db.CountHistory(ctx, uid)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{plan.StateUsed: 7, plan.StateArchived: 1}, counts)

	_, _, err = db.ListHistory(ctx, uid, store.HistoryFilter{States: []string{"nope"}})
	require.Equal(t, fault.Invalid, fault.KindOf(err))
}

// testHistoryManyKeys asks about more keys than one statement carries.
func testHistoryManyKeys(t *testing.T, db *store.DB) {
	ctx := context.Background()
	uid := historyUser(t, db, "hist6")
	var items []store.HistoryInsert
	var probe []plan.Combination
	for i := range 300 {
		county := strconv.Itoa(131000 + i)
		c := comb(county, 1+i%12, "dirt", "e"+itoa(i))
		items = append(items, store.HistoryInsert{Combination: c})
		// One dimension away from c (another road), plus a free one.
		probe = append(probe, comb(county, 1+i%12, "cement", "e"+itoa(i)), comb("650402", 1+i%12, "asphalt", "x"+itoa(i)))
	}
	rows, err := insertHistory(t, db, uid, plan.StateUsed, items...)
	require.NoError(t, err)
	require.Len(t, rows, 300)
	got, err := db.BlockingHistory(ctx, uid, looSets(probe...))
	require.NoError(t, err)
	require.Len(t, got, 300)
}

func itoa(i int) string {
	const digits = "abcdefghij"
	s := ""
	for {
		s = string(digits[i%10]) + s
		i /= 10
		if i == 0 {
			return s
		}
	}
}

// testHistoryPlannerUsesStore plans against the store and records the plan:
// the next plan with the same seed must avoid it.
func testHistoryPlannerUsesStore(t *testing.T, db *store.DB) {
	ctx := context.Background()
	uid := historyUser(t, db, "hist7")
	snap := fixtureSnapshot(t)
	p, err := plan.New(plan.Config{}, db)
	require.NoError(t, err)
	req := plan.SmartRequest{UserID: uid, Groups: 4, Seed: 7}
	first, err := p.Smart(ctx, snap, req)
	require.NoError(t, err)
	var items []store.HistoryInsert
	for _, g := range first.Groups {
		items = append(items, store.HistoryInsert{Combination: g.Combination, PoolVersion: first.PoolVersion})
	}
	_, err = insertHistory(t, db, uid, plan.StateUsed, items...)
	require.NoError(t, err)

	second, err := p.Smart(ctx, snap, req)
	require.NoError(t, err)
	for _, g := range second.Groups {
		for _, h := range first.Groups {
			require.GreaterOrEqual(t, len(g.Combination.DiffDims(h.Combination)), 2)
		}
	}
	require.NoError(t, p.Verify(ctx, snap, uid, second.Combinations(), false))
	err = p.Verify(ctx, snap, uid, first.Combinations()[:1], false)
	require.ErrorIs(t, err, plan.ErrRepeatsHistory)
}

// fixtureSnapshot is the shipped pool.
func fixtureSnapshot(t *testing.T) *pool.Snapshot {
	t.Helper()
	p, err := pool.Load(pooldata.FS())
	require.NoError(t, err)
	s, err := pool.NewSnapshot(p)
	require.NoError(t, err)
	return s
}

// testHistoryConcurrentReservations: two transactions reserve combinations one
// dimension apart at the same time; whichever commits second fails, on
// PostgreSQL through the unique partial indexes (the pre-check cannot see the
// other transaction's uncommitted row), on SQLite because writers queue.
func testHistoryConcurrentReservations(t *testing.T, db *store.DB) {
	ctx := context.Background()
	uid := historyUser(t, db, "hist8")
	a := comb("130503", 7, "dirt", "tricycle")
	b := comb("130503", 7, "cement", "tricycle")

	tx1, err := db.Begin(ctx)
	require.NoError(t, err)
	_, err = db.InsertHistory(ctx, tx1, uid, plan.StateReserved, []store.HistoryInsert{{Combination: a}})
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		done <- db.InTx(ctx, func(tx *store.Tx) error {
			_, err := db.InsertHistory(ctx, tx, uid, plan.StateReserved, []store.HistoryInsert{{Combination: b}})
			return err
		})
	}()
	select {
	case err := <-done:
		t.Fatalf("second reservation finished before the first committed: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx1.Commit())
	err = <-done
	require.ErrorIs(t, err, store.ErrHistoryConflict)

	got, err := db.BlockingHistory(ctx, uid, looSets(a, b))
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, a.Key(), got[0].Key)
}
