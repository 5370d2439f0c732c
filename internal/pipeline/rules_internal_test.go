package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
)

// Unit tests of the pipeline's own rules on SQLite, without River running
// and without a provider: they call the rule functions directly on rows
// made for the case. CI runs them with -race (go test -race ./internal/pipeline/...).

// photoSHA is the content hash of every bundle's product photo.
const photoSHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

type ruleBundle struct {
	p   *Pipeline
	db  *store.DB
	b   *store.Batch
	gs  []*store.Group
	ims []*store.Image
}

// newRuleBundle makes a pipeline (not started) over a fresh SQLite database
// with one running batch of groups × 4 images in the given states. opts
// add collaborators (a fake provider, blobs, a clock) to the Deps.
func newRuleBundle(t *testing.T, cfg Config, groups int, imageStatus string, opts ...func(*Deps)) *ruleBundle {
	t.Helper()
	ctx := context.Background()
	db := openMigrated(t)
	d := Deps{DB: db}
	for _, o := range opts {
		o(&d)
	}
	p, err := New(cfg, d)
	require.NoError(t, err)
	var u *store.User
	up := &store.Upload{SHA256: photoSHA, MIME: "image/jpeg", Width: 10, Height: 10, Bytes: 1, EXIF: "{}", Warnings: "[]"}
	b := &store.Batch{Mode: "smart", Priority: 1, Seed: 1, Plan: &plan.Plan{}, Params: store.BatchParams{Aspect: "1:1", Resolution: 1024},
		Status: store.BatchRunning}
	var gs []*store.Group
	var ims []*store.Image
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		if u, err = db.CreateUser(ctx, tx, "ann", "h", store.RoleOperator); err != nil {
			return err
		}
		up.UserID = u.ID
		if err := db.CreateUpload(ctx, tx, up); err != nil {
			return err
		}
		b.UserID, b.UploadID = u.ID, up.ID
		for gi := range groups {
			g := &store.Group{ID: store.NewID(), Index: gi, Key: fmt.Sprintf("k%d", gi)}
			gs = append(gs, g)
			for i := range 4 {
				ims = append(ims, &store.Image{GroupID: g.ID, Index: i, Status: imageStatus, Variant: store.Variant{ID: "sunny_morning", Time: "morning", Weather: "sunny", Base: "sunny_morning"}})
			}
		}
		return db.CreateBatch(ctx, tx, b, gs, ims)
	}))
	return &ruleBundle{p: p, db: db, b: b, gs: gs, ims: ims}
}

// migratedTemplate is a SQLite file with the application's and River's
// migrations applied, made once per test binary: each bundle starts from a
// copy, as migrating under -race costs seconds per database.
var migratedTemplate struct {
	once sync.Once
	path string
	err  error
}

// openMigrated returns a fresh SQLite database with every migration applied.
func openMigrated(t *testing.T) *store.DB {
	t.Helper()
	ctx := context.Background()
	migratedTemplate.once.Do(func() {
		dir, err := os.MkdirTemp("", "ludeng-pipeline-test-")
		if err != nil {
			migratedTemplate.err = err
			return
		}
		migratedTemplate.path = filepath.Join(dir, "template.db")
		migratedTemplate.err = func() error {
			db, err := store.Open(ctx, store.Options{SQLitePath: migratedTemplate.path})
			if err != nil {
				return err
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				return err
			}
			_, err = Migrate(ctx, db)
			return err
		}()
	})
	require.NoError(t, migratedTemplate.err)
	path := filepath.Join(t.TempDir(), "test.db")
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(migratedTemplate.path + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path+suffix, data, 0o600))
	}
	db, err := store.Open(ctx, store.Options{SQLitePath: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestMain(m *testing.M) {
	code := m.Run()
	if migratedTemplate.path != "" {
		_ = os.RemoveAll(filepath.Dir(migratedTemplate.path))
	}
	os.Exit(code)
}

func (rb *ruleBundle) image(t *testing.T, id string) *store.Image {
	t.Helper()
	im, err := rb.db.ImageByID(context.Background(), id)
	require.NoError(t, err)
	return im
}

func (rb *ruleBundle) setImage(t *testing.T, im *store.Image, status string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, rb.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := rb.db.UpdateImage(ctx, tx, im, nil, store.ImageUpdate{Status: status})
		return err
	}))
}

// noiseJPEG is a non-blank image of the exact output size, as a provider returns.
func noiseJPEG(t *testing.T, w, h int) []byte { return noiseJPEGSeeded(t, w, h, 1) }

// noiseJPEGSeeded: images of different seeds are distinct to QC. Encoded
// once per size and seed: under -race encoding a 1024² image is slow.
func noiseJPEGSeeded(t *testing.T, w, h int, seed uint64) []byte {
	t.Helper()
	key := fmt.Sprintf("%dx%d/%d", w, h, seed)
	if b, ok := noiseCache.Load(key); ok {
		return b.([]byte)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}))
	noiseCache.Store(key, buf.Bytes())
	return buf.Bytes()
}

var noiseCache sync.Map

// TestQCRetriesZeroMeansNone: LUDENG_PIPELINE_QC_RETRIES=0 used to be
// accepted and silently become 3 (the zero value took the default).
func TestQCRetriesZeroMeansNone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  string
		want int
	}{{"0", NoQCRetries}, {"", 3}, {"2", 2}} {
		env := config.NewEnv(func(k string) string {
			if k == "LUDENG_PIPELINE_QC_RETRIES" {
				return tc.env
			}
			return ""
		})
		cfg := ConfigFromEnv(env)
		require.NoError(t, env.Err())
		require.Equal(t, tc.want, cfg.withDefaults().MaxQCRetries, "LUDENG_PIPELINE_QC_RETRIES=%q", tc.env)
	}

	// With no retries the first QC rejection fails the image; with one
	// retry it is re-queued with a nudged variant first.
	for _, tc := range []struct {
		retries int
		want    string
	}{{NoQCRetries, store.ImageFailed}, {1, store.ImageQueued}} {
		rb := newRuleBundle(t, Config{MaxQCRetries: tc.retries}, 1, store.ImageRunning)
		im := rb.image(t, rb.ims[0].ID)
		err := rb.p.retryNudged(context.Background(), rb.b, im, "blank", nil)
		if tc.want == store.ImageQueued {
			require.Error(t, err, "a nudged retry snoozes the job")
		} else {
			require.NoError(t, err)
		}
		got := rb.image(t, im.ID)
		require.Equal(t, tc.want, got.Status, "retries %d", tc.retries)
		require.Equal(t, 1, got.QCTries)
		hist := got.QC
		require.Len(t, hist, 1)
		require.Equal(t, "blank", hist[0].Reason)
		if tc.want == store.ImageQueued {
			require.NotEqual(t, "sunny_morning", got.Variant.ID, "the retry renders a nudged variant")
		}
	}
}

// TestQCFailsClosedWhenSiblingsUnreadable: QC used to let an image pass
// when reading its sibling images failed, so a near-duplicate could be
// stored unchecked.
func TestQCFailsClosedWhenSiblingsUnreadable(t *testing.T) {
	t.Parallel()
	rb := newRuleBundle(t, Config{}, 1, store.ImageRunning)
	w, h, err := provider.OutputSize(provider.Aspect("1:1"), 1024)
	require.NoError(t, err)
	res := provider.Result{Image: noiseJPEG(t, w, h), MIME: "image/jpeg"}
	prm := params{Aspect: "1:1", Resolution: 1024}

	reason, _, err := rb.p.qc(context.Background(), rb.ims[0], res, prm)
	require.NoError(t, err)
	require.Empty(t, reason, "a distinct, well-formed image passes")

	// The same image with the siblings unreadable: no verdict, an error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	reason, _, err = rb.p.qc(ctx, rb.ims[1], res, prm)
	require.Error(t, err)
	require.Empty(t, reason)

	// Still rejected for what it can see without the siblings.
	reason, _, err = rb.p.qc(ctx, rb.ims[1], provider.Result{Image: noiseJPEG(t, w/2, h/2)}, prm)
	require.NoError(t, err)
	require.Equal(t, "wrong_size", reason)
}

// TestGroupIndexCacheBounded: the group id → plan index map used to be a
// process-wide sync.Map that only grew. It now belongs to a pipeline, a
// batch's entries go at finalize/delete, and the oldest batches go at the cap.
func TestGroupIndexCacheBounded(t *testing.T) {
	t.Parallel()
	rb := newRuleBundle(t, Config{}, 3, store.ImageSucceeded)
	ctx := context.Background()
	gs, err := rb.p.loadGroupIndex(ctx, rb.b.ID)
	require.NoError(t, err)
	require.Len(t, gs, 3)
	require.Equal(t, 2, rb.p.groupIndex(rb.gs[2].ID))

	other := newRuleBundle(t, Config{}, 1, store.ImageSucceeded)
	require.Equal(t, -1, other.p.groupIndex(rb.gs[2].ID), "not shared between pipelines")

	// Finalizing the batch drops its entries.
	require.NoError(t, rb.p.finalize(ctx, rb.b.ID))
	require.Equal(t, -1, rb.p.groupIndex(rb.gs[2].ID))
	require.Zero(t, rb.p.groups.size())

	// The cap evicts the oldest batch, never the one just loaded.
	var c groupIndexCache
	mk := func(n int) []*store.Group {
		out := make([]*store.Group, n)
		for i := range out {
			out[i] = &store.Group{ID: store.NewID(), Index: i}
		}
		return out
	}
	first, second := mk(maxGroupIndex/2+1), mk(maxGroupIndex/2+1)
	c.remember("b1", first)
	c.remember("b2", second)
	require.LessOrEqual(t, c.size(), maxGroupIndex)
	require.Equal(t, -1, c.index(first[0].ID))
	require.Equal(t, 5, c.index(second[5].ID))
}

// TestFinalizeDecidesStates: a group with at least one image is succeeded,
// else failed; the batch is succeeded when every image is, failed when none
// is, partially failed otherwise; finalize is idempotent.
func TestFinalizeDecidesStates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		failed []int // image indexes (of 8: group 0 = 0–3, group 1 = 4–7) that fail
		batch  string
		groups []string
	}{
		{"all succeed", nil, store.BatchSucceeded, []string{store.GroupSucceeded, store.GroupSucceeded}},
		{"one image of each group fails", []int{0, 4}, store.BatchPartiallyFailed, []string{store.GroupSucceeded, store.GroupSucceeded}},
		{"a whole group fails", []int{4, 5, 6, 7}, store.BatchPartiallyFailed, []string{store.GroupSucceeded, store.GroupFailed}},
		{"everything fails", []int{0, 1, 2, 3, 4, 5, 6, 7}, store.BatchFailed, []string{store.GroupFailed, store.GroupFailed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rb := newRuleBundle(t, Config{}, 2, store.ImageSucceeded)
			for _, i := range tc.failed {
				rb.setImage(t, rb.ims[i], store.ImageFailed)
			}
			ctx := context.Background()
			require.NoError(t, rb.p.finalize(ctx, rb.b.ID))
			require.NoError(t, rb.p.finalize(ctx, rb.b.ID), "idempotent")
			b, err := rb.db.BatchByID(ctx, rb.b.ID)
			require.NoError(t, err)
			require.Equal(t, tc.batch, b.Status)
			gs, err := rb.db.GroupsOf(ctx, rb.b.ID)
			require.NoError(t, err)
			for i, g := range gs {
				require.Equal(t, tc.groups[i], g.Status, "group %d", i)
			}
		})
	}

	// Not done while an image is still queued: nothing changes.
	rb := newRuleBundle(t, Config{}, 1, store.ImageSucceeded)
	rb.setImage(t, rb.ims[3], store.ImageQueued)
	require.NoError(t, rb.p.finalize(context.Background(), rb.b.ID))
	b, err := rb.db.BatchByID(context.Background(), rb.b.ID)
	require.NoError(t, err)
	require.Equal(t, store.BatchRunning, b.Status)
}
