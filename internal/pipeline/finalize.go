package pipeline

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/store"
)

type finalizeWorker struct {
	river.WorkerDefaults[FinalizeArgs]
	p *Pipeline
}

func (w *finalizeWorker) Timeout(*river.Job[FinalizeArgs]) time.Duration {
	return w.p.cfg.FinalizeTimeout
}

func (w *finalizeWorker) Work(ctx context.Context, job *river.Job[FinalizeArgs]) (err error) {
	defer func() { w.p.count("finalize", err) }()
	return w.p.finalize(ctx, job.Args.BatchID)
}

// finalize settles groups (history used or released) and the batch state.
func (p *Pipeline) finalize(ctx context.Context, batchID string) error {
	var final *store.Batch
	err := p.db.InTx(ctx, func(tx *store.Tx) error {
		b, err := p.db.BatchByIDTx(ctx, tx, batchID)
		if err != nil {
			return err
		}
		if b.Status == store.BatchSucceeded || b.Status == store.BatchPartiallyFailed || b.Status == store.BatchFailed {
			return nil
		}
		imgs, err := p.db.ImagesOfTx(ctx, tx, batchID)
		if err != nil {
			return err
		}
		ok := map[string]int{}
		groups := map[string]bool{}
		var order []string
		counts := map[string]int{}
		reasons := map[string]int{}
		for _, im := range imgs {
			if !store.ImageTerminal(im.Status) {
				return nil // not done (a retry is running)
			}
			if !groups[im.GroupID] {
				groups[im.GroupID] = true
				order = append(order, im.GroupID)
			}
			counts[im.Status]++
			if im.Status == store.ImageSucceeded {
				ok[im.GroupID]++
			} else if im.Reason != "" {
				reasons[im.Reason]++
			}
		}
		var used, released []string
		for _, g := range order {
			status := store.GroupSucceeded
			if ok[g] == 0 {
				status = store.GroupFailed
				if b.Status == store.BatchCancelled {
					status = store.GroupCancelled
				}
				released = append(released, g)
			} else {
				used = append(used, g)
			}
			if err := p.db.SetGroupStatus(ctx, tx, batchID, g, status); err != nil {
				return err
			}
		}
		if len(used) > 0 {
			if _, err := p.db.MarkHistoryUsed(ctx, tx, b.UserID, batchID, used...); err != nil {
				return err
			}
		}
		if len(released) > 0 {
			if _, err := p.db.ReleaseHistory(ctx, tx, b.UserID, batchID, released...); err != nil {
				return err
			}
		}
		if b.Status == store.BatchCancelled {
			return nil
		}
		status := store.BatchPartiallyFailed
		switch counts[store.ImageSucceeded] {
		case len(imgs):
			status = store.BatchSucceeded
		case 0:
			status = store.BatchFailed
		}
		msg := ""
		if reasons["budget_cap"] > 0 {
			msg = "The batch reached its budget cap; paid calls stopped."
		}
		changed, err := p.db.SetBatchStatus(ctx, tx, batchID, nil, status, msg, map[string]any{"counts": counts, "reasons": reasons})
		if err != nil {
			return err
		}
		if changed {
			b.Status = status
			final = b
			// Same transaction: the delivery exists if and only if the
			// batch's end is committed.
			if err := p.enqueueBatchDone(ctx, tx, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && final != nil {
		p.groups.forget(batchID)
		p.m.batches.WithLabelValues(final.Status).Inc()
		p.m.batchDuration.WithLabelValues(final.Status).Observe(p.d.Now().Sub(final.CreatedAt).Seconds())
	}
	return err
}
