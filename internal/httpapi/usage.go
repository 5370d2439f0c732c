package httpapi

import (
	"net/http"
	"sort"
	"time"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store"
)

func (a *batchAPI) usage(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	loc := a.d.Location
	now := a.s.now().In(loc)
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	since := month
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return fault.New(fault.Invalid, "bad_time", "since must be an RFC 3339 time.")
		}
		since = t
	}
	from := month
	if since.Before(from) {
		from = since
	}
	rows, err := a.s.db.UsageRows(r.Context(), u.ID, from)
	if err != nil {
		return err
	}
	type key struct{ day, provider string }
	agg := map[key]*[2]int64{}
	var spentDay, spentMonth int64
	for _, row := range rows {
		t := row.At.In(loc)
		if !t.Before(day) {
			spentDay += row.CostMicros
		}
		if !t.Before(month) {
			spentMonth += row.CostMicros
		}
		if t.Before(since) {
			continue
		}
		k := key{t.Format("2006-01-02"), row.Provider}
		if agg[k] == nil {
			agg[k] = &[2]int64{}
		}
		agg[k][0] += row.CostMicros
		agg[k][1] += row.Images
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
	items := make([]batchview.UsageRow, 0, len(keys))
	for _, k := range keys {
		items = append(items, batchview.UsageRow{Day: k.day, Provider: k.provider, Cost: a.money(agg[k][0]), Images: agg[k][1]})
	}
	out := batchview.Usage{Items: items, SpentToday: a.money(spentDay), SpentThisMonth: a.money(spentMonth)}
	if u.DailyBudgetMicros != nil {
		m := a.money(max(*u.DailyBudgetMicros-spentDay, 0))
		out.RemainingToday = &m
	}
	if u.MonthlyBudgetMicros != nil {
		m := a.money(max(*u.MonthlyBudgetMicros-spentMonth, 0))
		out.RemainingThisMonth = &m
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *batchAPI) setBudget(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Daily   *string `json:"daily"`
		Monthly *string `json:"monthly"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	parse := func(field string, v *string) (*int64, error) {
		if v == nil || *v == "" {
			return nil, nil
		}
		m, err := pipeline.ParseMoney(*v)
		if err != nil {
			return nil, fault.Newf(fault.Invalid, "bad_budget", "%s must be a decimal amount such as 20 or 12.50 (empty removes it).", field).With("field", field)
		}
		return &m, nil
	}
	daily, err := parse("daily", req.Daily)
	if err != nil {
		return err
	}
	monthly, err := parse("monthly", req.Monthly)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	var u *store.User
	err = a.s.db.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		if u, err = a.s.db.UpdateUser(r.Context(), tx, id, store.UserUpdate{DailyBudget: &daily, MonthBudget: &monthly}); err != nil {
			return err
		}
		return a.s.audit(r, tx, "user.budget", "user", id, map[string]any{"daily": req.Daily, "monthly": req.Monthly})
	})
	if err != nil {
		return err
	}
	out := batchview.Budget{UserID: u.ID}
	if u.DailyBudgetMicros != nil {
		m := a.money(*u.DailyBudgetMicros)
		out.Daily = &m
	}
	if u.MonthlyBudgetMicros != nil {
		m := a.money(*u.MonthlyBudgetMicros)
		out.Monthly = &m
	}
	return writeJSON(w, http.StatusOK, out)
}
