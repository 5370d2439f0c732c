package plan_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/pool"
	"github.com/ludeng/ludeng/internal/store"
)

// The benchmark user's history: Active used rows (as many as a user who
// generated ~250 batches of 12 without archiving) plus archived rows up to
// Total. Active rows never share a leave-one-out key (the store enforces
// it), archived rows are arbitrary.
const (
	benchUser   = "bench-history-1m-v1"
	benchTotal  = 1_000_000
	benchActive = 3_000
	benchChunk  = 10_000
)

// Environment:
//
//	LUDENG_BENCH_DIR           SQLite database directory, kept between runs
//	                           (default $TMPDIR/ludeng-bench)
//	LUDENG_BENCH_DATABASE_URL  PostgreSQL database for the postgres case
//	                           (kept between runs; the case is skipped if unset)
func engines(b *testing.B) map[string]store.Options {
	dir := os.Getenv("LUDENG_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ludeng-bench")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		b.Fatal(err)
	}
	out := map[string]store.Options{"sqlite": {SQLitePath: filepath.Join(dir, "plan-1m.db")}}
	if u := os.Getenv("LUDENG_BENCH_DATABASE_URL"); u != "" {
		out["postgres"] = store.Options{URL: u}
	}
	return out
}

func snapshot(b *testing.B) *pool.Snapshot {
	p, err := pool.Load(pooldata.FS())
	if err != nil {
		b.Fatalf("load pool: %v\n%s", err, pool.ProblemsOf(err))
	}
	s, err := pool.NewSnapshot(p)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// randomCombination draws a plausible combination of the pool.
func randomCombination(rng *rand.Rand, s *pool.Snapshot, regions []*pool.Region) plan.Combination {
	for {
		r := regions[rng.IntN(len(regions))]
		m := 1 + rng.IntN(12)
		road := pool.RoadIDs[rng.IntN(len(pool.RoadIDs))]
		els, _ := s.ElementsFor(r.Zone, m, road)
		if len(els) < 2 {
			continue
		}
		a, c := rng.IntN(len(els)), rng.IntN(len(els))
		ids := []string{els[a].ID}
		if c != a {
			ids = append(ids, els[c].ID)
		}
		return plan.Combination{CountyCode: r.Code, Month: m, Road: road, Elements: ids}.Canonical()
	}
}

// seed opens the database and makes sure the benchmark user has its
// 1,000,000 rows, inserting them on the first run.
func seed(b *testing.B, opts store.Options, s *pool.Snapshot) (*store.DB, string) {
	ctx := context.Background()
	db, err := store.Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	u, err := db.UserByName(ctx, benchUser)
	if err == nil {
		counts, err := db.CountHistory(ctx, u.ID)
		if err != nil {
			b.Fatal(err)
		}
		if counts[plan.StateUsed]+counts[plan.StateArchived] == benchTotal && counts[plan.StateUsed] == benchActive {
			return db, u.ID
		}
		b.Fatalf("user %s exists with %v rows; drop the benchmark database to reseed", benchUser, counts)
	}
	if !errors.Is(err, store.ErrNotFound) {
		b.Fatal(err)
	}
	start := time.Now()
	err = db.InTx(ctx, func(tx *store.Tx) error {
		u, err = db.CreateUser(ctx, tx, benchUser, "x", store.RoleOperator)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2026, 1))
	regions := s.Regions()
	epoch := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return epoch.Add(time.Duration(i) * 90 * time.Second) }

	// Active rows: random plausible combinations, kept when they share no
	// leave-one-out key with one kept before.
	var seen [plan.Dimensions]map[string]bool
	for d := range plan.Dimensions {
		seen[d] = map[string]bool{}
	}
	var active []store.HistoryInsert
	for len(active) < benchActive {
		c := randomCombination(rng, s, regions)
		loo := c.LOOKeys()
		ok := true
		for d := range plan.Dimensions {
			ok = ok && !seen[d][loo[d]]
		}
		if !ok {
			continue
		}
		for d := range plan.Dimensions {
			seen[d][loo[d]] = true
		}
		active = append(active, store.HistoryInsert{Combination: c, PoolVersion: s.Version(), CreatedAt: at(benchTotal - benchActive + len(active))})
	}
	insert := func(state string, items []store.HistoryInsert) {
		for i := 0; i < len(items); i += benchChunk {
			chunk := items[i:min(i+benchChunk, len(items))]
			err := db.InTx(ctx, func(tx *store.Tx) error {
				_, err := db.InsertHistory(ctx, tx, u.ID, state, chunk)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	archived := make([]store.HistoryInsert, 0, benchChunk)
	for i := range benchTotal - benchActive {
		archived = append(archived, store.HistoryInsert{Combination: randomCombination(rng, s, regions), PoolVersion: s.Version(), CreatedAt: at(i)})
		if len(archived) == benchChunk {
			insert(plan.StateArchived, archived)
			archived = archived[:0]
		}
	}
	insert(plan.StateArchived, archived)
	insert(plan.StateUsed, active)
	b.Logf("seeded %d history rows (%d used) in %s", benchTotal, benchActive, time.Since(start).Round(time.Second))
	return db, u.ID
}

// BenchmarkPlan12 plans 12 groups for the user with 1,000,000 history rows,
// a different seed per iteration: sampling, batched history lookups, the
// greedy search and all 48 prompts. "memory" is the same without a
// database (no history), for the planner's own cost.
func BenchmarkPlan12(b *testing.B) {
	s := snapshot(b)
	ctx := context.Background()
	b.Run("memory", func(b *testing.B) {
		p, err := plan.New(plan.Config{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		run(b, ctx, p, s, "")
	})
	for name, opts := range engines(b) {
		b.Run(name, func(b *testing.B) {
			db, userID := seed(b, opts, s)
			p, err := plan.New(plan.Config{}, db)
			if err != nil {
				b.Fatal(err)
			}
			run(b, ctx, p, s, userID)
		})
	}
}

func run(b *testing.B, ctx context.Context, p *plan.Planner, s *pool.Snapshot, userID string) {
	queries, blocked := 0, 0
	var took []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		got, err := p.Smart(ctx, s, plan.SmartRequest{UserID: userID, Groups: 12, Seed: int64(i)})
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
		queries += got.Search.HistoryQueries
		blocked += got.Search.HistoryBlocked
		i++
	}
	slices.Sort(took)
	ms := func(q float64) float64 {
		return float64(took[min(len(took)-1, int(q*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(queries)/float64(i), "history-calls/op")
	b.ReportMetric(float64(blocked)/float64(i), "blocked/op")
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.95), "p95-ms")
	b.ReportMetric(ms(1), "max-ms")
}

// BenchmarkBlockingLookup is the database part alone: one BlockingHistory
// call with the leave-one-out keys of 250 candidates (1,000 keys), the size
// of one planner lookup.
func BenchmarkBlockingLookup(b *testing.B) {
	s := snapshot(b)
	ctx := context.Background()
	for name, opts := range engines(b) {
		b.Run(name, func(b *testing.B) {
			db, userID := seed(b, opts, s)
			rng := rand.New(rand.NewPCG(9, 9))
			regions := s.Regions()
			sets := make([][plan.Dimensions][]string, 16)
			for k := range sets {
				for range 250 {
					loo := randomCombination(rng, s, regions).LOOKeys()
					for d := range plan.Dimensions {
						sets[k][d] = append(sets[k][d], loo[d])
					}
				}
			}
			hits := 0
			i := 0
			for b.Loop() {
				es, err := db.BlockingHistory(ctx, userID, sets[i%len(sets)])
				if err != nil {
					b.Fatal(err)
				}
				hits += len(es)
				i++
			}
			b.ReportMetric(float64(hits)/float64(i), "hits/op")
		})
	}
}
