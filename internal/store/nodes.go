package store

import (
	"context"
	"fmt"
	"time"
)

// Node is one serving process registered in the database.
type Node struct {
	ID          string    `json:"id"`
	Hostname    string    `json:"hostname"`
	PID         int       `json:"pid"`
	Version     string    `json:"version"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
}

// RegisterNode records (or refreshes) this process's row.
func (db *DB) RegisterNode(ctx context.Context, n Node) error {
	_, err := db.exec(ctx, db.W, `INSERT INTO nodes (id, hostname, pid, version, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
		n.ID, n.Hostname, n.PID, n.Version, micros(n.StartedAt), micros(n.HeartbeatAt))
	if err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	return nil
}

// HeartbeatNode moves the node's heartbeat to at. It reports false when the
// row is gone — another node declared this one dead and took its work.
func (db *DB) HeartbeatNode(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := db.exec(ctx, db.W, "UPDATE nodes SET heartbeat_at = $1 WHERE id = $2", micros(at), id)
	if err != nil {
		return false, fmt.Errorf("node heartbeat: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("node heartbeat: %w", err)
	}
	return n > 0, nil
}

// ClaimDeadNodes deletes the rows of nodes whose last heartbeat is before
// cutoff (other than self) and returns them. The delete is the claim: when
// several nodes look at once, each dead node is returned to exactly one.
func (db *DB) ClaimDeadNodes(ctx context.Context, self string, cutoff time.Time) ([]Node, error) {
	rs, err := db.query(ctx, db.W, `DELETE FROM nodes WHERE heartbeat_at < $1 AND id <> $2
		RETURNING id, hostname, pid, version, started_at, heartbeat_at`, micros(cutoff), self)
	if err != nil {
		return nil, fmt.Errorf("claim dead nodes: %w", err)
	}
	defer rs.Close()
	var out []Node
	for rs.Next() {
		var n Node
		var started, beat int64
		if err := rs.Scan(&n.ID, &n.Hostname, &n.PID, &n.Version, &started, &beat); err != nil {
			return nil, fmt.Errorf("scan node: %w", err)
		}
		n.StartedAt, n.HeartbeatAt = fromMicros(started), fromMicros(beat)
		out = append(out, n)
	}
	return out, rs.Err()
}

// RemoveNode deletes the node's row at a clean stop.
func (db *DB) RemoveNode(ctx context.Context, id string) error {
	if _, err := db.exec(ctx, db.W, "DELETE FROM nodes WHERE id = $1", id); err != nil {
		return fmt.Errorf("remove node: %w", err)
	}
	return nil
}

// Nodes lists the registered nodes, oldest first.
func (db *DB) Nodes(ctx context.Context) ([]Node, error) {
	rs, err := db.query(ctx, db.R, "SELECT id, hostname, pid, version, started_at, heartbeat_at FROM nodes ORDER BY started_at, id")
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	defer rs.Close()
	out := []Node{}
	for rs.Next() {
		var n Node
		var started, beat int64
		if err := rs.Scan(&n.ID, &n.Hostname, &n.PID, &n.Version, &started, &beat); err != nil {
			return nil, fmt.Errorf("scan node: %w", err)
		}
		n.StartedAt, n.HeartbeatAt = fromMicros(started), fromMicros(beat)
		out = append(out, n)
	}
	return out, rs.Err()
}
