package batchview

import (
	"context"
	"sort"
	"time"

	"github.com/ludeng/ludeng/internal/store"
)

// Usage is GET /api/v1/usage for u: spend per day (in the configured time
// zone) and provider since since (nil: the start of this month), and
// today's and this month's totals against u's budgets.
func (r *Reader) Usage(ctx context.Context, u *store.User, since *time.Time) (Usage, error) {
	p := usagePeriod(r.now(), r.loc, since)
	rows, err := r.db.UsageRows(ctx, u.ID, p.from())
	if err != nil {
		return Usage{}, err
	}
	return sumUsage(rows, p, r.money, u.DailyBudgetMicros, u.MonthlyBudgetMicros), nil
}

// period is what usage sums over: the current day and month (which the
// budgets count) and the start of the per-day rows.
type period struct {
	loc               *time.Location
	day, month, since time.Time
}

func usagePeriod(now time.Time, loc *time.Location, since *time.Time) period {
	now = now.In(loc)
	p := period{loc: loc,
		month: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc),
		day:   time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)}
	p.since = p.month
	if since != nil {
		p.since = *since
	}
	return p
}

// from is the earliest row needed: the month's totals need the whole
// month even when the rows start later.
func (p period) from() time.Time {
	if p.since.Before(p.month) {
		return p.since
	}
	return p.month
}

func sumUsage(rows []store.UsageRow, p period, money func(int64) Money, dailyBudget, monthlyBudget *int64) Usage {
	type key struct{ day, provider string }
	type sum struct{ cost, images int64 }
	agg := map[key]*sum{}
	var spentDay, spentMonth int64
	for _, row := range rows {
		t := row.At.In(p.loc)
		if !t.Before(p.day) {
			spentDay += row.CostMicros
		}
		if !t.Before(p.month) {
			spentMonth += row.CostMicros
		}
		if t.Before(p.since) {
			continue
		}
		k := key{t.Format("2006-01-02"), row.Provider}
		if agg[k] == nil {
			agg[k] = &sum{}
		}
		agg[k].cost += row.CostMicros
		agg[k].images += row.Images
	}
	keys := make([]key, 0, len(agg))
	for k := range agg {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].day != keys[j].day {
			return keys[i].day < keys[j].day
		}
		return keys[i].provider < keys[j].provider
	})
	items := make([]UsageRow, 0, len(keys))
	for _, k := range keys {
		items = append(items, UsageRow{Day: k.day, Provider: k.provider, Cost: money(agg[k].cost), Images: agg[k].images})
	}
	out := Usage{Items: items, SpentToday: money(spentDay), SpentThisMonth: money(spentMonth)}
	if dailyBudget != nil {
		m := money(max(*dailyBudget-spentDay, 0))
		out.RemainingToday = &m
	}
	if monthlyBudget != nil {
		m := money(max(*monthlyBudget-spentMonth, 0))
		out.RemainingThisMonth = &m
	}
	return out
}
