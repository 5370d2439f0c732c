package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/store"
)

// BatchDeps are what the batch routes need.
type BatchDeps struct {
	Pipeline *pipeline.Pipeline
	Blobs    blob.Store
	Signer   signedurl.Signer
	// Location is LUDENG_TIMEZONE (days of usage, zip timestamps).
	Location *time.Location
	// Presign, when set, turns image downloads into a 302 to a short-lived
	// direct URL of the object store, after ludeng's own access check
	// (LUDENG_BLOB_S3_REDIRECT).
	Presign func(ctx context.Context, key, contentType string) (string, error)
}

type batchAPI struct {
	s     *Server
	d     BatchDeps
	views *batchview.Reader
}

func newBatchAPI(s *Server, d BatchDeps) *batchAPI {
	if d.Location == nil {
		d.Location = time.UTC
	}
	a := &batchAPI{s: s, d: d}
	a.views = batchview.New(s.db, batchview.Options{Now: s.now, Money: a.money, Concurrency: d.Pipeline.Config().Concurrency,
		Location: d.Location})
	return a
}

func (a *batchAPI) money(m int64) batchview.Money {
	return batchview.Money{Amount: pipeline.FormatMoney(m), Currency: a.s.cfg.Currency}
}

func (a *batchAPI) create(w http.ResponseWriter, r *http.Request) error {
	var req pipeline.SubmitRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u := UserFrom(r.Context())
	res, err := a.d.Pipeline.Submit(r.Context(), pipeline.Caller{UserID: u.ID, IsAdmin: u.IsAdmin()}, req)
	if err != nil {
		return err
	}
	per := a.money(res.Estimate.PerImage)
	est := batchview.Estimate{Images: res.Estimate.Images, PerImage: &per, Total: a.money(res.Estimate.TotalMicros)}
	if res.Batch == nil {
		return writeJSON(w, http.StatusOK, batchview.DryRun{DryRun: true, Plan: *res.Plan, Estimate: est})
	}
	_ = a.s.audit(r, nil, "batch.create", "batch", res.Batch.ID, map[string]any{"mode": res.Batch.Mode, "groups": len(res.Plan.Groups)})
	view, err := a.view(r.Context(), res.Batch)
	if err != nil {
		return err
	}
	view.Estimate = est
	w.Header().Set("Location", "/api/v1/batches/"+res.Batch.ID)
	return writeJSON(w, http.StatusAccepted, view)
}

// own loads a batch the caller may see.
func (a *batchAPI) own(r *http.Request) (*store.Batch, error) {
	b, err := a.s.db.BatchByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !CanSee(r.Context(), b.UserID) {
		return nil, store.ErrBatchNotFound
	}
	return b, nil
}

// view is the batch as GET /api/v1/batches/{id} shows it: the read model's
// view with the picking fields (stars, notes, versions, names) on top.
func (a *batchAPI) view(ctx context.Context, b *store.Batch) (*batchview.Batch, error) {
	v, rows, err := a.views.View(ctx, b)
	if err != nil {
		return nil, err
	}
	if err := a.views.Decorate(ctx, b, v, rows); err != nil {
		return nil, err
	}
	return v, nil
}

func (a *batchAPI) get(w http.ResponseWriter, r *http.Request) error {
	b, err := a.own(r)
	if err != nil {
		return err
	}
	v, err := a.view(r.Context(), b)
	if err != nil {
		return err
	}
	return writeJSONTagged(w, r, v)
}

func (a *batchAPI) list(w http.ResponseWriter, r *http.Request) error {
	limit, _, err := pageParams(r, 50, 200)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.BatchFilter{UserID: UserFrom(r.Context()).ID, Mode: q.Get("mode"), Cursor: q.Get("cursor"), Limit: limit}
	// status=running,paused: any of several states.
	if f.Statuses, err = listFilter(q, "status"); err != nil {
		return err
	}
	// Every filter given narrows the list (they used to overwrite one another).
	for _, k := range []string{"province", "county", "road", "q"} {
		if v := q.Get(k); v != "" {
			f.Texts = append(f.Texts, v)
		}
	}
	switch q.Get("archived") {
	case "true":
		f.Archived = new(bool)
		*f.Archived = true
	case "false":
		f.Archived = new(bool)
	case "", "all":
	default:
		return fault.New(fault.Invalid, "bad_archived", "archived must be true, false or all.")
	}
	if v := q.Get("month"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 || m > 12 {
			return fault.New(fault.Invalid, "bad_month", "month must be 1 to 12.")
		}
		f.Texts = append(f.Texts, `"month":`+strconv.Itoa(m)+`,`)
	}
	for k, dst := range map[string]**time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(k); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fault.Newf(fault.Invalid, "bad_time", "%s must be an RFC 3339 time.", k)
			}
			*dst = &t
		}
	}
	list, next, err := a.s.db.ListBatches(r.Context(), f)
	if err != nil {
		return err
	}
	items, err := a.views.Summaries(r.Context(), list)
	if err != nil {
		return err
	}
	if err := a.views.Label(r.Context(), items); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, batchview.SummaryPage{Items: items, NextCursor: next})
}

func (a *batchAPI) delete(w http.ResponseWriter, r *http.Request) error {
	b, err := a.own(r)
	if err != nil {
		return err
	}
	if err := a.d.Pipeline.Delete(r.Context(), b.ID); err != nil {
		return err
	}
	a.views.Forget(b.ID)
	_ = a.s.audit(r, nil, "batch.delete", "batch", b.ID, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *batchAPI) control(op string) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		b, err := a.own(r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		p := a.d.Pipeline
		switch op {
		case "cancel":
			err = p.Cancel(ctx, b.ID)
		case "pause":
			err = p.Pause(ctx, b.ID)
		case "resume":
			err = p.Resume(ctx, b.ID)
		case "retry":
			err = p.Retry(ctx, b.ID, "")
		case "retry_group":
			gid := r.PathValue("gid")
			gs, gerr := a.s.db.GroupsOf(ctx, b.ID)
			if gerr != nil {
				return gerr
			}
			found := false
			for _, g := range gs {
				found = found || g.ID == gid
			}
			if !found {
				return store.ErrNotFound
			}
			err = p.Retry(ctx, b.ID, gid)
		}
		if err != nil {
			return err
		}
		_ = a.s.audit(r, nil, "batch."+op, "batch", b.ID, nil)
		nb, err := a.s.db.BatchByID(ctx, b.ID)
		if err != nil {
			return err
		}
		v, err := a.view(ctx, nb)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, v)
	}
}

func (a *batchAPI) rerun(w http.ResponseWriter, r *http.Request) error {
	b, err := a.own(r)
	if err != nil {
		return err
	}
	u := UserFrom(r.Context())
	res, err := a.d.Pipeline.Rerun(r.Context(), pipeline.Caller{UserID: u.ID, IsAdmin: u.IsAdmin()}, b.ID)
	if err != nil {
		return err
	}
	v, err := a.view(r.Context(), res.Batch)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/batches/"+res.Batch.ID)
	return writeJSON(w, http.StatusAccepted, v)
}

func (a *batchAPI) events(w http.ResponseWriter, r *http.Request) error {
	b, err := a.own(r)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	evs, err := a.s.db.EventsAfter(r.Context(), b.ID, after, 1000)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, batchview.EventPage{Items: evs, LastSeq: b.EventSeq})
}
