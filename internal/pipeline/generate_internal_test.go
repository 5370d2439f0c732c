package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
)

// Unit tests of the generate job (slot → budget cap → provider → QC →
// result) and of cancel and pause, called directly with a fake of the one
// interface the pipeline consumes (provider.ImageGenerator). River is not
// running: what the job returns (nil, a snooze, a cancel, a plain error
// River retries) is asserted as the job's outcome.

// fakeImages answers Generate with reply(ctx, n) for the n-th call (from 1).
type fakeImages struct {
	mu    sync.Mutex
	calls int
	reply func(ctx context.Context, n int) (provider.Result, error)
}

func (f *fakeImages) Generate(ctx context.Context, _ provider.Request) (provider.Result, error) {
	f.mu.Lock()
	f.calls++
	n, reply := f.calls, f.reply
	f.mu.Unlock()
	return reply(ctx, n)
}

func (f *fakeImages) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// withFakes gives the pipeline the fake provider, a blob store holding the
// product photo, and a clock.
func withFakes(t *testing.T, f *fakeImages, now func() time.Time) func(*Deps) {
	t.Helper()
	blobs, err := blob.NewLocal(t.TempDir())
	require.NoError(t, err)
	_, err = blobs.Put(context.Background(), blob.ContentKey(photoSHA), bytes.NewReader([]byte("photo")))
	require.NoError(t, err)
	return func(d *Deps) {
		d.Images, d.Blobs = f, blobs
		if now != nil {
			d.Now = now
		}
	}
}

func genJob(imageID string, attempt, maxAttempts int) *river.Job[GenerateArgs] {
	return &river.Job[GenerateArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: attempt, MaxAttempts: maxAttempts},
		Args: GenerateArgs{ImageID: imageID}}
}

// outcome names what River does with a job's result.
func outcome(err error) (string, time.Duration) {
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	switch {
	case err == nil:
		return "done", 0
	case errors.As(err, &snooze):
		return "snooze", snooze.Duration
	case errors.As(err, &cancel):
		return "cancel", 0
	}
	return "retry", 0
}

func outputSize(t *testing.T) (int, int) {
	t.Helper()
	w, h, err := provider.OutputSize(provider.Aspect("1:1"), 1024)
	require.NoError(t, err)
	return w, h
}

// goodResult is a distinct, well-formed image for each seed.
func goodResult(t *testing.T, seed int) provider.Result {
	w, h := outputSize(t)
	return provider.Result{Image: noiseJPEGSeeded(t, w, h, uint64(seed)), MIME: "image/jpeg", Width: w, Height: h, Provider: "fake", CostMicros: 10}
}

func blankResult(t *testing.T) provider.Result {
	t.Helper()
	w, h := outputSize(t)
	if b, ok := noiseCache.Load("blank"); ok {
		return provider.Result{Image: b.([]byte), MIME: "image/jpeg", Width: w, Height: h, Provider: "fake"}
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	noiseCache.Store("blank", buf.Bytes())
	return provider.Result{Image: buf.Bytes(), MIME: "image/jpeg", Width: w, Height: h, Provider: "fake"}
}

func (rb *ruleBundle) batch(t *testing.T) *store.Batch {
	t.Helper()
	b, err := rb.db.BatchByID(context.Background(), rb.b.ID)
	require.NoError(t, err)
	return b
}

// TestGenerateErrorClassification: each class of provider failure has one
// outcome — which job result (River retry, snooze without burning an
// attempt, cancel), which image state and reason, and whether the batch
// waits for a provider.
func TestGenerateErrorClassification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		untilIn  time.Duration // the quota resets this long after now
		attempt  int
		late     bool // the image has waited longer than MaxProviderWait
		want     string
		snooze   time.Duration
		image    string
		reason   string
		batch    string
		qcTries  int
		variants bool // the image was re-queued with a nudged variant
	}{
		{name: "rate limited: back to the queue after Retry-After", err: &provider.Error{Class: provider.ClassRateLimited, RetryAfter: 7 * time.Second},
			want: "snooze", snooze: 7 * time.Second, image: store.ImageQueued, batch: store.BatchRunning},
		{name: "rate limited without Retry-After: at least a second", err: &provider.Error{Class: provider.ClassRateLimited},
			want: "snooze", snooze: time.Second, image: store.ImageQueued, batch: store.BatchRunning},
		{name: "quota exhausted: the batch waits until the reset", err: &provider.Error{Class: provider.ClassQuotaExhausted}, untilIn: 20 * time.Second,
			want: "snooze", snooze: 20 * time.Second, image: store.ImageQueued, batch: store.BatchWaitingProvider},
		{name: "quota exhausted for hours: looks again within a minute", err: &provider.Error{Class: provider.ClassQuotaExhausted}, untilIn: 2 * time.Hour,
			want: "snooze", snooze: time.Minute, image: store.ImageQueued, batch: store.BatchWaitingProvider},
		{name: "auth failure: waits like an exhausted quota", err: &provider.Error{Class: provider.ClassAuth},
			want: "snooze", snooze: time.Minute, image: store.ImageQueued, batch: store.BatchWaitingProvider},
		{name: "model gone past the provider wait: the image fails", err: &provider.Error{Class: provider.ClassModelGone}, late: true,
			want: "done", image: store.ImageFailed, reason: "provider_unavailable", batch: store.BatchRunning},
		{name: "blocked by safety: nudged retry", err: &provider.Error{Class: provider.ClassBlocked},
			want: "snooze", image: store.ImageQueued, reason: "blocked", batch: store.BatchRunning, qcTries: 1, variants: true},
		{name: "no image in the answer: nudged retry", err: &provider.Error{Class: provider.ClassNoImage},
			want: "snooze", image: store.ImageQueued, reason: "no_image", batch: store.BatchRunning, qcTries: 1, variants: true},
		{name: "bad request: permanent, the job is cancelled", err: &provider.Error{Class: provider.ClassBadRequest},
			want: "cancel", image: store.ImageFailed, reason: "provider_bad_request", batch: store.BatchRunning},
		{name: "unavailable: River retries with backoff", err: &provider.Error{Class: provider.ClassUnavailable}, attempt: 2,
			want: "retry", image: store.ImageQueued, batch: store.BatchRunning},
		{name: "unavailable at the last attempt: the image fails", err: &provider.Error{Class: provider.ClassUnavailable}, attempt: 5,
			want: "cancel", image: store.ImageFailed, reason: "provider_unavailable", batch: store.BatchRunning},
		{name: "an error of no class is transient", err: errors.New("connection reset"), attempt: 1,
			want: "retry", image: store.ImageQueued, batch: store.BatchRunning},
		{name: "a deadline error from the client is transient", err: context.DeadlineExceeded, attempt: 1,
			want: "retry", image: store.ImageQueued, batch: store.BatchRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Now()
			now := func() time.Time { return t0 }
			if tc.late {
				now = func() time.Time { return time.Now().Add(31 * time.Minute) }
			}
			callErr := tc.err
			if tc.untilIn != 0 {
				pe := *tc.err.(*provider.Error)
				pe.Until = t0.Add(tc.untilIn)
				callErr = &pe
			}
			f := &fakeImages{reply: func(context.Context, int) (provider.Result, error) { return provider.Result{}, callErr }}
			rb := newRuleBundle(t, Config{MaxProviderWait: 30 * time.Minute}, 1, store.ImageQueued, withFakes(t, f, now))
			im := rb.ims[0]
			err := rb.p.generate(context.Background(), genJob(im.ID, max(tc.attempt, 1), 5))
			got, d := outcome(err)
			require.Equal(t, tc.want, got, "job result %v", err)
			if got == "snooze" {
				require.Equal(t, tc.snooze, d)
			}
			require.Equal(t, 1, f.count(), "one provider call")
			after := rb.image(t, im.ID)
			require.Equal(t, tc.image, after.Status)
			require.Equal(t, tc.reason, after.Reason)
			require.Equal(t, tc.qcTries, after.QCTries)
			if tc.variants {
				require.NotEqual(t, im.Variant.ID, after.Variant.ID)
				require.Equal(t, tc.reason, after.QC[0].Reason)
			} else {
				require.Equal(t, im.Variant, after.Variant)
			}
			require.Equal(t, tc.batch, rb.batch(t).Status)
			used, waiting := rb.p.fair.inFlight()
			require.Zero(t, used, "the slot is released")
			require.Zero(t, waiting)
		})
	}
}

// TestGenerateInterruptedByShutdown: a stop while the call runs marks the
// image interrupted (retried after the restart), not failed.
func TestGenerateInterruptedByShutdown(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(context.Background())
	f := &fakeImages{reply: func(context.Context, int) (provider.Result, error) {
		stop()
		return provider.Result{}, context.Canceled
	}}
	rb := newRuleBundle(t, Config{}, 1, store.ImageQueued, withFakes(t, f, nil))
	err := rb.p.generate(ctx, genJob(rb.ims[0].ID, 1, 5))
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, store.ImageInterrupted, rb.image(t, rb.ims[0].ID).Status)
}

// TestGenerateQCRetriesNudge: an image QC rejects is generated again with
// a nudged variant up to MaxQCRetries times — each try a different variant
// of the same planned one, each verdict kept — then fails with the last
// reason. NoQCRetries (LUDENG_PIPELINE_QC_RETRIES=0) fails it at once.
func TestGenerateQCRetriesNudge(t *testing.T) {
	t.Parallel()
	for _, retries := range []int{NoQCRetries, 1, 3} {
		t.Run("retries="+map[int]string{NoQCRetries: "0", 1: "1", 3: "3"}[retries], func(t *testing.T) {
			t.Parallel()
			f := &fakeImages{}
			f.reply = func(context.Context, int) (provider.Result, error) { return blankResult(t), nil }
			rb := newRuleBundle(t, Config{MaxQCRetries: retries}, 1, store.ImageQueued, withFakes(t, f, nil))
			id := rb.ims[0].ID
			seen := []string{rb.ims[0].Variant.ID}
			for {
				err := rb.p.generate(context.Background(), genJob(id, 1, 5))
				got, d := outcome(err)
				if got == "done" {
					break
				}
				require.Equal(t, "snooze", got, "a nudged retry snoozes: %v", err)
				require.Zero(t, d, "and does not wait")
				im := rb.image(t, id)
				require.Equal(t, store.ImageQueued, im.Status)
				require.NotContains(t, seen, im.Variant.ID, "every retry renders another variant")
				require.Equal(t, rb.ims[0].Variant.ID, im.Variant.Base, "nudges keep the planned variant as base")
				seen = append(seen, im.Variant.ID)
				require.LessOrEqual(t, f.count(), 10, "retries must end")
			}
			want := max(retries, 0)
			require.Equal(t, want+1, f.count(), "one call plus one per retry")
			im := rb.image(t, id)
			require.Equal(t, store.ImageFailed, im.Status)
			require.Equal(t, "blank", im.Reason)
			require.Equal(t, want+1, im.QCTries)
			require.Len(t, im.QC, want+1)
			for i, q := range im.QC {
				require.Equal(t, i, q.Try)
				require.Equal(t, seen[i], q.Variant, "verdict %d names the variant it rejected", i)
				require.Equal(t, "blank", q.Reason)
			}
		})
	}
}

// TestGenerateQCRejectsNearDuplicate: the second image of a batch that
// comes back identical to a stored one is rejected as similar and retried
// with a nudge; a distinct image is stored.
func TestGenerateQCRejectsNearDuplicate(t *testing.T) {
	t.Parallel()
	same := &fakeImages{}
	rb := newRuleBundle(t, Config{}, 1, store.ImageQueued, withFakes(t, same, nil))
	res := goodResult(t, 1)
	same.reply = func(context.Context, int) (provider.Result, error) { return res, nil }
	ctx := context.Background()
	require.NoError(t, rb.p.generate(ctx, genJob(rb.ims[0].ID, 1, 5)))
	first := rb.image(t, rb.ims[0].ID)
	require.Equal(t, store.ImageSucceeded, first.Status)
	require.NotEmpty(t, first.ResultKey)
	require.Equal(t, int64(len(res.Image)), first.Bytes)

	got, _ := outcome(rb.p.generate(ctx, genJob(rb.ims[1].ID, 1, 5)))
	require.Equal(t, "snooze", got)
	second := rb.image(t, rb.ims[1].ID)
	require.Equal(t, store.ImageQueued, second.Status)
	require.Contains(t, second.Reason, "similar_")
	require.Equal(t, first.ID, second.QC[0].Against)
	require.NotNil(t, second.QC[0].Scores)
}

// TestGenerateBudgetCap: with the batch's ledger spend (pending calls at
// their estimate) plus one image over its cap, the image fails with
// budget_cap and no provider call is made; the batch ends with the cap
// message. Under the cap the call is made.
func TestGenerateBudgetCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cap     int64
		pending int64 // one pending ledger row at this estimate
		settled int64 // one settled ledger row at this cost
		call    bool
	}{
		{name: "nothing spent, room for one", cap: 100, call: true},
		{name: "settled spend leaves room", cap: 100, settled: 40, call: true},
		{name: "exactly at the cap after this image", cap: 100, settled: 50, call: true},
		{name: "pending call counted at its estimate", cap: 100, pending: 60},
		{name: "settled spend over", cap: 100, settled: 51},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeImages{}
			f.reply = func(context.Context, int) (provider.Result, error) { return goodResult(t, 1), nil }
			rb := newRuleBundle(t, Config{PricePerImage: 50}, 1, store.ImageQueued, withFakes(t, f, nil))
			ctx := context.Background()
			setCap(t, rb, tc.cap)
			for _, row := range []struct {
				est, cost int64
				settle    bool
			}{{tc.pending, 0, false}, {tc.settled, tc.settled, true}} {
				if row.est == 0 {
					continue
				}
				id, err := rb.db.BeginUsage(ctx, store.UsageBegin{RequestID: "r", UserID: rb.b.UserID, BatchID: rb.b.ID, Provider: "fake",
					Operation: provider.OpGenerate, EstimatedCostMicros: row.est})
				require.NoError(t, err)
				if row.settle {
					require.NoError(t, rb.db.SettleUsage(ctx, id, store.UsageSettle{Outcome: "ok", CostMicros: row.cost, Images: 1}))
				}
			}
			// Every other image is done, so the capped one ends the batch.
			for _, im := range rb.ims[1:] {
				rb.setImage(t, im, store.ImageSucceeded)
			}
			err := rb.p.generate(ctx, genJob(rb.ims[0].ID, 1, 5))
			require.NoError(t, err)
			im := rb.image(t, rb.ims[0].ID)
			if tc.call {
				require.Equal(t, 1, f.count())
				require.Equal(t, store.ImageSucceeded, im.Status)
				return
			}
			require.Zero(t, f.count(), "no paid call past the cap")
			require.Equal(t, store.ImageFailed, im.Status)
			require.Equal(t, "budget_cap", im.Reason)
			require.NoError(t, rb.p.finalize(ctx, rb.b.ID))
			b := rb.batch(t)
			require.Equal(t, store.BatchPartiallyFailed, b.Status)
			require.Equal(t, "The batch reached its budget cap; paid calls stopped.", b.Message)
		})
	}
}

// setCap gives the bundle's batch a budget cap (batches are created
// without one).
func setCap(t *testing.T, rb *ruleBundle, micros int64) {
	t.Helper()
	_, err := rb.db.W.ExecContext(context.Background(), "UPDATE batches SET cap_micros = ?1 WHERE id = ?2", micros, rb.b.ID)
	require.NoError(t, err)
}

// TestCancelStopsWork: cancelling a batch cancels its unfinished images,
// deletes its jobs that have not started, cancels the provider call in
// flight (its job ends without storing anything), and later jobs of the
// batch make no call.
func TestCancelStopsWork(t *testing.T) {
	t.Parallel()
	called := make(chan struct{})
	f := &fakeImages{reply: func(ctx context.Context, n int) (provider.Result, error) {
		close(called)
		<-ctx.Done()
		return provider.Result{}, ctx.Err()
	}}
	rb := newRuleBundle(t, Config{}, 2, store.ImageQueued, withFakes(t, f, nil))
	ctx := context.Background()
	// Group 1 already has a result: it keeps it.
	rb.setImage(t, rb.ims[4], store.ImageSucceeded)
	var jobs []river.InsertManyParams
	for _, im := range rb.ims[1:4] {
		jobs = append(jobs, river.InsertManyParams{Args: GenerateArgs{ImageID: im.ID}, InsertOpts: jobOpts(rb.b)})
	}
	require.NoError(t, rb.db.InTx(ctx, func(tx *store.Tx) error { return rb.p.jobs.insertTx(ctx, tx, jobs) }))
	n, err := rb.p.WaitingJobs(ctx, rb.b.ID)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	done := make(chan error, 1)
	go func() { done <- rb.p.generate(ctx, genJob(rb.ims[0].ID, 1, 5)) }()
	<-called
	require.NoError(t, rb.p.Cancel(ctx, rb.b.ID))
	require.NoError(t, <-done, "the cancelled call's job ends quietly")

	require.Equal(t, store.BatchCancelled, rb.batch(t).Status)
	for i, im := range rb.ims {
		got := rb.image(t, im.ID)
		if i == 4 {
			require.Equal(t, store.ImageSucceeded, got.Status)
			continue
		}
		require.Equal(t, store.ImageCancelled, got.Status, "image %d", i)
		require.Equal(t, "cancelled", got.Reason)
	}
	n, err = rb.p.WaitingJobs(ctx, rb.b.ID)
	require.NoError(t, err)
	require.Zero(t, n, "the batch's waiting jobs are deleted")

	// A job fetched before the cancel finds its image terminal: no call.
	require.NoError(t, rb.p.generate(ctx, genJob(rb.ims[1].ID, 1, 5)))
	require.Equal(t, 1, f.count())
	require.ErrorIs(t, rb.p.Cancel(ctx, rb.b.ID), ErrBatchState, "a batch ends once")

	// Finalize keeps the cancelled state; the group with a result is kept.
	require.NoError(t, rb.p.finalize(ctx, rb.b.ID))
	require.Equal(t, store.BatchCancelled, rb.batch(t).Status)
	gs, err := rb.db.GroupsOf(ctx, rb.b.ID)
	require.NoError(t, err)
	require.Equal(t, store.GroupCancelled, gs[0].Status)
	require.Equal(t, store.GroupSucceeded, gs[1].Status)
}

// TestPauseResume: a paused batch starts no generation (its jobs snooze
// and look again later, no provider call) while a call already running
// finishes and is stored; resume lets the jobs run again.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	called := make(chan struct{}, 4)
	f := &fakeImages{}
	f.reply = func(ctx context.Context, n int) (provider.Result, error) {
		called <- struct{}{}
		if n == 1 {
			<-release
		}
		return goodResult(t, n), nil
	}
	rb := newRuleBundle(t, Config{PausedPoll: 3 * time.Second}, 1, store.ImageQueued, withFakes(t, f, nil))
	ctx := context.Background()

	done := make(chan error, 1)
	go func() { done <- rb.p.generate(ctx, genJob(rb.ims[0].ID, 1, 5)) }()
	<-called
	require.NoError(t, rb.p.Pause(ctx, rb.b.ID))
	require.ErrorIs(t, rb.p.Pause(ctx, rb.b.ID), ErrBatchState)
	require.Equal(t, store.BatchPaused, rb.batch(t).Status)

	got, d := outcome(rb.p.generate(ctx, genJob(rb.ims[1].ID, 1, 5)))
	require.Equal(t, "snooze", got)
	require.Equal(t, 3*time.Second, d, "a paused batch's job looks again after PausedPoll")
	require.Equal(t, store.ImageQueued, rb.image(t, rb.ims[1].ID).Status)
	require.Equal(t, 1, f.count(), "no new call while paused")

	close(release)
	require.NoError(t, <-done)
	require.Equal(t, store.ImageSucceeded, rb.image(t, rb.ims[0].ID).Status, "the running call finished")

	require.NoError(t, rb.p.Resume(ctx, rb.b.ID))
	require.ErrorIs(t, rb.p.Resume(ctx, rb.b.ID), ErrBatchState)
	require.NoError(t, rb.p.generate(ctx, genJob(rb.ims[1].ID, 1, 5)))
	require.Equal(t, 2, f.count())
	require.Equal(t, store.ImageSucceeded, rb.image(t, rb.ims[1].ID).Status)
}

// TestGenerateGivesWayWhenSlotsAreBusy: a job waits for a fair slot at most
// SlotWait and then goes back to the queue without a call; a user who
// already has MaxWaitingPerUser requests waiting does not queue another
// (so River's fetch window stays open to other users).
func TestGenerateGivesWayWhenSlotsAreBusy(t *testing.T) {
	t.Parallel()
	f := &fakeImages{reply: func(context.Context, int) (provider.Result, error) {
		return provider.Result{}, errors.New("unexpected call")
	}}
	rb := newRuleBundle(t, Config{Concurrency: 1, MaxWaitingPerUser: 1, SlotWait: time.Millisecond}, 1, store.ImageQueued, withFakes(t, f, nil))
	ctx := context.Background()
	hold, err := rb.p.fair.acquire(ctx, "someone else", 2)
	require.NoError(t, err)
	defer hold()

	got, d := outcome(rb.p.generate(ctx, genJob(rb.ims[0].ID, 1, 5)))
	require.Equal(t, "snooze", got)
	require.Zero(t, d, "slot wait over: straight back to the queue")

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waiting := make(chan struct{})
	go func() {
		defer close(waiting)
		_, _ = rb.p.fair.acquire(wctx, rb.b.UserID, 2)
	}()
	require.Eventually(t, func() bool { return rb.p.fair.waitingOf(rb.b.UserID) == 1 }, time.Minute, time.Millisecond)
	got, d = outcome(rb.p.generate(ctx, genJob(rb.ims[1].ID, 1, 5)))
	require.Equal(t, "snooze", got)
	require.Positive(t, d, "past the waiting cap the job yields for a moment")
	cancel()
	<-waiting

	require.Zero(t, f.count())
	for _, im := range rb.ims[:2] {
		require.Equal(t, store.ImageQueued, rb.image(t, im.ID).Status)
	}
}

// TestFinalizeSettlesHistoryAndEndsOnce: finalize marks the history of
// groups with an image used and releases the others, writes the terminal
// batch.status event once (with counts and reasons) however often it runs,
// and a cancelled batch keeps its state.
func TestFinalizeSettlesHistoryAndEndsOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		cancelled bool
		want      string
		groups    []string
	}{
		{"finished", false, store.BatchPartiallyFailed, []string{store.GroupSucceeded, store.GroupFailed}},
		{"cancelled", true, store.BatchCancelled, []string{store.GroupSucceeded, store.GroupCancelled}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rb := newRuleBundle(t, Config{}, 2, store.ImageSucceeded)
			ctx := context.Background()
			var hist []store.HistoryInsert
			for i, g := range rb.gs {
				hist = append(hist, store.HistoryInsert{Combination: plan.Combination{CountyCode: "13052" + string(rune('1'+i)), ProvinceCode: "130000",
					Month: i + 1, Road: "dirt", Elements: []string{"tricycle"}}, PoolVersion: "pv", BatchID: rb.b.ID, GroupID: g.ID})
			}
			require.NoError(t, rb.db.InTx(ctx, func(tx *store.Tx) error {
				_, err := rb.db.InsertHistory(ctx, tx, rb.b.UserID, plan.StateReserved, hist)
				return err
			}))
			rb.setImage(t, rb.ims[0], store.ImageFailed)
			for _, im := range rb.ims[4:] {
				rb.setImage(t, im, store.ImageFailed)
			}
			if tc.cancelled {
				require.NoError(t, rb.db.InTx(ctx, func(tx *store.Tx) error {
					_, err := rb.db.SetBatchStatus(ctx, tx, rb.b.ID, nil, store.BatchCancelled, "Cancelled by the user.", nil)
					return err
				}))
			}
			for range 3 {
				require.NoError(t, rb.p.finalize(ctx, rb.b.ID))
			}
			require.Equal(t, tc.want, rb.batch(t).Status)
			gs, err := rb.db.GroupsOf(ctx, rb.b.ID)
			require.NoError(t, err)
			for i, g := range gs {
				require.Equal(t, tc.groups[i], g.Status, "group %d", i)
			}
			rows, _, err := rb.db.ListHistory(ctx, rb.b.UserID, store.HistoryFilter{})
			require.NoError(t, err)
			states := map[string]string{}
			for _, r := range rows {
				states[r.GroupID] = r.State
			}
			require.Equal(t, map[string]string{rb.gs[0].ID: plan.StateUsed, rb.gs[1].ID: plan.StateReleased}, states)

			evs, err := rb.db.EventsAfter(ctx, rb.b.ID, 0, 1000)
			require.NoError(t, err)
			var terminal []store.Event
			for _, e := range evs {
				var d struct{ Status store.BatchStatus }
				require.NoError(t, json.Unmarshal(e.Data, &d))
				if e.Type == store.KindBatchStatus && d.Status.Terminal() {
					terminal = append(terminal, e)
				}
			}
			require.Len(t, terminal, 1, "the batch ends once")
			if !tc.cancelled {
				var d struct {
					Counts  map[string]int `json:"counts"`
					Reasons map[string]int `json:"reasons"`
				}
				require.NoError(t, json.Unmarshal(terminal[0].Data, &d))
				require.Equal(t, map[string]int{store.ImageSucceeded: 3, store.ImageFailed: 5}, d.Counts)
			}
		})
	}
}
