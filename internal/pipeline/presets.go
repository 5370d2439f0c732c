package pipeline

import (
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/plan"
)

// PresetSettings are the batch settings a preset saves: a SubmitRequest
// without what belongs to one submission (upload, seed, dry run). The JSON
// names are the batch request's, so a client can merge a preset into
// POST /api/v1/batches as it is.
type PresetSettings struct {
	Mode              string        `json:"mode" enum:"smart,manual"`
	Groups            int           `json:"groups,omitempty"`
	Manual            *ManualSpec   `json:"manual,omitempty"`
	Filters           *plan.Filters `json:"filters,omitempty"`
	AllowSameProvince bool          `json:"allow_same_province"`
	Aspect            string        `json:"aspect" enum:"3:4,9:16,1:1"`
	Resolution        int           `json:"resolution" enum:"1024,1536"`
	Enhance           string        `json:"enhance" enum:"off,creative,balanced,precise"`
	Priority          string        `json:"priority" enum:"low,normal,high"`
	Budget            string        `json:"budget,omitempty"`
}

// ErrPoolNotLoaded answers while the element pool has no snapshot yet.
var ErrPoolNotLoaded = fault.New(fault.Unavailable, "pool_not_loaded", "The element pool is not loaded yet; try again shortly.")

// CheckPreset validates settings with the checks Submit applies to a batch
// request (normalize, the budget rule, the planner's group count and
// filters), without planning, and returns them with the defaults filled
// in (a manual county resolved to its code). Checks that depend on the
// user's history (a manual combination generated before) can only happen
// at submit.
func (p *Pipeline) CheckPreset(c Caller, s PresetSettings) (PresetSettings, error) {
	req := SubmitRequest{Mode: s.Mode, Groups: s.Groups, Manual: s.Manual, Filters: s.Filters, AllowSameProvince: s.AllowSameProvince,
		Aspect: s.Aspect, Resolution: s.Resolution, Enhance: s.Enhance, Priority: s.Priority, Budget: s.Budget}
	prm, err := req.normalize(c)
	if err != nil {
		return s, err
	}
	if _, err := parseCap(req.Budget); err != nil {
		return s, err
	}
	out := PresetSettings{Mode: req.Mode, AllowSameProvince: req.AllowSameProvince, Aspect: prm.Aspect, Resolution: prm.Resolution,
		Enhance: prm.Enhance, Priority: prm.Priority, Budget: req.Budget}
	snap := p.d.Pool.Current()
	if snap == nil {
		return s, ErrPoolNotLoaded
	}
	if req.Mode == "manual" {
		m := req.Manual
		c, err := p.d.Planner.CheckManual(snap, plan.ManualRequest{County: m.County, Month: m.Month, Road: m.Road, Elements: m.Elements})
		if err != nil {
			return s, err
		}
		out.Manual = &ManualSpec{County: c.CountyCode, Month: c.Month, Road: c.Road, Elements: c.Elements}
		return out, nil
	}
	if req.Groups < 1 || req.Groups > plan.MaxGroups {
		return s, plan.ErrBadGroups.With("groups", req.Groups)
	}
	f := plan.Filters{}
	if req.Filters != nil {
		f = *req.Filters
	}
	if f, err = p.d.Planner.CheckFilters(snap, f); err != nil {
		return s, err
	}
	out.Groups, out.Filters = req.Groups, &f
	return out, nil
}
