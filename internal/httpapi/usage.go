package httpapi

import (
	"net/http"
	"time"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store"
)

func (a *batchAPI) usage(w http.ResponseWriter, r *http.Request) error {
	var since *time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return fault.New(fault.Invalid, "bad_time", "since must be an RFC 3339 time.")
		}
		since = &t
	}
	out, err := a.views.Usage(r.Context(), UserFrom(r.Context()), since)
	if err != nil {
		return err
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
