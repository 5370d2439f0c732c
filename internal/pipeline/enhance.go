package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
)

type enhanceWorker struct {
	river.WorkerDefaults[EnhanceArgs]
	p *Pipeline
}

func (w *enhanceWorker) Timeout(*river.Job[EnhanceArgs]) time.Duration { return w.p.cfg.EnhanceTimeout }

func (w *enhanceWorker) Work(ctx context.Context, job *river.Job[EnhanceArgs]) (err error) {
	defer func() { w.p.count("enhance", err) }()
	return w.p.enhance(ctx, job.Args)
}

func (p *Pipeline) enhance(ctx context.Context, a EnhanceArgs) error {
	b, err := p.db.BatchByID(ctx, a.BatchID)
	if errors.Is(err, store.ErrBatchNotFound) {
		return river.JobCancel(err)
	} else if err != nil {
		return err
	}
	if store.BatchTerminal(b.Status) {
		return nil
	}
	prm := b.Params
	all, err := p.db.ImagesOf(ctx, a.BatchID)
	if err != nil {
		return err
	}
	var imgs []*store.Image
	for _, im := range all {
		if im.GroupID == a.GroupID {
			imgs = append(imgs, im)
		}
	}
	pl := b.Plan
	if _, err := p.loadGroupIndex(ctx, b.ID); err != nil {
		return err
	}
	type out struct {
		prompt, source string
		degraded       bool
	}
	results := make([]out, len(imgs))
	var wg sync.WaitGroup
	for i, im := range imgs {
		if im.Prompt != "" {
			results[i] = out{prompt: im.Prompt, source: im.PromptSource}
			continue
		}
		tmpl := p.templatePrompt(pl, im)
		if prm.Enhance == EnhanceOff || tmpl == "" {
			results[i] = out{prompt: tmpl, source: provider.SourceTemplate}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := p.d.Enhancer.Enhance(ctx, provider.EnhanceRequest{Prompt: tmpl, Mode: provider.Mode(prm.Enhance),
				Ref: provider.Ref{UserID: b.UserID, BatchID: b.ID, GroupID: a.GroupID, ImageID: im.ID}})
			if err != nil || e.Source == provider.SourceTemplate {
				results[i] = out{prompt: tmpl, source: provider.SourceTemplate, degraded: err != nil || e.Degraded}
				return
			}
			pr := strings.TrimSpace(e.Prompt)
			if e.Negative != "" {
				pr += "\nAvoid: " + strings.TrimSpace(e.Negative)
			}
			results[i] = out{prompt: pr + "\n" + KeepProductClause, source: e.Source}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.db.InTx(ctx, func(tx *store.Tx) error {
		var jobs []river.InsertManyParams
		for i, im := range imgs {
			if im.Prompt == "" {
				r := results[i]
				src := r.source
				if r.degraded {
					src = "template_fallback"
				}
				if _, err := p.db.UpdateImage(ctx, tx, im, nil, store.ImageUpdate{Prompt: &r.prompt, PromptSource: &src,
					Event: map[string]any{"prompt_source": src}}); err != nil {
					return err
				}
			}
			if im.Status == store.ImageQueued || im.Status == store.ImageInterrupted {
				jobs = append(jobs, river.InsertManyParams{Args: GenerateArgs{ImageID: im.ID}, InsertOpts: jobOpts(b)})
			}
		}
		return p.jobs.insertTx(ctx, tx, jobs)
	})
}

// templatePrompt builds the image's prompt from the plan (or the nudged
// variant's prompt).
func (p *Pipeline) templatePrompt(pl *plan.Plan, im *store.Image) string {
	v := im.Variant
	idx := p.groupIndex(im.GroupID)
	if idx < 0 || idx >= len(pl.Groups) {
		return ""
	}
	for _, pv := range pl.Groups[idx].Variants {
		if pv.ID == v.ID {
			return pv.PromptEN
		}
	}
	return ""
}

// groupIndex finds the group's plan index: images are stored in plan
// order, and the image's group id maps to the plan through the group row;
// the enhance/generate workers load that mapping with loadGroupIndex.
func (p *Pipeline) groupIndex(groupID string) int {
	return p.groups.index(groupID)
}

// loadGroupIndex reads the batch's groups and remembers their plan index
// for groupIndex (group rows never change index).
func (p *Pipeline) loadGroupIndex(ctx context.Context, batchID string) ([]*store.Group, error) {
	gs, err := p.db.GroupsOf(ctx, batchID)
	if err != nil {
		return nil, err
	}
	p.groups.remember(batchID, gs)
	return gs, nil
}
