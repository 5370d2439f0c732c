package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/imaging"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/ludeng/ludeng/internal/store"
)

// qc checks a generated image: decodable, exact size, not blank, and
// distinct from the batch's stored images. It returns a reason or "". An
// error means the check could not be made (the sibling images could not
// be read): the image must not pass unchecked, the job retries.
func (p *Pipeline) qc(ctx context.Context, im *store.Image, res provider.Result, prm params) (string, *store.QCVerdict, error) {
	img, _, err := imaging.DecodeAny(bytes.NewReader(res.Image), 64<<20)
	if err != nil {
		return "undecodable", nil, nil
	}
	w, h, _ := provider.OutputSize(provider.Aspect(prm.Aspect), prm.Resolution)
	if bs := img.Bounds(); bs.Dx() != w || bs.Dy() != h {
		return "wrong_size", nil, nil
	}
	sig := similarity.NewSignature(img)
	if blank, _ := sig.Blank(); blank {
		return "blank", nil, nil
	}
	siblings, err := p.db.ImagesOf(ctx, im.BatchID)
	if err != nil {
		return "", nil, fmt.Errorf("qc: read the batch's images: %w", err)
	}
	for _, o := range siblings {
		if o.ID == im.ID || o.Status != store.ImageSucceeded || o.ResultKey == "" {
			continue
		}
		os := p.signature(ctx, o)
		if os == nil {
			continue
		}
		if r := sig.Compare(os, p.cfg.QC); r.Similar {
			s := r.Scores
			return "similar_" + strings.ReplaceAll(r.Reason, "+", "_"), &store.QCVerdict{Scores: &s, Against: o.ID}, nil
		}
	}
	p.sigs.mu.Lock()
	p.sigs.m[im.ID] = sig
	p.sigs.mu.Unlock()
	return "", nil, nil
}

func (p *Pipeline) signature(ctx context.Context, im *store.Image) *similarity.Signature {
	p.sigs.mu.Lock()
	s, ok := p.sigs.m[im.ID]
	p.sigs.mu.Unlock()
	if ok {
		return s
	}
	rc, _, err := p.d.Blobs.Get(ctx, im.ResultKey)
	if err != nil {
		return nil
	}
	defer rc.Close()
	img, _, err := imaging.DecodeAny(rc, 64<<20)
	if err != nil {
		return nil
	}
	s = similarity.NewSignature(img)
	p.sigs.mu.Lock()
	if len(p.sigs.m) > 4096 {
		clear(p.sigs.m)
	}
	p.sigs.m[im.ID] = s
	p.sigs.mu.Unlock()
	return s
}

// retryNudged re-queues the image with a nudged variant (time of day,
// weather — never the combination), or fails it after MaxQCRetries.
func (p *Pipeline) retryNudged(ctx context.Context, b *store.Batch, im *store.Image, reason string, entry *store.QCVerdict) error {
	v := im.Variant
	if entry == nil {
		entry = &store.QCVerdict{}
	}
	entry.Try, entry.Variant, entry.Reason = im.QCTries, v.ID, reason
	// Clipped: appending must not write into the row's backing array.
	hist := append(slices.Clip(im.QC), *entry)
	tries := im.QCTries + 1
	if tries > p.cfg.MaxQCRetries {
		err := p.db.InTx(ctx, func(tx *store.Tx) error {
			ok, err := p.db.UpdateImage(ctx, tx, im, []string{store.ImageRunning}, store.ImageUpdate{Status: store.ImageFailed,
				Reason: &reason, QC: hist, QCTries: &tries})
			if err != nil || !ok {
				return err
			}
			return p.imageSettled(ctx, tx, im)
		})
		if err == nil {
			p.m.images.WithLabelValues(store.ImageFailed).Inc()
		}
		return err
	}
	pl := b.Plan
	prm := b.Params
	idx := p.groupIndex(im.GroupID)
	snow := idx >= 0 && idx < len(prm.Snow) && prm.Snow[idx]
	nv := plan.Nudge(plan.VariantSpec{ID: v.ID, Time: v.Time, Weather: v.Weather}, tries, snow)
	prompt := im.Prompt
	src := im.PromptSource
	if idx >= 0 && idx < len(pl.Groups) {
		if en, _, err := p.d.Planner.Prompts(p.d.Pool.Current(), pl.Groups[idx].Combination, nv); err == nil {
			prompt, src = en, provider.SourceTemplate
		}
	}
	vj := store.Variant{ID: nv.ID, Time: nv.Time, Weather: nv.Weather, Base: v.Base, Seed: v.Seed}
	err := p.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := p.db.UpdateImage(ctx, tx, im, []string{store.ImageRunning}, store.ImageUpdate{Status: store.ImageQueued,
			Variant: &vj, Prompt: &prompt, PromptSource: &src, QCTries: &tries, QC: hist, Reason: &reason,
			Event: map[string]any{"qc_reject": reason, "nudged_to": nv.ID}})
		return err
	})
	if err != nil {
		return err
	}
	p.log.InfoContext(ctx, "image rejected; retrying with a nudged variant", slog.String("image_id", im.ID),
		slog.String("reason", reason), slog.Int("try", tries), slog.String("variant", nv.ID))
	return river.JobSnooze(0)
}
