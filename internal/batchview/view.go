package batchview

import (
	"context"
	"sync"
	"time"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
)

// Reader builds views from the store.
type Reader struct {
	db          *store.DB
	now         func() time.Time
	money       func(int64) Money
	concurrency int
	loc         *time.Location

	mu    sync.Mutex
	cache map[string]*cached
	order []string // insertion order, for eviction
}

// maxCached bounds the cache: polling clients look at a handful of active
// batches; older ones fall out in insertion order.
const maxCached = 512

// cached is the part of a view that only changes with the batch's event
// sequence number: every group and image change writes an event in the
// same transaction (store.UpdateImage, SetGroupStatus), so (id, event_seq)
// versions it.
type cached struct {
	seq         int64
	rows        Rows
	groups      []Group
	progress    Progress
	report      Report
	images      int
	params      Params
	poolVersion string
}

// Options configure a Reader.
type Options struct {
	// Now is the clock of the ETA (default time.Now).
	Now func() time.Time
	// Money formats micro-units in the configured currency.
	Money func(int64) Money
	// Concurrency is the pipeline's generations in flight per node, for the ETA.
	Concurrency int
	// Location is LUDENG_TIMEZONE: the days and months of usage (default UTC).
	Location *time.Location
}

// New returns a Reader over db.
func New(db *store.DB, o Options) *Reader {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	return &Reader{db: db, now: o.Now, money: o.Money, concurrency: o.Concurrency, loc: o.Location, cache: map[string]*cached{}}
}

// ContentURLs are an image's content links by size.
func ContentURLs(imageID string) ImageURLs {
	base := "/api/v1/images/" + imageID + "/content"
	return ImageURLs{Thumb: base + "?size=thumb", Preview: base + "?size=preview", Full: base + "?size=full"}
}

// Rows are the store rows a view was built from, shared between requests:
// read only.
type Rows struct {
	Groups []*store.Group
	Images []*store.Image
}

// View is the batch as GET /api/v1/batches/{id} shows it. b must be freshly
// read: its event_seq decides whether the cached groups are still current.
func (r *Reader) View(ctx context.Context, b *store.Batch) (*Batch, Rows, error) {
	c, err := r.static(ctx, b)
	if err != nil {
		return nil, Rows{}, err
	}
	// Spend is not versioned by events (a ledger row settles on its own),
	// so it is read every time: one indexed aggregate.
	spent, err := r.db.BatchSpent(ctx, b.ID)
	if err != nil {
		return nil, Rows{}, err
	}
	// The cached groups are shared: the caller may decorate its copy.
	groups := make([]Group, len(c.groups))
	for i, g := range c.groups {
		g.Images = append([]Image(nil), g.Images...)
		groups[i] = g
	}
	v := &Batch{
		ID: b.ID, Status: store.BatchStatus(b.Status), Mode: b.Mode, Seed: b.Seed, UploadID: b.UploadID, Message: b.Message,
		Params: c.params, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, StartedAt: b.StartedAt, FinishedAt: b.FinishedAt,
		Groups: groups, Progress: c.progress, Estimate: Estimate{Images: c.images, Total: r.money(b.EstimateMicros)},
		Cost: r.money(spent), Report: c.report, EventSeq: b.EventSeq, PoolVersion: c.poolVersion,
		Download: "/api/v1/batches/" + b.ID + "/download",
	}
	if b.CapMicros != nil {
		m := r.money(*b.CapMicros)
		v.Budget = &m
	}
	if !v.Status.Terminal() {
		ahead, err := r.db.QueuedAhead(ctx, b)
		if err != nil {
			return nil, Rows{}, err
		}
		// Before the first image is done, the median of the user's recent calls.
		per := 30 * time.Second
		if c.progress.Done == 0 {
			if d, n, err := r.db.RecentCallLatency(ctx, b.UserID, provider.OpGenerate); err == nil && n > 0 {
				per = max(d, time.Second)
			}
		}
		eta := r.eta(b, c.progress, ahead, per)
		v.QueuePosition, v.ETASeconds = &ahead, &eta
	}
	return v, c.rows, nil
}

// eta: the images ahead and the batch's own remaining ones, run
// concurrency at a time at the mean duration seen so far (per before the
// first image is done), measured on the injected clock.
func (r *Reader) eta(b *store.Batch, p Progress, ahead int64, per time.Duration) int64 {
	conc := r.concurrency
	if b.StartedAt != nil && p.Done > 0 {
		per = max(r.now().Sub(*b.StartedAt)/time.Duration(p.Done)*time.Duration(min(conc, p.Total)), time.Second)
	}
	left := int64(p.Total-p.Done) + ahead
	return int64((time.Duration(left) * per / time.Duration(conc)).Seconds())
}

func (r *Reader) static(ctx context.Context, b *store.Batch) (*cached, error) {
	r.mu.Lock()
	c := r.cache[b.ID]
	r.mu.Unlock()
	if c != nil && c.seq == b.EventSeq {
		return c, nil
	}
	c, err := r.build(ctx, b)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.cache[b.ID]; ok && old.seq > c.seq {
		return c, nil // a concurrent reader saw a newer version; keep it
	} else if !ok {
		r.order = append(r.order, b.ID)
		for len(r.order) > maxCached {
			delete(r.cache, r.order[0])
			r.order = r.order[1:]
		}
	}
	r.cache[b.ID] = c
	return c, nil
}

// Forget drops a batch from the cache (after a delete).
func (r *Reader) Forget(batchID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cache, batchID)
}

func (r *Reader) build(ctx context.Context, b *store.Batch) (*cached, error) {
	groups, err := r.db.GroupsOf(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	imgs, err := r.db.ImagesOf(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	c := &cached{seq: b.EventSeq, images: len(imgs), rows: Rows{Groups: groups, Images: imgs},
		report: Report{Counts: map[string]int{}, Reasons: map[string]int{}, QCRejects: map[string]int{}}}
	c.poolVersion = b.Plan.PoolVersion
	prm := b.Params
	c.params = Params{Aspect: prm.Aspect, Resolution: prm.Resolution, Enhance: prm.Enhance, Priority: prm.Priority,
		Budget: prm.Budget, RerunOf: prm.RerunOf}
	byGroup := map[string][]Image{}
	for _, im := range imgs {
		c.report.Counts[im.Status]++
		if im.Reason != "" && im.Status != store.ImageSucceeded {
			c.report.Reasons[im.Reason]++
		}
		v := Variant{ID: im.Variant.ID, Time: im.Variant.Time, Weather: im.Variant.Weather, Base: im.Variant.Base}
		qcs := make([]QCEntry, len(im.QC))
		for i, q := range im.QC {
			c.report.QCRejects[q.Reason]++
			qcs[i] = QCEntry(q)
		}
		var urls ImageURLs
		if im.ResultKey != "" {
			urls = ContentURLs(im.ID)
		}
		byGroup[im.GroupID] = append(byGroup[im.GroupID], Image{
			ID: im.ID, Index: im.Index, Status: store.ImageStatus(im.Status), Variant: v, PromptSource: im.PromptSource,
			Reason: im.Reason, QCTries: im.QCTries, QC: qcs, Width: im.Width, Height: im.Height, Provider: im.Provider, URLs: urls,
		})
	}
	c.groups = make([]Group, 0, len(groups))
	for _, g := range groups {
		gi := byGroup[g.ID]
		if gi == nil {
			gi = []Image{}
		}
		c.groups = append(c.groups, Group{ID: g.ID, Index: g.Index, Key: g.Key, Status: g.Status,
			Combination: g.Combination, Scene: g.Scene, Images: gi,
			Download: "/api/v1/batches/" + b.ID + "/groups/" + g.ID + "/download"})
	}
	n := c.report.Counts
	c.progress = Progress{Done: n[store.ImageSucceeded] + n[store.ImageFailed] + n[store.ImageCancelled], Total: len(imgs),
		Succeeded: n[store.ImageSucceeded], Failed: n[store.ImageFailed]}
	return c, nil
}

// Summaries are the list rows of batches, with their progress in one query.
func (r *Reader) Summaries(ctx context.Context, list []*store.Batch) ([]Summary, error) {
	ids := make([]string, len(list))
	for i, b := range list {
		ids[i] = b.ID
	}
	progress, err := r.db.ProgressOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	items := make([]Summary, 0, len(list))
	for _, b := range list {
		pl := b.Plan
		scenes := make([]plan.Scene, 0, len(pl.Groups))
		for _, g := range pl.Groups {
			scenes = append(scenes, g.Scene)
		}
		p := progress[b.ID]
		items = append(items, Summary{ID: b.ID, Status: store.BatchStatus(b.Status), Mode: b.Mode, Groups: len(pl.Groups),
			Scenes: scenes, CreatedAt: b.CreatedAt, FinishedAt: b.FinishedAt, Estimate: r.money(b.EstimateMicros),
			Progress: Progress{Done: p.Done, Total: p.Total, Succeeded: p.Succeeded, Failed: p.Failed}})
	}
	return items, nil
}
