package pipeline

import (
	"context"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/store"
)

// Errors of the control operations.
var (
	ErrBatchActive    = fault.New(fault.Conflict, "batch_active", "The batch is still running; cancel it first.")
	ErrBatchState     = fault.New(fault.Conflict, "batch_state", "The batch is not in a state that allows this.")
	ErrNothingToRetry = fault.New(fault.Conflict, "batch_nothing_to_retry", "No failed images to retry.")
)

// Cancel stops a batch: queued images are cancelled and their jobs that
// have not started are deleted, running provider calls are cancelled,
// reservations are released.
func (p *Pipeline) Cancel(ctx context.Context, batchID string) error {
	var cancelled []string
	err := p.db.InTx(ctx, func(tx *store.Tx) error {
		b, err := p.db.BatchByIDTx(ctx, tx, batchID)
		if err != nil {
			return err
		}
		ok, err := p.db.SetBatchStatus(ctx, tx, batchID, store.ActiveBatchStates, store.BatchCancelled, "Cancelled by the user.", nil)
		if err != nil {
			return err
		}
		if !ok {
			return ErrBatchState.With("status", b.Status)
		}
		imgs, err := p.db.ImagesOfTx(ctx, tx, batchID)
		if err != nil {
			return err
		}
		reason := "cancelled"
		for _, im := range imgs {
			if store.ImageTerminal(im.Status) {
				continue
			}
			if _, err := p.db.UpdateImage(ctx, tx, im, nil, store.ImageUpdate{Status: store.ImageCancelled, Reason: &reason}); err != nil {
				return err
			}
			cancelled = append(cancelled, im.ID)
		}
		if _, err := p.jobs.deleteWaiting(ctx, tx, batchID); err != nil {
			return err
		}
		// A cancel is the batch's end: finalize settles groups but leaves
		// the state, so batch.done is queued here, with the change.
		if err := p.enqueueBatchDone(ctx, tx, b); err != nil {
			return err
		}
		// Groups with images keep them (used); the others are released.
		return p.jobs.insertTx(ctx, tx, []river.InsertManyParams{{Args: FinalizeArgs{BatchID: batchID}}})
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	for _, id := range cancelled {
		if c, ok := p.running[id]; ok {
			c()
		}
	}
	p.mu.Unlock()
	return nil
}

// Pause stops starting new generations of a batch; running calls finish.
func (p *Pipeline) Pause(ctx context.Context, batchID string) error {
	return p.db.InTx(ctx, func(tx *store.Tx) error {
		ok, err := p.db.SetBatchStatus(ctx, tx, batchID, []string{store.BatchQueued, store.BatchRunning, store.BatchWaitingProvider},
			store.BatchPaused, "Paused by the user.", nil)
		if err != nil {
			return err
		}
		if !ok {
			return ErrBatchState
		}
		return nil
	})
}

// Resume continues a paused batch.
func (p *Pipeline) Resume(ctx context.Context, batchID string) error {
	return p.db.InTx(ctx, func(tx *store.Tx) error {
		ok, err := p.db.SetBatchStatus(ctx, tx, batchID, []string{store.BatchPaused}, store.BatchRunning, "", nil)
		if err != nil {
			return err
		}
		if !ok {
			return ErrBatchState
		}
		return nil
	})
}

// Retry re-queues the failed images of a finished batch (or of one group:
// groupID non-empty). The groups' history is reserved again.
func (p *Pipeline) Retry(ctx context.Context, batchID, groupID string) error {
	// Read outside the transaction (see checkBudget).
	gs, err := p.loadGroupIndex(ctx, batchID)
	if err != nil {
		return err
	}
	return p.db.InTx(ctx, func(tx *store.Tx) error {
		b, err := p.db.BatchByIDTx(ctx, tx, batchID)
		if err != nil {
			return err
		}
		if !store.BatchTerminal(b.Status) {
			return ErrBatchActive.With("status", b.Status)
		}
		imgs, err := p.db.ResetImagesForRetry(ctx, tx, batchID, groupID)
		if err != nil {
			return err
		}
		if len(imgs) == 0 {
			return ErrNothingToRetry
		}
		// Released groups block again: reserve their combinations anew
		// (a conflict means the user generated something too close since).
		pl := b.Plan
		retried := map[string]bool{}
		for _, im := range imgs {
			retried[im.GroupID] = true
		}
		var hist []store.HistoryInsert
		for _, g := range gs {
			if retried[g.ID] && g.Status != store.GroupSucceeded && g.Index < len(pl.Groups) {
				hist = append(hist, store.HistoryInsert{Combination: pl.Groups[g.Index].Combination, PoolVersion: pl.PoolVersion,
					BatchID: batchID, GroupID: g.ID})
			}
		}
		if len(hist) > 0 {
			if _, err := p.db.InsertHistory(ctx, tx, b.UserID, plan.StateReserved, hist); err != nil {
				return err
			}
		}
		if _, err := p.db.SetBatchStatus(ctx, tx, batchID, nil, store.BatchQueued, "", map[string]any{"retry": len(imgs)}); err != nil {
			return err
		}
		round := time.Now().UnixNano()
		var jobs []river.InsertManyParams
		for _, im := range imgs {
			jobs = append(jobs, river.InsertManyParams{Args: GenerateArgs{ImageID: im.ID, Round: round}, InsertOpts: jobOpts(b)})
		}
		return p.jobs.insertTx(ctx, tx, jobs)
	})
}

// Rerun submits a new batch with the same request and a new seed.
func (p *Pipeline) Rerun(ctx context.Context, c Caller, batchID string) (*Submitted, error) {
	b, err := p.db.BatchByID(ctx, batchID)
	if err != nil {
		return nil, err
	}
	pl := b.Plan
	prm := b.Params
	req := SubmitRequest{UploadID: b.UploadID, Mode: b.Mode, Groups: len(pl.Groups), AllowSameProvince: pl.AllowSameProvince,
		Aspect: prm.Aspect, Resolution: prm.Resolution, Enhance: prm.Enhance, Priority: prm.Priority, Budget: prm.Budget}
	if b.Mode == "smart" {
		// A deep copy: the plan is shared by every row of the batch.
		f := plan.Filters{Provinces: slices.Clone(pl.Filters.Provinces), Months: slices.Clone(pl.Filters.Months),
			Roads: slices.Clone(pl.Filters.Roads), ElementCategories: slices.Clone(pl.Filters.ElementCategories)}
		req.Filters = &f
	} else if len(pl.Groups) == 1 {
		cmb := pl.Groups[0].Combination
		req.Manual = &ManualSpec{County: cmb.CountyCode, Month: cmb.Month, Road: cmb.Road, Elements: slices.Clone(cmb.Elements)}
	}
	s, err := p.Submit(ctx, c, req)
	if err != nil {
		if fe := fault.As(err); fe != nil && (fe.Code == plan.ErrRepeatsHistory.Code || fe.Code == plan.ErrNearHistory.Code) {
			return nil, fe.With("hint", "archive_history")
		}
		return nil, err
	}
	return s, nil
}

// Delete removes a finished batch (history rows stay).
func (p *Pipeline) Delete(ctx context.Context, batchID string) error {
	defer p.groups.forget(batchID)
	return p.db.InTx(ctx, func(tx *store.Tx) error {
		b, err := p.db.BatchByIDTx(ctx, tx, batchID)
		if err != nil {
			return err
		}
		if !store.BatchTerminal(b.Status) {
			return ErrBatchActive.With("status", b.Status)
		}
		return p.db.DeleteBatch(ctx, tx, batchID)
	})
}

// InFlight returns generations running and waiting for a slot on this node.
func (p *Pipeline) InFlight() (running, waiting int) { return p.fair.inFlight() }

// Config returns the effective configuration.
func (p *Pipeline) Config() Config { return p.cfg }
