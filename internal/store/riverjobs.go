package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RiverJob is a row of River's river_job table as node recovery reads it.
type RiverJob struct {
	ID          int64
	Kind        string
	Args        []byte
	Attempt     int
	MaxAttempts int
	ScheduledAt time.Time
}

// RunningJobsOf lists the River jobs in state running whose latest attempt
// was taken by nodeID (River's client id is the node id): the work a dead
// node held. PostgreSQL only: nodes recover each other only there (a
// SQLite database has one serving process).
func (db *DB) RunningJobsOf(ctx context.Context, nodeID string) ([]RiverJob, error) {
	if db.Engine != Postgres {
		return nil, errors.New("running jobs of a node: needs PostgreSQL")
	}
	rows, err := db.PG.Query(ctx, `SELECT id, kind, args, attempt, max_attempts, scheduled_at FROM river_job
		WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1 ORDER BY id`, nodeID)
	if err != nil {
		return nil, fmt.Errorf("list running jobs: %w", err)
	}
	defer rows.Close()
	var jobs []RiverJob
	for rows.Next() {
		var j RiverJob
		if err := rows.Scan(&j.ID, &j.Kind, &j.Args, &j.Attempt, &j.MaxAttempts, &j.ScheduledAt); err != nil {
			return nil, fmt.Errorf("scan job: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list running jobs: %w", err)
	}
	return jobs, nil
}
