package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/imaging"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/zipstream"
)

// BatchDeps are what the batch routes need.
type BatchDeps struct {
	Pipeline *pipeline.Pipeline
	Blobs    blob.Store
	Signer   signedurl.Signer
	// Location is LUDENG_TIMEZONE (days of usage, zip timestamps).
	Location *time.Location
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

func imageURLs(im *store.Image) map[string]string {
	if im.ResultKey == "" {
		return map[string]string{}
	}
	return contentURLs(im.ID)
}

// contentURLs are an image's content links by size.
func contentURLs(imageID string) map[string]string {
	base := "/api/v1/images/" + imageID + "/content"
	return map[string]string{"thumb": base + "?size=thumb", "preview": base + "?size=preview", "full": base + "?size=full"}
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
		// conc at a time at the mean duration seen so far (30 s default).
		per := 30 * time.Second
		if b.StartedAt != nil && done > 0 {
			per = max(time.Since(*b.StartedAt)/time.Duration(done)*time.Duration(min(conc, len(imgs))), time.Second)
		}
		left := int64(len(imgs)-done) + ahead
		v["eta_seconds"] = int64((time.Duration(left) * per / time.Duration(conc)).Seconds())
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
	for _, st := range strings.Split(q.Get("status"), ",") {
		if st = strings.TrimSpace(st); st != "" {
			f.Statuses = append(f.Statuses, st)
		}
	}
	for _, k := range []string{"province", "county", "road", "q"} {
		if v := q.Get(k); v != "" {
			f.Text = v
		}
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

// viewer resolves a session/token user or a signed link.
func (a *batchAPI) viewer(r *http.Request) (*store.User, error) {
	q := r.URL.Query()
	if signedurl.Present(q) {
		uid, err := a.d.Signer.Verify(r.URL.Path, q)
		if err != nil {
			return nil, err
		}
		u, err := a.s.db.UserByID(r.Context(), uid)
		if err != nil || u.Disabled {
			return nil, signedurl.ErrInvalid
		}
		return u, nil
	}
	p, err := a.s.resolve(r)
	if err != nil {
		return nil, err
	}
	return p.User, nil
}

func (a *batchAPI) download(w http.ResponseWriter, r *http.Request) error {
	viewer, err := a.viewer(r)
	if err != nil {
		return err
	}
	b, err := a.s.db.BatchByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if viewer.ID != b.UserID && !viewer.IsAdmin() {
		return store.ErrBatchNotFound
	}
	gid := r.PathValue("gid")
	groups, err := a.s.db.GroupsOf(r.Context(), b.ID)
	if err != nil {
		return err
	}
	imgs, err := a.s.db.ImagesOf(r.Context(), b.ID)
	if err != nil {
		return err
	}
	var pl plan.Plan
	_ = json.Unmarshal(b.Plan, &pl)
	folder := map[string]string{}
	found := gid == ""
	for _, g := range groups {
		found = found || g.ID == gid
		var sc plan.Scene
		_ = json.Unmarshal(g.Scene, &sc)
		var cmb plan.Combination
		_ = json.Unmarshal(g.Combination, &cmb)
		folder[g.ID] = zipstream.FolderName(g.Index+1, sc.Province+sc.County, strconv.Itoa(cmb.Month)+"月", sc.Road.ZH)
	}
	if !found {
		return store.ErrNotFound
	}
	manifest := &zipstream.Manifest{Columns: []string{"group", "folder", "file", "county", "province", "month", "road", "elements", "variant", "prompt_source", "prompt"},
		Meta: map[string]any{"batch_id": b.ID, "status": b.Status, "seed": b.Seed, "plan": pl}}
	var entries []zipstream.Entry
	for _, im := range imgs {
		if im.Status != store.ImageSucceeded || (gid != "" && im.GroupID != gid) {
			continue
		}
		var v struct{ ID string }
		_ = json.Unmarshal(im.Variant, &v)
		ext := ".jpg"
		if im.MIME == "image/png" {
			ext = ".png"
		}
		name := strconv.Itoa(im.Index+1) + "_" + zipstream.SafeName(v.ID) + ext
		key, size := im.ResultKey, im.Bytes
		entries = append(entries, zipstream.Entry{Path: folder[im.GroupID] + "/" + name, Size: size, Modified: im.UpdatedAt,
			Open: func() (io.ReadCloser, error) {
				rc, _, err := a.d.Blobs.Get(r.Context(), key)
				return rc, err
			}})
		var sc plan.Scene
		var cmb plan.Combination
		for _, g := range groups {
			if g.ID == im.GroupID {
				_ = json.Unmarshal(g.Scene, &sc)
				_ = json.Unmarshal(g.Combination, &cmb)
				manifest.Rows = append(manifest.Rows, []string{strconv.Itoa(g.Index + 1), folder[g.ID], name, sc.County, sc.Province,
					strconv.Itoa(cmb.Month), sc.Road.ZH, strings.Join(cmb.Elements, "+"), v.ID, im.PromptSource, im.Prompt})
			}
		}
	}
	fname := "ludeng_" + b.ID + ".zip"
	if gid != "" {
		fname = "ludeng_" + b.ID + "_" + gid + ".zip"
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fname}))
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	if err := zipstream.Write(r.Context(), w, entries, zipstream.Options{Manifest: manifest, Location: a.d.Location}); err != nil {
		// Headers are sent: abort the connection so the client sees a failed download.
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (a *batchAPI) link(w http.ResponseWriter, r *http.Request) error {
	b, err := a.own(r)
	if err != nil {
		return err
	}
	var req struct {
		ExpiresIn string `json:"expires_in"`
		GroupID   string `json:"group_id"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ttl := 24 * time.Hour
	if req.ExpiresIn != "" {
		if ttl, err = config.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 || ttl > signedurl.MaxLifetime {
			return fault.New(fault.Invalid, "bad_expires_in", "expires_in must be a duration between 1s and 30d, such as 24h or 7d.")
		}
	}
	path := "/api/v1/batches/" + b.ID + "/download"
	if req.GroupID != "" {
		path = "/api/v1/batches/" + b.ID + "/groups/" + req.GroupID + "/download"
	}
	q, exp := a.d.Signer.Sign(path, "", UserFrom(r.Context()).ID, ttl)
	link := path + "?" + q.Encode()
	if a.s.cfg.BaseURL != "" {
		link = a.s.cfg.BaseURL + link
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"url": link, "expires_at": exp.UTC()})
}

func (a *batchAPI) imageContent(w http.ResponseWriter, r *http.Request) error {
	viewer, err := a.viewer(r)
	if err != nil {
		return err
	}
	im, err := a.s.db.ImageByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if viewer.ID != im.UserID && !viewer.IsAdmin() {
		return store.ErrNotFound
	}
	if im.ResultKey == "" {
		return fault.New(fault.NotFound, "image_not_ready", "The image has no result yet.")
	}
	key, ctype := im.ResultKey, im.MIME
	switch size := r.URL.Query().Get("size"); size {
	case "", "full":
	case "thumb", "preview":
		key = strings.TrimSuffix(key, extOf(key)) + "." + size + ".jpg"
		ctype = "image/jpeg"
	default:
		return fault.New(fault.Invalid, "bad_size", "size must be thumb, preview or full.").With("allowed", []string{"thumb", "preview", "full"})
	}
	rc, _, err := a.d.Blobs.Get(r.Context(), key)
	if errors.Is(err, blob.ErrNotFound) && key != im.ResultKey {
		// Thumbnail and preview are made on first request.
		if err = a.makeVariants(r.Context(), im.ResultKey); err == nil {
			rc, _, err = a.d.Blobs.Get(r.Context(), key)
		}
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("ETag", `"`+im.ID+"-"+r.URL.Query().Get("size")+`"`)
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, rc)
	return nil
}

func (a *batchAPI) history(w http.ResponseWriter, r *http.Request) error {
	limit, _, err := pageParams(r, 50, 500)
	if err != nil {
		return err
	}
	f := store.HistoryFilter{Cursor: r.URL.Query().Get("cursor"), Limit: limit}
	if s := r.URL.Query().Get("state"); s != "" {
		f.States = strings.Split(s, ",")
	}
	rows, next, err := a.s.db.ListHistory(r.Context(), UserFrom(r.Context()).ID, f)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []*store.HistoryRow{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": rows, "next_cursor": next})
}

func (a *batchAPI) archive(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Before *time.Time `json:"before"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	before := a.s.now()
	if req.Before != nil {
		before = *req.Before
	}
	var n int64
	err := a.s.db.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		n, err = a.s.db.ArchiveHistory(r.Context(), tx, UserFrom(r.Context()).ID, before)
		return err
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"archived": n})
}

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
	items := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		items = append(items, map[string]any{"day": k.day, "provider": k.provider, "cost": a.money(agg[k][0]), "images": agg[k][1]})
	}
	out := map[string]any{"items": items, "spent_today": a.money(spentDay), "spent_this_month": a.money(spentMonth)}
	if u.DailyBudgetMicros != nil {
		out["remaining_today"] = a.money(max(*u.DailyBudgetMicros-spentDay, 0))
	}
	if u.MonthlyBudgetMicros != nil {
		out["remaining_this_month"] = a.money(max(*u.MonthlyBudgetMicros-spentMonth, 0))
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
	out := map[string]any{"user_id": u.ID, "daily": nil, "monthly": nil}
	if u.DailyBudgetMicros != nil {
		out["daily"] = a.money(*u.DailyBudgetMicros)
	}
	if u.MonthlyBudgetMicros != nil {
		out["monthly"] = a.money(*u.MonthlyBudgetMicros)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *batchAPI) queue(pause bool) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var err error
		if pause {
			err = a.d.Pipeline.PauseQueue(r.Context())
		} else {
			err = a.d.Pipeline.ResumeQueue(r.Context())
		}
		if err != nil {
			return err
		}
		_ = a.s.audit(r, nil, map[bool]string{true: "queue.pause", false: "queue.resume"}[pause], "queue", "generate", nil)
		return writeJSON(w, http.StatusOK, map[string]any{"queue": "generate", "paused": pause})
	}
}

// makeVariants stores <result>.thumb.jpg and <result>.preview.jpg beside a result.
func (a *batchAPI) makeVariants(ctx context.Context, resultKey string) error {
	rc, _, err := a.d.Blobs.Get(ctx, resultKey)
	if err != nil {
		return err
	}
	img, _, err := imaging.DecodeAny(rc, 64<<20)
	rc.Close()
	if err != nil {
		return fmt.Errorf("decode result: %w", err)
	}
	v, err := imaging.MakeVariants(img)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(resultKey, extOf(resultKey))
	if _, err := a.d.Blobs.Put(ctx, base+"."+blob.VariantThumb, bytes.NewReader(v.Thumb)); err != nil {
		return err
	}
	_, err = a.d.Blobs.Put(ctx, base+"."+blob.VariantPreview, bytes.NewReader(v.Preview))
	return err
}

// EnableRiverUI mounts River UI (riverqueue.com/riverui, its handler built
// with Prefix "/riverui") at /riverui/ for admins only.
func (s *Server) EnableRiverUI(h http.Handler) {
	serve := func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
	s.AddRoutes(
		Route{Method: "GET", Path: "/riverui/", Access: AdminOnly, Handle: serve, NoRateLimit: true},
		Route{Method: "POST", Path: "/riverui/", Access: AdminOnly, Handle: serve, NoRateLimit: true},
	)
}
