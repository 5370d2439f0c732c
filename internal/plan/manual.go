package plan

import (
	"context"
	"fmt"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pool"
)

// Manual validates one exact combination and returns a plan of one group. It
// never changes the choice: anything wrong is an error saying precisely what
// (unknown or ambiguous county with the candidates, unknown road or element,
// an element that does not fit and why, a repeat of history).
//
// History applies as in smart mode: the same combination, or one that
// differs from an earlier reserved or used one in a single dimension, is
// refused (the user may archive history to free it).
func (p *Planner) Manual(ctx context.Context, s *pool.Snapshot, req ManualRequest) (*Plan, error) {
	x := p.index(s)
	c, err := p.checkManual(x, req)
	if err != nil {
		return nil, err
	}
	loo := c.LOOKeys()
	bi, _, err := blocking(ctx, p.hist, req.UserID, [][Dimensions]string{loo})
	if err != nil {
		return nil, fmt.Errorf("checking history: %w", err)
	}
	if cf := bi.conflict(c.Key(), loo); cf != nil {
		return nil, historyError(x, c, cf)
	}
	groups, err := x.buildGroups(p.cfg, []Combination{c})
	if err != nil {
		return nil, err
	}
	return &Plan{
		Mode: "manual", PoolVersion: s.Version(), ConfigHash: p.cfg.Hash(),
		Filters: Filters{}.nonNil(), Groups: groups,
	}, nil
}

// checkManual is everything Manual checks before history: the county, the
// month, the road, the elements and whether they fit together.
func (p *Planner) checkManual(x *index, req ManualRequest) (Combination, error) {
	r, err := x.resolveCounty(req.County)
	if err != nil {
		return Combination{}, err
	}
	if req.Month < 1 || req.Month > 12 {
		return Combination{}, ErrBadMonth.With("month", req.Month)
	}
	if _, ok := x.roadIdx[req.Road]; !ok {
		return Combination{}, ErrUnknownRoad.With("road", req.Road).With("allowed", x.roads)
	}
	if len(req.Elements) == 0 {
		return Combination{}, ErrNoElements
	}
	c := Combination{CountyCode: r.Code, Month: req.Month, Road: req.Road, Elements: req.Elements}.Canonical()
	if len(c.Elements) > p.cfg.MaxElements {
		return Combination{}, ErrTooMany.With("max", p.cfg.MaxElements).With("count", len(c.Elements))
	}
	for _, id := range c.Elements {
		if _, ok := x.elemIdx[id]; !ok {
			return Combination{}, ErrUnknownElem.With("element", id)
		}
	}
	if err := c.Validate(); err != nil {
		return Combination{}, err
	}
	if err := x.checkPlausible(c); err != nil {
		return Combination{}, err
	}
	return c, nil
}

// CountyCandidate is a county offered when a name is ambiguous or unknown.
type CountyCandidate struct {
	Code       string `json:"code"`
	Name       string `json:"name"`
	Prefecture string `json:"prefecture"`
	Province   string `json:"province"`
	// Matched is what matched ("邢台县" for an alias), when not the name.
	Matched string `json:"matched,omitempty"`
}

func (x *index) candidate(r *pool.Region, matched string) CountyCandidate {
	c := CountyCandidate{Code: r.Code, Name: r.Name, Prefecture: r.Prefecture.Name}
	if p := x.snap.ProvinceOf(r); p != nil {
		c.Province = p.Name
	}
	if matched != r.Name {
		c.Matched = matched
	}
	return c
}

// resolveCounty accepts a current code, an old code or a name (pool.Resolve).
func (x *index) resolveCounty(q string) (*pool.Region, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, ErrUnknownCounty.With("county", q)
	}
	rs := x.snap.Resolve(q)
	switch len(rs) {
	case 1:
		return rs[0], nil
	case 0:
		var sugg []CountyCandidate
		for _, m := range x.snap.Search(q, 5) {
			sugg = append(sugg, x.candidate(m.Region, m.Text))
		}
		e := ErrUnknownCounty.With("county", q)
		if len(sugg) > 0 {
			e = e.With("suggestions", sugg)
			e.Detail = fmt.Sprintf("No county is called or coded %q. Did you mean %s?", q, candidateList(sugg))
		} else {
			e.Detail = fmt.Sprintf("No county is called or coded %q.", q)
		}
		return nil, e
	}
	cands := make([]CountyCandidate, len(rs))
	for i, r := range rs {
		cands[i] = x.candidate(r, r.Name)
	}
	e := ErrAmbiguousCounty.With("county", q).With("candidates", cands)
	e.Detail = fmt.Sprintf("%q matches %d counties: %s. Choose one by its code.", q, len(cands), candidateList(cands))
	return nil, e
}

func candidateList(cs []CountyCandidate) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s%s%s (%s)", c.Province, c.Prefecture, c.Name, c.Code)
	}
	return strings.Join(parts, ", ")
}

// UnfitElement says why an element does not fit a combination.
type UnfitElement struct {
	Element string        `json:"element"`
	Reasons []UnfitReason `json:"reasons"`
}

// UnfitReason is one fit rule an element breaks.
type UnfitReason struct {
	// Rule is "zone", "month", "road", "snow", "no_snow", "tag", "not_tag",
	// "province", "prefecture" or "temp" (see pool.Unfit).
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

var monthNamesEN = [13]string{"", "January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}

// unfitReasons lists the fit rules e breaks for region r, month and road
// (nil when it fits): the pool's place rules (zone, months, road, snow,
// tags, provinces, prefectures, temperature of the county's month).
func (x *index) unfitReasons(e *pool.Element, r *pool.Region, month int, road string) []UnfitReason {
	var out []UnfitReason
	for _, u := range x.snap.Unfit(e, r, month, road) {
		out = append(out, UnfitReason{Rule: u.Rule, Detail: u.Detail})
	}
	if len(out) == 0 && !x.snap.FitsRegion(e.ID, r.Code, month, road) && x.snap.RoadUnfit(road, r) == nil {
		// Defensive: the pool's fit table and the rules above disagree.
		out = append(out, UnfitReason{"fit", fmt.Sprintf("%s does not fit %s in %s on %s", e.ID, r.Name, monthNamesEN[month], road)})
	}
	return out
}

func unfitError(r *pool.Region, c Combination, unfit []UnfitElement) *fault.Error {
	var parts []string
	for _, u := range unfit {
		for _, reason := range u.Reasons {
			parts = append(parts, reason.Detail)
		}
	}
	e := ErrElementUnfit.With("county", r.Code).With("month", c.Month).With("road", c.Road).With("unfit", unfit)
	e.Detail = "Scene elements do not fit: " + strings.Join(parts, "; ") + "."
	return e
}

// historyError describes how history blocks combination c.
func historyError(x *index, c Combination, cf *Conflict) *fault.Error {
	when := cf.Entry.CreatedAt.UTC().Format("2006-01-02")
	ref := ""
	if cf.Entry.BatchID != "" {
		ref = " (batch " + cf.Entry.BatchID + ")"
	}
	var e *fault.Error
	if cf.Identical {
		e = ErrRepeatsHistory.With("created_at", cf.Entry.CreatedAt.UTC())
		e.Detail = fmt.Sprintf("This combination was already generated on %s%s. Archive that history to generate it again.", when, ref)
	} else {
		e = ErrNearHistory.With("created_at", cf.Entry.CreatedAt.UTC()).With("dimension", cf.Dimension.String()).
			With("earlier", cf.Entry.Combination)
		e.Detail = fmt.Sprintf("This combination differs from the one generated on %s%s only in its %s (%s). Change one more of county, month, road or elements, or archive that history.",
			when, ref, cf.Dimension, describeDim(x, cf.Entry.Combination, cf.Dimension))
	}
	if cf.Entry.BatchID != "" {
		e = e.With("batch_id", cf.Entry.BatchID)
	}
	if cf.Entry.GroupID != "" {
		e = e.With("group_id", cf.Entry.GroupID)
	}
	return e.With("key", c.Key())
}

// describeDim names the earlier value of a dimension ("earlier: 信都区").
func describeDim(x *index, c Combination, d Dimension) string {
	switch d {
	case DimRegion:
		if r, err := x.snap.Region(c.CountyCode); err == nil {
			return "earlier: " + r.Name
		}
		return "earlier: " + c.CountyCode
	case DimMonth:
		return "earlier: " + monthNamesEN[c.Month]
	case DimRoad:
		return "earlier: " + c.Road
	}
	return "earlier: " + strings.Join(c.Elements, ", ")
}
