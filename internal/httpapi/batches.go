package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/provider"
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
	s *Server
	d BatchDeps
}

// EnableBatches registers the batch, image, history, usage and budget routes.
func (s *Server) EnableBatches(d BatchDeps) {
	if d.Location == nil {
		d.Location = time.UTC
	}
	a := &batchAPI{s: s, d: d}
	s.batches = a
	s.AddRoutes(
		Route{Method: "POST", Path: "/api/v1/batches", Access: Authenticated, Handle: a.create},
		Route{Method: "GET", Path: "/api/v1/batches", Access: Authenticated, Handle: a.list},
		Route{Method: "GET", Path: "/api/v1/batches/{id}", Access: Authenticated, Handle: a.get},
		Route{Method: "DELETE", Path: "/api/v1/batches/{id}", Access: Authenticated, Handle: a.delete},
		Route{Method: "POST", Path: "/api/v1/batches/{id}/cancel", Access: Authenticated, Handle: a.control("cancel")},
		Route{Method: "POST", Path: "/api/v1/batches/{id}/pause", Access: Authenticated, Handle: a.control("pause")},
		Route{Method: "POST", Path: "/api/v1/batches/{id}/resume", Access: Authenticated, Handle: a.control("resume")},
		Route{Method: "POST", Path: "/api/v1/batches/{id}/retry", Access: Authenticated, Handle: a.control("retry")},
		Route{Method: "POST", Path: "/api/v1/batches/{id}/groups/{gid}/retry", Access: Authenticated, Handle: a.control("retry_group")},
		Route{Method: "POST", Path: "/api/v1/batches/{id}/rerun", Access: Authenticated, Handle: a.rerun},
		Route{Method: "GET", Path: "/api/v1/batches/{id}/events", Access: Authenticated, Handle: a.events},
		// Public at the routing level: the handler accepts a session, a token or a signed link.
		Route{Method: "GET", Path: "/api/v1/batches/{id}/download", Access: Public, Handle: a.download, LongLived: true},
		Route{Method: "GET", Path: "/api/v1/batches/{id}/groups/{gid}/download", Access: Public, Handle: a.download, LongLived: true},
		Route{Method: "POST", Path: "/api/v1/batches/{id}/links", Access: Authenticated, Handle: a.link},
		Route{Method: "GET", Path: "/api/v1/images/{id}/content", Access: Public, Handle: a.imageContent, LongLived: true},
		Route{Method: "GET", Path: "/api/v1/history", Access: Authenticated, Handle: a.history},
		Route{Method: "POST", Path: "/api/v1/history/archive", Access: Authenticated, Handle: a.archive},
		Route{Method: "GET", Path: "/api/v1/usage", Access: Authenticated, Handle: a.usage},
		Route{Method: "PUT", Path: "/api/v1/admin/users/{id}/budget", Access: AdminOnly, Handle: a.setBudget},
		Route{Method: "POST", Path: "/api/v1/admin/queue/pause", Access: AdminOnly, Handle: a.queue(true)},
		Route{Method: "POST", Path: "/api/v1/admin/queue/resume", Access: AdminOnly, Handle: a.queue(false)},
	)
	s.AddRoutes(a.pickingRoutes()...)
}

func (a *batchAPI) money(m int64) map[string]any {
	return map[string]any{"amount": pipeline.FormatMoney(m), "currency": a.s.cfg.Currency}
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
	est := map[string]any{"images": res.Estimate.Images, "per_image": a.money(res.Estimate.PerImage), "total": a.money(res.Estimate.TotalMicros)}
	if res.Batch == nil {
		return writeJSON(w, http.StatusOK, map[string]any{"dry_run": true, "plan": res.Plan, "estimate": est})
	}
	_ = a.s.audit(r, nil, "batch.create", "batch", res.Batch.ID, map[string]any{"mode": res.Batch.Mode, "groups": len(res.Plan.Groups)})
	view, err := a.view(r.Context(), res.Batch)
	if err != nil {
		return err
	}
	view["estimate"] = est
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

func (a *batchAPI) get(w http.ResponseWriter, r *http.Request) error {
	b, err := a.own(r)
	if err != nil {
		return err
	}
	v, err := a.view(r.Context(), b)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// view is the batch as GET /api/v1/batches/{id} shows it.
func (a *batchAPI) view(ctx context.Context, b *store.Batch) (map[string]any, error) {
	groups, err := a.s.db.GroupsOf(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	imgs, err := a.s.db.ImagesOf(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	var pl plan.Plan
	_ = json.Unmarshal(b.Plan, &pl)
	byGroup := map[string][]map[string]any{}
	counts := map[string]int{}
	reasons := map[string]int{}
	rejects := map[string]int{}
	var cost int64
	for _, im := range imgs {
		counts[im.Status]++
		if im.Reason != "" && im.Status != store.ImageSucceeded {
			reasons[im.Reason]++
		}
		cost += im.CostMicros
		var qcs []struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(im.QC, &qcs)
		for _, q := range qcs {
			rejects[q.Reason]++
		}
		byGroup[im.GroupID] = append(byGroup[im.GroupID], map[string]any{
			"id": im.ID, "index": im.Index, "status": im.Status, "variant": json.RawMessage(im.Variant),
			"prompt_source": im.PromptSource, "reason": im.Reason, "qc_tries": im.QCTries, "qc": json.RawMessage(im.QC),
			"width": im.Width, "height": im.Height, "provider": im.Provider, "urls": imageURLs(im),
		})
	}
	gs := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		gi := byGroup[g.ID]
		if gi == nil {
			gi = []map[string]any{}
		}
		gs = append(gs, map[string]any{"id": g.ID, "index": g.Index, "key": g.Key, "status": g.Status,
			"combination": json.RawMessage(g.Combination), "scene": json.RawMessage(g.Scene), "images": gi,
			"download": "/api/v1/batches/" + b.ID + "/groups/" + g.ID + "/download"})
	}
	done := counts[store.ImageSucceeded] + counts[store.ImageFailed] + counts[store.ImageCancelled]
	spent, err := a.s.db.BatchSpent(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	var params map[string]any
	_ = json.Unmarshal(b.Params, &params)
	delete(params, "snow")
	v := map[string]any{
		"id": b.ID, "status": b.Status, "mode": b.Mode, "seed": b.Seed, "upload_id": b.UploadID, "message": b.Message,
		"params": params, "created_at": b.CreatedAt, "updated_at": b.UpdatedAt, "started_at": b.StartedAt, "finished_at": b.FinishedAt,
		"groups":    gs,
		"progress":  map[string]any{"done": done, "total": len(imgs), "succeeded": counts[store.ImageSucceeded], "failed": counts[store.ImageFailed]},
		"estimate":  map[string]any{"images": len(imgs), "total": a.money(b.EstimateMicros)},
		"cost":      a.money(spent),
		"report":    map[string]any{"counts": counts, "reasons": reasons, "qc_rejects": rejects},
		"event_seq": b.EventSeq, "pool_version": pl.PoolVersion,
		"download": "/api/v1/batches/" + b.ID + "/download",
	}
	if b.CapMicros != nil {
		v["budget"] = a.money(*b.CapMicros)
	}
	if !store.BatchTerminal(b.Status) {
		ahead, err := a.s.db.QueuedAhead(ctx, b)
		if err != nil {
			return nil, err
		}
		v["queue_position"] = ahead
		conc := a.d.Pipeline.Config().Concurrency
		// ETA: the images ahead and the batch's own remaining ones, run
		// conc at a time at the mean duration seen so far; before the first
		// image, at the median of the user's recent calls (30 s when none).
		per := 30 * time.Second
		if d, n, err := a.s.db.RecentCallLatency(ctx, b.UserID, provider.OpGenerate); err == nil && n > 0 {
			per = max(d, time.Second)
		}
		if b.StartedAt != nil && done > 0 {
			per = max(time.Since(*b.StartedAt)/time.Duration(done)*time.Duration(min(conc, len(imgs))), time.Second)
		}
		left := int64(len(imgs)-done) + ahead
		v["eta_seconds"] = int64((time.Duration(left) * per / time.Duration(conc)).Seconds())
	}
	if err := a.decorateView(ctx, b, v); err != nil {
		return nil, err
	}
	return v, nil
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
	for _, k := range []string{"province", "county", "road", "q"} {
		if v := q.Get(k); v != "" {
			f.Text = v
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
		f.Text = `"month":` + v + `,`
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
	ids := make([]string, len(list))
	for i, b := range list {
		ids[i] = b.ID
	}
	progress, err := a.s.db.ProgressOf(r.Context(), ids)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(list))
	for _, b := range list {
		var pl plan.Plan
		_ = json.Unmarshal(b.Plan, &pl)
		scenes := make([]plan.Scene, 0, len(pl.Groups))
		for _, g := range pl.Groups {
			scenes = append(scenes, g.Scene)
		}
		items = append(items, map[string]any{"id": b.ID, "status": b.Status, "mode": b.Mode, "groups": len(pl.Groups),
			"scenes": scenes, "created_at": b.CreatedAt, "finished_at": b.FinishedAt, "estimate": a.money(b.EstimateMicros),
			"progress": progress[b.ID]})
	}
	if err := a.decorateList(r.Context(), items); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

func (a *batchAPI) delete(w http.ResponseWriter, r *http.Request) error {
	b, err := a.own(r)
	if err != nil {
		return err
	}
	if err := a.d.Pipeline.Delete(r.Context(), b.ID); err != nil {
		return err
	}
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
	return writeJSON(w, http.StatusOK, map[string]any{"items": evs, "last_seq": b.EventSeq})
}
