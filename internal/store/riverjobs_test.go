package store_test

import (
	"context"
	"testing"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func init() {
	storeCases["RunningJobsOf"] = testRunningJobsOf
}

// testRunningJobsOf: a dead node's work is the running jobs whose latest
// attempt it took; jobs it tried before another node, and finished ones,
// are not. On SQLite (one serving process) the question is refused.
func testRunningJobsOf(t *testing.T, db *store.DB) {
	ctx := context.Background()
	if db.Engine != store.Postgres {
		_, err := db.RunningJobsOf(ctx, "dead")
		require.Error(t, err)
		return
	}
	m, err := rivermigrate.New(riverpgxv5.New(db.PG), nil)
	require.NoError(t, err)
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	require.NoError(t, err)
	for _, j := range []struct {
		args, state string
		attemptedBy []string
		attempt     int
	}{
		{`{"image_id":"img-1"}`, "running", []string{"alive", "dead"}, 2},
		{`{"image_id":"img-2"}`, "running", []string{"dead", "alive"}, 2},
		{`{"image_id":"img-3"}`, "completed", []string{"dead"}, 1},
		{`{"image_id":"img-4"}`, "running", []string{"dead"}, 5},
	} {
		// River's own insert path needs a client; the raw row is what recovery reads.
		_, err := db.PG.Exec(ctx, `INSERT INTO river_job (kind, args, attempt, max_attempts, queue, state, attempted_by, attempted_at,
			scheduled_at, priority, finalized_at) VALUES ('generate', $1, $2, 5, 'generate', $3::river_job_state, $4, now(), now(), 1,
			CASE WHEN $3::text = 'completed' THEN now() END)`, j.args, j.attempt, j.state, j.attemptedBy)
		require.NoError(t, err)
	}
	jobs, err := db.RunningJobsOf(ctx, "dead")
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	require.JSONEq(t, `{"image_id":"img-1"}`, string(jobs[0].Args))
	require.Equal(t, "generate", jobs[0].Kind)
	require.Equal(t, 2, jobs[0].Attempt)
	require.Equal(t, 5, jobs[0].MaxAttempts)
	require.False(t, jobs[0].ScheduledAt.IsZero())
	require.JSONEq(t, `{"image_id":"img-4"}`, string(jobs[1].Args))
	none, err := db.RunningJobsOf(ctx, "nobody")
	require.NoError(t, err)
	require.Empty(t, none)
}
