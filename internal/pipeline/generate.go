package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
)

type generateWorker struct {
	river.WorkerDefaults[GenerateArgs]
	p *Pipeline
}

// Timeout covers the whole run (slot wait + call + QC). It must be finite:
// River's rescuer never rescues a running job whose worker has no timeout.
func (w *generateWorker) Timeout(*river.Job[GenerateArgs]) time.Duration {
	return w.p.cfg.generateJobTimeout()
}

func (w *generateWorker) Work(ctx context.Context, job *river.Job[GenerateArgs]) (err error) {
	defer func() { w.p.count("generate", err) }()
	return w.p.generate(ctx, job)
}

func (p *Pipeline) generate(ctx context.Context, job *river.Job[GenerateArgs]) error {
	im, err := p.db.ImageByID(ctx, job.Args.ImageID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	} else if err != nil {
		return err
	}
	if store.ImageTerminal(im.Status) {
		return nil // done before (a job that runs twice stores nothing twice)
	}
	b, err := p.db.BatchByID(ctx, im.BatchID)
	if err != nil {
		return err
	}
	switch {
	case store.BatchTerminal(b.Status):
		return nil
	case b.Status == store.BatchPaused:
		return river.JobSnooze(p.cfg.PausedPoll)
	}
	prm := b.Params
	if _, err := p.loadGroupIndex(ctx, b.ID); err != nil {
		return err
	}

	// River fetches jobs oldest first into 200 workers: if one user's backlog
	// filled them all, the fair slots would never see another user's job.
	// Past MaxWaitingPerUser waiters the job goes back to the queue (behind
	// the jobs queued meanwhile) and frees its worker.
	if p.fair.waitingOf(b.UserID) >= p.cfg.MaxWaitingPerUser {
		return river.JobSnooze(time.Second + rand.N(2*time.Second))
	}
	wctx, cancelWait := context.WithTimeout(ctx, p.cfg.SlotWait)
	release, err := p.acquireSlot(wctx, b.UserID, b.Priority)
	cancelWait()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return river.JobSnooze(0)
	}
	defer release()

	// The cap is checked with the slot held, so calls of the batch in
	// flight are already counted (pending rows at their estimate).
	if b.CapMicros != nil {
		price := p.pricePer(prm.Resolution)
		spent, err := p.db.BatchSpent(ctx, b.ID)
		if err != nil {
			return err
		}
		if spent+price > *b.CapMicros {
			return p.finishImage(ctx, im, store.ImageFailed, "budget_cap", map[string]any{"spent": FormatMoney(spent), "cap": FormatMoney(*b.CapMicros)})
		}
	}

	// Running: the image (and a queued batch) change state with events.
	// On SQLite a running image belongs to another job of this process (or
	// was marked interrupted at start); on PostgreSQL a job rescued from a
	// dead node takes its running image over.
	from := []string{store.ImageQueued, store.ImageInterrupted}
	if p.db.Engine == store.Postgres {
		from = append(from, store.ImageRunning)
	}
	var moved bool
	err = p.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		moved, err = p.db.UpdateImage(ctx, tx, im, from, store.ImageUpdate{Status: store.ImageRunning,
			Event: map[string]any{"attempt": job.Attempt, "qc_try": im.QCTries}})
		if err != nil || !moved {
			return err
		}
		_, err = p.db.SetBatchStatus(ctx, tx, b.ID, []string{store.BatchQueued, store.BatchWaitingProvider}, store.BatchRunning, "", nil)
		return err
	})
	if err != nil {
		return err
	}
	if !moved {
		return nil
	}

	cctx, cancel := context.WithTimeout(ctx, p.cfg.GenerateTimeout)
	defer cancel()
	p.mu.Lock()
	p.running[im.ID] = cancel
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.running, im.ID)
		p.mu.Unlock()
	}()

	res, err := p.call(cctx, b, im, prm)
	// The slot bounds provider calls; QC and storing need none.
	release()
	if err != nil {
		return p.callFailed(ctx, cctx, job, b, im, err)
	}
	reason, scores, err := p.qc(ctx, im, res, prm)
	if err != nil {
		return err
	}
	if reason != "" {
		p.m.qcRejects.WithLabelValues(reason).Inc()
		return p.retryNudged(ctx, b, im, reason, scores)
	}
	return p.storeResult(ctx, job, b, im, res)
}

func (p *Pipeline) photo(ctx context.Context, b *store.Batch) ([]byte, string, error) {
	up, err := p.db.UploadByID(ctx, b.UploadID)
	if err != nil {
		return nil, "", fmt.Errorf("product photo: %w", err)
	}
	key := blob.ContentKey(up.SHA256)
	p.photos.mu.Lock()
	data, ok := p.photos.m[key]
	p.photos.mu.Unlock()
	if ok {
		return data, up.MIME, nil
	}
	rc, _, err := p.d.Blobs.Get(ctx, key)
	if err != nil {
		return nil, "", fmt.Errorf("product photo: %w", err)
	}
	defer rc.Close()
	data, err = io.ReadAll(rc)
	if err != nil {
		return nil, "", err
	}
	p.photos.mu.Lock()
	if len(p.photos.m) > 32 {
		clear(p.photos.m)
	}
	p.photos.m[key] = data
	p.photos.mu.Unlock()
	return data, up.MIME, nil
}

func (p *Pipeline) call(ctx context.Context, b *store.Batch, im *store.Image, prm params) (provider.Result, error) {
	data, mime, err := p.photo(ctx, b)
	if err != nil {
		return provider.Result{}, err
	}
	return p.d.Images.Generate(ctx, provider.Request{Photo: data, PhotoMIME: mime, Prompt: im.Prompt,
		Aspect: provider.Aspect(prm.Aspect), Resolution: prm.Resolution, Scene: p.scene(b, im),
		Ref: provider.Ref{UserID: b.UserID, BatchID: b.ID, GroupID: im.GroupID, ImageID: im.ID}})
}

// scene gives the simulator the structured scene (real providers never see it).
func (p *Pipeline) scene(b *store.Batch, im *store.Image) *provider.Scene {
	pl := b.Plan
	idx := p.groupIndex(im.GroupID)
	if idx < 0 || idx >= len(pl.Groups) {
		return nil
	}
	g := pl.Groups[idx]
	v := im.Variant
	weather := map[string]string{plan.WeatherLightRain: "rain", plan.WeatherLightSnow: "snow"}[v.Weather]
	if weather == "" {
		weather = v.Weather
	}
	s := &provider.Scene{TimeOfDay: v.Time, Weather: weather, Season: g.Scene.Season, Month: g.Combination.Month,
		Road: g.Combination.Road, Key: g.Key, Seed: v.Seed,
		Caption: strings.TrimSpace(g.Scene.CountyPinyin + " " + strconv.Itoa(g.Combination.Month) + " " + g.Combination.Road + " " + v.ID)}
	for _, e := range g.Scene.Elements {
		s.Elements = append(s.Elements, e.ID)
	}
	return s
}

// callFailed turns a provider failure into the job's outcome.
func (p *Pipeline) callFailed(ctx, cctx context.Context, job *river.Job[GenerateArgs], b *store.Batch, im *store.Image, err error) error {
	bg := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		// Shutdown or job cancellation: the image is interrupted and retried.
		_ = p.setImage(bg, im, []string{store.ImageRunning}, store.ImageInterrupted, "interrupted", nil)
		return ctx.Err()
	}
	if cctx.Err() == context.Canceled {
		// Cancelled by the user (Cancel already marked the image).
		return nil
	}
	var pe *provider.Error
	if !errors.As(err, &pe) {
		if cctx.Err() == context.DeadlineExceeded {
			pe = &provider.Error{Class: provider.ClassUnavailable, Code: "timeout"}
		} else {
			return p.unavailable(bg, job, im, err)
		}
	}
	switch pe.Class {
	case provider.ClassRateLimited:
		_ = p.setImage(bg, im, []string{store.ImageRunning}, store.ImageQueued, "", map[string]any{"waiting": "rate_limited"})
		return river.JobSnooze(max(pe.RetryAfter, time.Second))
	case provider.ClassQuotaExhausted, provider.ClassAuth, provider.ClassModelGone:
		// Every provider is out: wait (batch waiting_provider) up to MaxProviderWait.
		if p.d.Now().Sub(im.CreatedAt) > p.cfg.MaxProviderWait {
			return p.finishImage(bg, im, store.ImageFailed, "provider_unavailable", map[string]any{"class": pe.Class.String()})
		}
		wait := time.Minute
		if !pe.Until.IsZero() {
			wait = min(max(pe.Until.Sub(p.d.Now()), time.Second), time.Minute)
		}
		err := p.db.InTx(bg, func(tx *store.Tx) error {
			if _, err := p.db.UpdateImage(bg, tx, im, []string{store.ImageRunning}, store.ImageUpdate{Status: store.ImageQueued,
				Event: map[string]any{"waiting": pe.Class.String()}}); err != nil {
				return err
			}
			_, err := p.db.SetBatchStatus(bg, tx, b.ID, []string{store.BatchRunning, store.BatchQueued}, store.BatchWaitingProvider,
				"Every image provider is unavailable ("+pe.Class.String()+"); waiting.", nil)
			return err
		})
		if err != nil {
			return err
		}
		return river.JobSnooze(wait)
	case provider.ClassBlocked, provider.ClassNoImage:
		p.m.qcRejects.WithLabelValues(pe.Class.String()).Inc()
		return p.retryNudged(bg, b, im, pe.Class.String(), nil)
	case provider.ClassBadRequest:
		if err := p.finishImage(bg, im, store.ImageFailed, "provider_bad_request", nil); err != nil {
			return err
		}
		return river.JobCancel(pe)
	}
	return p.unavailable(bg, job, im, pe)
}

// unavailable retries with River's backoff until the last attempt, which
// fails the image.
func (p *Pipeline) unavailable(ctx context.Context, job *river.Job[GenerateArgs], im *store.Image, err error) error {
	if job.Attempt >= job.MaxAttempts {
		if ferr := p.finishImage(ctx, im, store.ImageFailed, "provider_unavailable", nil); ferr != nil {
			return ferr
		}
		return river.JobCancel(err)
	}
	if serr := p.setImage(ctx, im, []string{store.ImageRunning}, store.ImageQueued, "", map[string]any{"retry": "provider_unavailable"}); serr != nil {
		return serr
	}
	return err
}

func (p *Pipeline) setImage(ctx context.Context, im *store.Image, from []string, status, reason string, ev map[string]any) error {
	return p.db.InTx(ctx, func(tx *store.Tx) error {
		u := store.ImageUpdate{Status: status, Event: ev}
		if reason != "" {
			u.Reason = &reason
		}
		_, err := p.db.UpdateImage(ctx, tx, im, from, u)
		return err
	})
}

// finishImage makes an image terminal (failed/cancelled) and finalizes the
// batch when it was the last one.
func (p *Pipeline) finishImage(ctx context.Context, im *store.Image, status, reason string, ev map[string]any) error {
	err := p.db.InTx(ctx, func(tx *store.Tx) error {
		ok, err := p.db.UpdateImage(ctx, tx, im, []string{store.ImageQueued, store.ImageRunning, store.ImageInterrupted},
			store.ImageUpdate{Status: status, Reason: &reason, Event: ev})
		if err != nil || !ok {
			return err
		}
		return p.imageSettled(ctx, tx, im)
	})
	if err == nil {
		p.m.images.WithLabelValues(status).Inc()
	}
	return err
}

// maybeFinalize queues the finalize job when no image of the batch is left
// to do, in the transaction of the last image's change.
func (p *Pipeline) maybeFinalize(ctx context.Context, tx *store.Tx, batchID string) error {
	imgs, err := p.db.ImagesOfTx(ctx, tx, batchID)
	if err != nil {
		return err
	}
	for _, im := range imgs {
		if !store.ImageTerminal(im.Status) {
			return nil
		}
	}
	return p.jobs.insertTx(ctx, tx, []river.InsertManyParams{{Args: FinalizeArgs{BatchID: batchID}}})
}

// storeResult writes the image to the blob store and marks it succeeded —
// unless another run of the job already did (then the copy is deleted).
func (p *Pipeline) storeResult(ctx context.Context, job *river.Job[GenerateArgs], b *store.Batch, im *store.Image, res provider.Result) error {
	ext := "jpg"
	if res.MIME == "image/png" {
		ext = "png"
	}
	seg := im.ID + "-" + strconv.FormatInt(job.ID, 10) + "-" + strconv.Itoa(job.Attempt)
	key := blob.ResultKey(b.ID, im.GroupID, seg, ext)
	info, err := p.d.Blobs.Put(ctx, key, bytes.NewReader(res.Image))
	if err != nil {
		return fmt.Errorf("store result: %w", err)
	}
	// Thumbnail and preview are made on first request (GET
	// /api/v1/images/{id}/content), off the generation path.
	var stored bool
	bg := context.WithoutCancel(ctx)
	err = p.db.InTx(bg, func(tx *store.Tx) error {
		size := info.Size
		var err error
		stored, err = p.db.UpdateImage(bg, tx, im, []string{store.ImageRunning}, store.ImageUpdate{Status: store.ImageSucceeded,
			ResultKey: &key, MIME: &res.MIME, Width: &res.Width, Height: &res.Height, Bytes: &size, Provider: &res.Provider,
			CostMicros: &res.CostMicros, Event: map[string]any{"provider": res.Provider}})
		if err != nil || !stored {
			return err
		}
		return p.imageSettled(bg, tx, im)
	})
	if err != nil || !stored {
		_ = p.d.Blobs.Delete(bg, key)
		return err
	}
	p.m.images.WithLabelValues(store.ImageSucceeded).Inc()
	p.m.spend.WithLabelValues(res.Provider).Add(float64(res.CostMicros))
	return nil
}
