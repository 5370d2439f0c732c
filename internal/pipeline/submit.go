package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
)

// Enhance modes of a request.
const (
	EnhanceOff = "off"
)

// Priorities (River priorities: 1 is the most urgent).
var priorities = map[string]int{"high": 1, "normal": 2, "": 2, "low": 3}

// ManualSpec is the manual mode's one combination.
type ManualSpec struct {
	County   string   `json:"county"`
	Month    int      `json:"month"`
	Road     string   `json:"road"`
	Elements []string `json:"elements"`
}

// SubmitRequest is POST /api/v1/batches.
type SubmitRequest struct {
	UploadID          string        `json:"upload_id"`
	Mode              string        `json:"mode"`
	Groups            int           `json:"groups"`
	Manual            *ManualSpec   `json:"manual,omitempty"`
	Filters           *plan.Filters `json:"filters,omitempty"`
	AllowSameProvince bool          `json:"allow_same_province"`
	Aspect            string        `json:"aspect"`
	Resolution        int           `json:"resolution"`
	Enhance           string        `json:"enhance"`
	Priority          string        `json:"priority"`
	// Budget caps the batch's cost, a decimal in the currency ("1.50").
	Budget string `json:"budget,omitempty"`
	Seed   *int64 `json:"seed,omitempty"`
	DryRun bool   `json:"dry_run"`
}

// Caller is who submits.
type Caller struct {
	UserID  string
	IsAdmin bool
	// RequestID goes to logs and the ledger.
	RequestID string
}

// Estimate is the cost forecast of a plan.
type Estimate struct {
	Images      int   `json:"images"`
	PerImage    int64 `json:"-"`
	TotalMicros int64 `json:"-"`
	CapMicros   int64 `json:"-"`
	HasCap      bool  `json:"-"`
}

// Submitted is the outcome of Submit.
type Submitted struct {
	Plan     *plan.Plan
	Estimate Estimate
	// Batch is nil for a dry run.
	Batch *store.Batch
}

// Errors of Submit.
var (
	ErrBadMode       = fault.New(fault.Invalid, "batch_bad_mode", "mode must be smart or manual.")
	ErrBadEnhance    = fault.New(fault.Invalid, "batch_bad_enhance", "enhance must be off, creative, balanced or precise.")
	ErrBadPriority   = fault.New(fault.Invalid, "batch_bad_priority", "priority must be low, normal or high.")
	ErrHighPriority  = fault.New(fault.Forbidden, "batch_priority_forbidden", "Only admins may submit high-priority batches.")
	ErrBadBudget     = fault.New(fault.Invalid, "batch_bad_budget", "budget must be a positive decimal amount such as 2.50.")
	ErrBadAspect     = fault.New(fault.Invalid, "batch_bad_aspect", "aspect must be 3:4, 9:16 or 1:1 and resolution 1024 or 1536.")
	ErrUploadMissing = fault.New(fault.Invalid, "batch_upload_missing", "upload_id names no upload of yours.")
	ErrBudget        = fault.New(fault.PaymentRequired, "budget_exceeded", "The batch's estimated cost exceeds the remaining budget.")
	ErrUserQueueFull = fault.New(fault.RateLimited, "user_queue_full", "You have too many images queued or running; wait for some to finish.")
)

// params are stored with the batch (and echoed by GET).
type params = store.BatchParams

func (r *SubmitRequest) normalize(c Caller) (params, error) {
	r.Mode = strings.ToLower(strings.TrimSpace(r.Mode))
	if r.Mode == "" {
		r.Mode = "smart"
	}
	if r.Mode != "smart" && r.Mode != "manual" {
		return params{}, ErrBadMode.With("mode", r.Mode)
	}
	if r.Mode == "smart" && r.Groups == 0 {
		r.Groups = 8
	}
	if r.Mode == "manual" && r.Manual == nil {
		return params{}, fault.New(fault.Invalid, "batch_manual_missing", "A manual batch needs manual {county, month, road, elements}.")
	}
	p := params{Aspect: cmpStr(r.Aspect, string(provider.DefaultAspect)), Resolution: r.Resolution, Enhance: cmpStr(r.Enhance, "balanced"),
		Priority: cmpStr(r.Priority, "normal"), Budget: r.Budget}
	if p.Resolution == 0 {
		p.Resolution = provider.Resolution1024
	}
	if _, _, err := provider.OutputSize(provider.Aspect(p.Aspect), p.Resolution); err != nil {
		return p, ErrBadAspect.With("aspect", p.Aspect).With("resolution", p.Resolution)
	}
	switch p.Enhance {
	case EnhanceOff, string(provider.ModeCreative), string(provider.ModeBalanced), string(provider.ModePrecise):
	default:
		return p, ErrBadEnhance.With("enhance", p.Enhance)
	}
	if _, ok := priorities[p.Priority]; !ok {
		return p, ErrBadPriority.With("priority", p.Priority)
	}
	if p.Priority == "high" && !c.IsAdmin {
		return p, ErrHighPriority
	}
	return p, nil
}

func cmpStr(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return strings.TrimSpace(s)
}

// ParseMoney parses a decimal amount ("2.5", "0.034") into micro-units.
func ParseMoney(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, errors.New("not a positive decimal")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 6 || whole == "" && frac == "" {
		return 0, errors.New("at most 6 decimals")
	}
	w, err := strconv.ParseInt(cmpStr(whole, "0"), 10, 64)
	if err != nil || w > 1e12 {
		return 0, errors.New("not a decimal amount")
	}
	f := int64(0)
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil {
			return 0, errors.New("not a decimal amount")
		}
	}
	return w*1_000_000 + f, nil
}

// FormatMoney renders micro-units as a decimal string with 2–6 decimals.
func FormatMoney(m int64) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	s := fmt.Sprintf("%s%d.%06d", sign, m/1_000_000, m%1_000_000)
	for strings.HasSuffix(s, "0") && len(s)-strings.IndexByte(s, '.') > 3 {
		s = s[:len(s)-1]
	}
	return s
}

func (p *Pipeline) pricePer(resolution int) int64 {
	if resolution == provider.Resolution1536 {
		return p.cfg.PricePerImage1536
	}
	return p.cfg.PricePerImage
}

// Submit plans and (unless dry run) stores a batch with its jobs.
func (p *Pipeline) Submit(ctx context.Context, c Caller, req SubmitRequest) (*Submitted, error) {
	prm, err := req.normalize(c)
	if err != nil {
		return nil, err
	}
	up, err := p.db.UploadByID(ctx, req.UploadID)
	if err != nil || up.UserID != c.UserID {
		return nil, ErrUploadMissing.With("upload_id", req.UploadID)
	}
	capMicros, err := parseCap(req.Budget)
	if err != nil {
		return nil, err
	}
	seed := int64(0)
	if req.Mode == "smart" {
		if req.Seed != nil {
			seed = *req.Seed
		} else {
			seed = rand.Int64N(1 << 53)
		}
	}
	snap := p.d.Pool.Current()
	makePlan := func() (*plan.Plan, error) {
		if req.Mode == "manual" {
			m := req.Manual
			return p.d.Planner.Manual(ctx, snap, plan.ManualRequest{UserID: c.UserID, County: m.County, Month: m.Month, Road: m.Road, Elements: m.Elements})
		}
		f := plan.Filters{}
		if req.Filters != nil {
			f = *req.Filters
		}
		return p.d.Planner.Smart(ctx, snap, plan.SmartRequest{UserID: c.UserID, Groups: req.Groups, Seed: seed, Filters: f, AllowSameProvince: req.AllowSameProvince})
	}
	pl, err := makePlan()
	if err != nil {
		return nil, err
	}
	est := p.estimate(pl, prm.Resolution, capMicros)
	if req.DryRun {
		return &Submitted{Plan: pl, Estimate: est}, nil
	}
	for attempt := 0; ; attempt++ {
		b, err := p.store(ctx, c, req, prm, pl, seed, est, capMicros)
		if err == nil {
			p.log.InfoContext(ctx, "batch submitted", "batch_id", b.ID, "groups", len(pl.Groups), "mode", req.Mode)
			return &Submitted{Plan: pl, Estimate: est, Batch: b}, nil
		}
		// A batch submitted concurrently took a combination: replan (the
		// history changed, so the same seed gives another plan).
		if fe := fault.As(err); fe != nil && fe.Code == store.ErrHistoryConflict.Code && req.Mode == "smart" && attempt < 3 {
			if pl, err = makePlan(); err != nil {
				return nil, err
			}
			est = p.estimate(pl, prm.Resolution, capMicros)
			continue
		}
		return nil, err
	}
}

func (p *Pipeline) estimate(pl *plan.Plan, resolution int, capMicros *int64) Estimate {
	n := 0
	for _, g := range pl.Groups {
		n += len(g.Variants)
	}
	e := Estimate{Images: n, PerImage: p.pricePer(resolution)}
	e.TotalMicros = int64(n) * e.PerImage
	if capMicros != nil {
		e.CapMicros, e.HasCap = *capMicros, true
	}
	return e
}

// parseCap reads a batch's optional budget cap ("" = none).
func parseCap(budget string) (*int64, error) {
	if budget == "" {
		return nil, nil
	}
	v, err := ParseMoney(budget)
	if err != nil || v <= 0 {
		return nil, ErrBadBudget.With("budget", budget)
	}
	return &v, nil
}

// budgetError is 402 with the estimate and what remains.
func budgetError(which string, est Estimate, remaining int64) error {
	return ErrBudget.With("budget", which).With("estimate", FormatMoney(est.TotalMicros)).With("remaining", FormatMoney(max(remaining, 0)))
}

// checkBudget compares the estimate with the batch cap and the user's
// daily and monthly budgets (what was spent plus what active batches may
// still spend), inside the submit transaction.
//
// u is read before the transaction: on PostgreSQL a read through the pool
// while holding the user's row lock could wait for a connection that a
// blocked submit holds.
func (p *Pipeline) checkBudget(ctx context.Context, tx *store.Tx, u *store.User, est Estimate) error {
	userID := u.ID
	if est.HasCap && est.TotalMicros > est.CapMicros {
		return budgetError("batch", est, est.CapMicros)
	}
	if u.DailyBudgetMicros == nil && u.MonthlyBudgetMicros == nil {
		return nil
	}
	return func() error {
		reserved, err := p.db.ReservedByActive(ctx, tx, userID)
		if err != nil {
			return err
		}
		now := p.d.Now().In(p.cfg.Location)
		check := func(which string, budget *int64, since time.Time) error {
			if budget == nil {
				return nil
			}
			spent, err := p.db.SpentSince(ctx, tx, userID, since)
			if err != nil {
				return err
			}
			remaining := *budget - spent - reserved
			if est.TotalMicros > remaining {
				return budgetError(which, est, remaining)
			}
			return nil
		}
		day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, p.cfg.Location)
		if err := check("daily", u.DailyBudgetMicros, day); err != nil {
			return err
		}
		return check("monthly", u.MonthlyBudgetMicros, time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, p.cfg.Location))
	}()
}

func (p *Pipeline) store(ctx context.Context, c Caller, req SubmitRequest, prm params, pl *plan.Plan, seed int64, est Estimate, capMicros *int64) (*store.Batch, error) {
	b := &store.Batch{UserID: c.UserID, UploadID: req.UploadID, Mode: req.Mode, Status: store.BatchQueued,
		Priority: priorities[prm.Priority], Seed: seed, Plan: pl, EstimateMicros: est.TotalMicros, CapMicros: capMicros}
	var groups []*store.Group
	var images []*store.Image
	var hist []store.HistoryInsert
	for _, g := range pl.Groups {
		sg := &store.Group{ID: store.NewID(), Index: g.Index, Key: g.Key, Combination: g.Combination, Scene: g.Scene}
		groups = append(groups, sg)
		prm.Snow = append(prm.Snow, g.Scene.SnowCover)
		for i, v := range g.Variants {
			images = append(images, &store.Image{ID: store.NewID(), GroupID: sg.ID, Index: i,
				Variant: store.Variant{ID: v.ID, Time: v.Time, Weather: v.Weather, Base: v.ID}})
		}
		hist = append(hist, store.HistoryInsert{Combination: g.Combination, PoolVersion: pl.PoolVersion, GroupID: sg.ID})
	}
	b.ID = store.NewID()
	for i := range hist {
		hist[i].BatchID = b.ID
	}
	b.Params = prm
	u, err := p.db.UserByID(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	err = p.db.InTx(ctx, func(tx *store.Tx) error {
		if err := p.db.LockUser(ctx, tx, c.UserID); err != nil {
			return err
		}
		// The budgets are read again under the lock: an admin may have
		// changed them since.
		if err := p.db.RefreshBudgets(ctx, tx, u); err != nil {
			return err
		}
		if err := p.checkBudget(ctx, tx, u, est); err != nil {
			return err
		}
		// Counted under the user lock, so concurrent submits cannot both pass.
		active, err := p.db.CountActiveImages(ctx, tx, c.UserID)
		if err != nil {
			return err
		}
		if active+est.Images > p.cfg.MaxActiveImagesPerUser {
			e := ErrUserQueueFull.With("queued", active).With("images", est.Images).With("max_queued_images", p.cfg.MaxActiveImagesPerUser)
			e.RetryAfter = 60
			return e
		}
		if err := p.db.CreateBatch(ctx, tx, b, groups, images); err != nil {
			return err
		}
		if _, err := p.db.InsertHistory(ctx, tx, c.UserID, plan.StateReserved, hist); err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		for _, g := range groups {
			jobs = append(jobs, river.InsertManyParams{Args: EnhanceArgs{BatchID: b.ID, GroupID: g.ID}, InsertOpts: jobOpts(b)})
		}
		return p.jobs.insertTx(ctx, tx, jobs)
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}
