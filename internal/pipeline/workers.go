package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/imaging"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/similarity"
	"github.com/ludeng/ludeng/internal/store"
)

// KeepProductClause is appended to every enhanced prompt: an enhancer may
// rephrase the template, but the product must stay exactly as photographed.
const KeepProductClause = "Keep the solar street light from the reference photo exactly unchanged: same shape, proportions, colours, materials, solar panel, lamp head and logo; do not redesign it or add text."

// EnhanceArgs: enhance the prompts of one group, then queue its images.
type EnhanceArgs struct {
	BatchID string `json:"batch_id"`
	GroupID string `json:"group_id"`
}

// Kind implements river.JobArgs.
func (EnhanceArgs) Kind() string { return "ludeng_enhance" }

// GenerateArgs: generate (and QC) one image. Round distinguishes retries
// requested by users; River refuses a second job with the same args while
// one exists, so an image never has two jobs of one round.
type GenerateArgs struct {
	ImageID string `json:"image_id"`
	Round   int64  `json:"round"`
}

// Kind implements river.JobArgs.
func (GenerateArgs) Kind() string { return "ludeng_generate" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (GenerateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGenerate, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// FinalizeArgs: settle a batch whose images are all terminal.
type FinalizeArgs struct {
	BatchID string `json:"batch_id"`
}

// Kind implements river.JobArgs.
func (FinalizeArgs) Kind() string { return "ludeng_finalize" }

func (p *Pipeline) count(kind string, err error) {
	outcome := "ok"
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	switch {
	case err == nil:
	case errors.As(err, &snooze):
		outcome = "snoozed"
	case errors.As(err, &cancel):
		outcome = "cancelled"
	default:
		outcome = "error"
	}
	p.m.jobs.WithLabelValues(kind, outcome).Inc()
}

// ---- enhance ----

type enhanceWorker struct {
	river.WorkerDefaults[EnhanceArgs]
	p *Pipeline
}

func (w *enhanceWorker) Timeout(*river.Job[EnhanceArgs]) time.Duration { return w.p.cfg.EnhanceTimeout }

func (w *enhanceWorker) Work(ctx context.Context, job *river.Job[EnhanceArgs]) (err error) {
	defer func() { w.p.count("enhance", err) }()
	return w.p.enhance(ctx, job.Args)
}

func (p *Pipeline) batchParams(b *store.Batch) params {
	var prm params
	_ = json.Unmarshal(b.Params, &prm)
	return prm
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
	prm := p.batchParams(b)
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
	var pl plan.Plan
	if err := json.Unmarshal(b.Plan, &pl); err != nil {
		return river.JobCancel(fmt.Errorf("batch plan: %w", err))
	}
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
		tmpl := templatePrompt(&pl, im)
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
func templatePrompt(pl *plan.Plan, im *store.Image) string {
	var v variantJSON
	_ = json.Unmarshal(im.Variant, &v)
	idx := groupIndex(pl, im.GroupID, im)
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
// the enhance/generate workers load that mapping via groupIdx.
func groupIndex(pl *plan.Plan, groupID string, im *store.Image) int {
	if idx, ok := groupIdxOf.Load(groupID); ok {
		return idx.(int)
	}
	return -1
}

// groupIdxOf caches group id → plan index (group rows never change index).
var groupIdxOf sync.Map

func (p *Pipeline) loadGroupIndex(ctx context.Context, batchID string) ([]*store.Group, error) {
	gs, err := p.db.GroupsOf(ctx, batchID)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		groupIdxOf.Store(g.ID, g.Index)
	}
	return gs, nil
}

// ---- generate ----

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
	prm := p.batchParams(b)
	if _, err := p.loadGroupIndex(ctx, b.ID); err != nil {
		return err
	}

	wctx, cancelWait := context.WithTimeout(ctx, p.cfg.SlotWait)
	release, err := p.fair.acquire(wctx, b.UserID, b.Priority)
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
	reason, scores := p.qc(ctx, im, res, prm)
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
	var pl plan.Plan
	if json.Unmarshal(b.Plan, &pl) != nil {
		return nil
	}
	idx := groupIndex(&pl, im.GroupID, im)
	if idx < 0 || idx >= len(pl.Groups) {
		return nil
	}
	g := pl.Groups[idx]
	var v variantJSON
	_ = json.Unmarshal(im.Variant, &v)
	weather := map[string]string{plan.WeatherLightRain: "rain", plan.WeatherLightSnow: "snow"}[v.Weather]
	if weather == "" {
		weather = v.Weather
	}
	s := &provider.Scene{TimeOfDay: v.Time, Weather: weather, Season: g.Scene.Season, Month: g.Combination.Month,
		Road: g.Combination.Road, Key: g.Key,
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

// qcEntry is one QC verdict kept on the image.
type qcEntry struct {
	Try     int                `json:"try"`
	Variant string             `json:"variant"`
	Reason  string             `json:"reason"`
	Scores  *similarity.Scores `json:"scores,omitempty"`
	Against string             `json:"against,omitempty"`
}

// qc checks a generated image: decodable, exact size, not blank, and
// distinct from the batch's stored images. It returns a reason or "".
func (p *Pipeline) qc(ctx context.Context, im *store.Image, res provider.Result, prm params) (string, *qcEntry) {
	img, _, err := imaging.DecodeAny(bytes.NewReader(res.Image), 64<<20)
	if err != nil {
		return "undecodable", nil
	}
	w, h, _ := provider.OutputSize(provider.Aspect(prm.Aspect), prm.Resolution)
	if bs := img.Bounds(); bs.Dx() != w || bs.Dy() != h {
		return "wrong_size", nil
	}
	sig := similarity.NewSignature(img)
	if blank, _ := sig.Blank(); blank {
		return "blank", nil
	}
	siblings, err := p.db.ImagesOf(ctx, im.BatchID)
	if err != nil {
		return "", nil
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
			return "similar_" + strings.ReplaceAll(r.Reason, "+", "_"), &qcEntry{Scores: &s, Against: o.ID}
		}
	}
	p.sigs.mu.Lock()
	p.sigs.m[im.ID] = sig
	p.sigs.mu.Unlock()
	return "", nil
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
func (p *Pipeline) retryNudged(ctx context.Context, b *store.Batch, im *store.Image, reason string, entry *qcEntry) error {
	var v variantJSON
	_ = json.Unmarshal(im.Variant, &v)
	var hist []qcEntry
	_ = json.Unmarshal(im.QC, &hist)
	if entry == nil {
		entry = &qcEntry{}
	}
	entry.Try, entry.Variant, entry.Reason = im.QCTries, v.ID, reason
	hist = append(hist, *entry)
	qcJSON, _ := json.Marshal(hist)
	tries := im.QCTries + 1
	if tries > p.cfg.MaxQCRetries {
		err := p.db.InTx(ctx, func(tx *store.Tx) error {
			ok, err := p.db.UpdateImage(ctx, tx, im, []string{store.ImageRunning}, store.ImageUpdate{Status: store.ImageFailed,
				Reason: &reason, QC: qcJSON, QCTries: &tries})
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
	var pl plan.Plan
	if err := json.Unmarshal(b.Plan, &pl); err != nil {
		return river.JobCancel(err)
	}
	prm := p.batchParams(b)
	idx := groupIndex(&pl, im.GroupID, im)
	snow := idx >= 0 && idx < len(prm.Snow) && prm.Snow[idx]
	nv := plan.Nudge(plan.VariantSpec{ID: v.ID, Time: v.Time, Weather: v.Weather}, tries, snow)
	prompt := im.Prompt
	src := im.PromptSource
	if idx >= 0 && idx < len(pl.Groups) {
		if en, _, err := p.d.Planner.Prompts(p.d.Pool.Current(), pl.Groups[idx].Combination, nv); err == nil {
			prompt, src = en, provider.SourceTemplate
		}
	}
	vj, _ := json.Marshal(variantJSON{ID: nv.ID, Time: nv.Time, Weather: nv.Weather, Base: v.Base})
	err := p.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := p.db.UpdateImage(ctx, tx, im, []string{store.ImageRunning}, store.ImageUpdate{Status: store.ImageQueued,
			Variant: vj, Prompt: &prompt, PromptSource: &src, QCTries: &tries, QC: qcJSON, Reason: &reason,
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

// ---- finalize ----

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
		p.m.batches.WithLabelValues(final.Status).Inc()
		p.m.batchDuration.WithLabelValues(final.Status).Observe(p.d.Now().Sub(final.CreatedAt).Seconds())
	}
	return err
}
