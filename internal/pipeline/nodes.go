package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/ludeng/ludeng/internal/store"
)

// nodeState is this process's registration and its heartbeat loop.
type nodeState struct {
	id     string
	cancel context.CancelFunc
	done   chan struct{}
}

func (p *Pipeline) registerNode(ctx context.Context) error {
	p.node.id = p.jobs.id()
	host, _ := os.Hostname()
	now := p.d.Now()
	err := p.db.RegisterNode(ctx, store.Node{ID: p.node.id, Hostname: host, PID: os.Getpid(), Version: p.d.Version,
		StartedAt: now, HeartbeatAt: now})
	if err != nil {
		return err
	}
	p.log.Info("node registered", slog.String("node_id", p.node.id))
	return nil
}

// liveSiblings lists the other processes that serve this database from
// this host right now: a fresh heartbeat and a PID that exists. Both, since
// a crashed process's row keeps its last heartbeat for a while and a PID
// may be reused (the own PID, e.g. PID 1 in a container, never counts).
// SQLite only: its processes share one host.
func (p *Pipeline) liveSiblings(ctx context.Context) ([]store.Node, error) {
	nodes, err := p.db.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	cutoff := p.d.Now().Add(-p.cfg.NodeDeadAfter)
	var live []store.Node
	for _, n := range nodes {
		if n.Hostname == host && n.PID != os.Getpid() && n.HeartbeatAt.After(cutoff) && processExists(n.PID) {
			live = append(live, n)
		}
	}
	return live, nil
}

// processExists: signal 0 checks for the process without touching it; EPERM
// means it exists under another user.
func processExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// NodeID is this process's node (and River client) id.
func (p *Pipeline) NodeID() string { return p.node.id }

// startNodeLoop heartbeats every HeartbeatInterval and, on PostgreSQL,
// recovers the work of nodes that stopped heartbeating. River's own
// stuck-job rescuer would too, but only after the job timeout and on its
// 30 s tick; a dead node is known sooner.
func (p *Pipeline) startNodeLoop(ctx context.Context) {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.node.cancel, p.node.done = cancel, make(chan struct{})
	go func() {
		defer close(p.node.done)
		t := time.NewTicker(p.cfg.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			p.heartbeat(lctx)
			if p.db.Engine == store.Postgres {
				if err := p.reapDeadNodes(lctx); err != nil && lctx.Err() == nil {
					p.log.Error("recover dead nodes", slog.Any("error", err))
				}
			}
		}
	}()
}

func (p *Pipeline) stopNodeLoop() {
	if p.node.cancel == nil {
		return
	}
	p.node.cancel()
	<-p.node.done
}

func (p *Pipeline) heartbeat(ctx context.Context) {
	ok, err := p.db.HeartbeatNode(ctx, p.node.id, p.d.Now())
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("node heartbeat", slog.Any("error", err))
		}
		return
	}
	if !ok {
		// Another node took this one for dead (a long pause, a partition)
		// and requeued its running jobs; those runs lose their conditional
		// updates, so nothing is stored twice. Come back as alive.
		p.log.Warn("this node was declared dead by another node; registering again", slog.String("node_id", p.node.id))
		if err := p.registerNode(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("register node", slog.Any("error", err))
		}
	}
}

// reapDeadNodes claims nodes without a heartbeat for NodeDeadAfter and puts
// their running jobs back in the queue.
func (p *Pipeline) reapDeadNodes(ctx context.Context) error {
	dead, err := p.db.ClaimDeadNodes(ctx, p.node.id, p.d.Now().Add(-p.cfg.NodeDeadAfter))
	if err != nil {
		return err
	}
	for _, n := range dead {
		jobs, images, err := p.recoverNode(ctx, n.ID)
		if err != nil {
			return fmt.Errorf("recover node %s: %w", n.ID, err)
		}
		p.log.Warn("a node died; its running jobs were put back in the queue", slog.String("dead_node", n.ID),
			slog.String("hostname", n.Hostname), slog.Time("last_heartbeat", n.HeartbeatAt),
			slog.Int("jobs", jobs), slog.Int("images_interrupted", images))
	}
	if len(dead) > 0 {
		p.afterCrash(ctx, fmt.Sprintf("node %s stopped heartbeating", dead[0].ID))
	}
	return nil
}

// recoverNode marks the dead node's in-flight images interrupted and makes
// its running River jobs available again (PostgreSQL). The rescue uses
// River's own driver operation, the one its stuck-job rescuer runs, so the
// job keeps its attempt count and a job that kills its node every time
// still ends after MaxAttempts.
func (p *Pipeline) recoverNode(ctx context.Context, nodeID string) (int, int, error) {
	jobs, err := p.db.RunningJobsOf(ctx, nodeID)
	if err != nil {
		return 0, 0, err
	}
	if len(jobs) == 0 {
		return 0, 0, nil
	}
	var imageIDs, exhausted []string
	for _, j := range jobs {
		if j.Kind == (GenerateArgs{}).Kind() {
			var a GenerateArgs
			if json.Unmarshal(j.Args, &a) == nil && a.ImageID != "" {
				imageIDs = append(imageIDs, a.ImageID)
				if j.Attempt >= j.MaxAttempts {
					exhausted = append(exhausted, a.ImageID)
				}
			}
		}
	}
	// Images first: if this node dies between the two steps, River's
	// rescuer later runs the jobs and they find their images interrupted.
	n, err := p.db.InterruptImages(ctx, imageIDs)
	if err != nil {
		return 0, n, err
	}
	now := p.d.Now().UTC()
	prm := &riverdriver.JobRescueManyParams{StuckHorizon: now.Add(time.Minute)}
	for _, j := range jobs {
		e, _ := json.Marshal(rivertype.AttemptError{At: now, Attempt: j.Attempt, Error: "node " + nodeID + " died while running the job"})
		state, scheduled, finalized := rivertype.JobStateAvailable, now, (*time.Time)(nil)
		if j.Attempt >= j.MaxAttempts {
			state, scheduled, finalized = rivertype.JobStateDiscarded, j.ScheduledAt, &now
		}
		prm.ID = append(prm.ID, j.ID)
		prm.Error = append(prm.Error, e)
		prm.State = append(prm.State, string(state))
		prm.ScheduledAt = append(prm.ScheduledAt, scheduled)
		prm.FinalizedAt = append(prm.FinalizedAt, finalized)
	}
	if _, err := riverpgxv5.New(p.db.PG).GetExecutor().JobRescueMany(ctx, prm); err != nil {
		return 0, n, fmt.Errorf("rescue jobs: %w", err)
	}
	// A discarded job will not run again: its image fails here, or the
	// batch would wait for it forever.
	for _, id := range exhausted {
		im, err := p.db.ImageByID(ctx, id)
		if err != nil {
			return len(jobs), n, err
		}
		if err := p.finishImage(ctx, im, store.ImageFailed, "interrupted", map[string]any{"attempts": "exhausted"}); err != nil {
			return len(jobs), n, err
		}
	}
	return len(jobs), n, nil
}

// afterCrash pauses image generation when so configured: after a crash an
// operator may want to look (a poison batch, a provider bill) before work
// resumes. POST /api/v1/admin/queue/resume continues.
func (p *Pipeline) afterCrash(ctx context.Context, why string) {
	p.m.crashes.Inc()
	if !p.cfg.PauseAfterCrash {
		return
	}
	if err := p.PauseQueue(ctx); err != nil {
		p.log.Error("pause image generation after a crash", slog.Any("error", err))
		return
	}
	p.log.Warn("image generation paused after an unclean shutdown; an admin resumes it with POST /api/v1/admin/queue/resume",
		slog.String("reason", why))
}
