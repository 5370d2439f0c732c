package httpapi

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/zipstream"
)

// The operator's handlers after a batch (issue 17): names and archive,
// stars, selections, single-image downloads, regenerate and versions, post kits.

// MaxBatchNameRunes bounds a batch name (it becomes a zip file name).
const MaxBatchNameRunes = 60

// BatchLabelResponse is a batch's name and archive state.
type BatchLabelResponse struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Archived   bool       `json:"archived"`
	ArchivedAt *time.Time `json:"archived_at"`
}

func (a *batchAPI) patchBatch(w http.ResponseWriter, r *http.Request) error {
	b, err := a.own(r)
	if err != nil {
		return err
	}
	var req struct {
		Name     *string `json:"name"`
		Archived *bool   `json:"archived"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Name != nil {
		n := strings.Join(strings.Fields(*req.Name), " ")
		if utf8.RuneCountInString(n) > MaxBatchNameRunes || strings.ContainsAny(n, "\x00") {
			return fault.Newf(fault.Unprocessable, "batch_name_invalid", "A batch name is at most %d characters.", MaxBatchNameRunes).
				With("max", MaxBatchNameRunes)
		}
		req.Name = &n
	}
	err = a.s.db.InTx(r.Context(), func(tx *store.Tx) error {
		if req.Name != nil {
			if err := a.s.db.SetBatchName(r.Context(), tx, b.ID, *req.Name); err != nil {
				return err
			}
		}
		if req.Archived != nil {
			return a.s.db.SetBatchArchived(r.Context(), tx, b.ID, *req.Archived)
		}
		return nil
	})
	if err != nil {
		return err
	}
	labels, err := a.s.db.BatchLabels(r.Context(), []string{b.ID})
	if err != nil {
		return err
	}
	l := labels[b.ID]
	return writeJSON(w, http.StatusOK, BatchLabelResponse{ID: b.ID, Name: l.Name, Archived: l.ArchivedAt != nil, ArchivedAt: l.ArchivedAt})
}

// ownImage loads an image the caller may see, with its batch.
func (a *batchAPI) ownImage(r *http.Request) (*store.Image, *store.Batch, error) {
	im, err := a.s.db.ImageByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	if !CanSee(r.Context(), im.UserID) {
		return nil, nil, store.ErrNotFound
	}
	b, err := a.s.db.BatchByID(r.Context(), im.BatchID)
	if err != nil {
		return nil, nil, err
	}
	return im, b, nil
}

// ImageStarResponse says whether an image is starred.
type ImageStarResponse struct {
	ImageID string `json:"image_id"`
	Starred bool   `json:"starred"`
}

func (a *batchAPI) star(w http.ResponseWriter, r *http.Request) error {
	im, _, err := a.ownImage(r)
	if err != nil {
		return err
	}
	var req struct {
		Starred *bool `json:"starred"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Starred == nil {
		return fault.New(fault.Invalid, "starred_required", "starred must be true or false.")
	}
	if err := a.s.db.InTx(r.Context(), func(tx *store.Tx) error { return a.s.db.SetStarred(r.Context(), tx, im, *req.Starred) }); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ImageStarResponse{ImageID: im.ID, Starred: *req.Starred})
}

// attachment sets a download's Content-Disposition with a UTF-8 file name
// (RFC 6266 filename*) and an ASCII fallback for old clients.
func attachment(w http.ResponseWriter, name, fallback string) {
	v := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if v == "" {
		v = mime.FormatMediaType("attachment", map[string]string{"filename": fallback})
	}
	w.Header().Set("Content-Disposition", v)
}

func (a *batchAPI) imageDownload(w http.ResponseWriter, r *http.Request) error {
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
	groups, err := a.s.db.GroupsOf(r.Context(), im.BatchID)
	if err != nil {
		return err
	}
	var g *store.Group
	for _, x := range groups {
		if x.ID == im.GroupID {
			g = x
		}
	}
	if g == nil {
		return store.ErrNotFound
	}
	rc, _, err := a.d.Blobs.Get(r.Context(), im.ResultKey)
	if err != nil {
		return err
	}
	defer rc.Close()
	attachment(w, batchview.FileName(g, im), "ludeng_"+im.ID+extOf(im.ResultKey))
	w.Header().Set("Content-Type", im.MIME)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, rc)
	return nil
}

// download streams the batch (or one group) as a zip (batchview.Archive):
// a folder per group with readable image names and the group's note.txt,
// and the manifest. ?starred=true or ?images=id,id narrows it to a
// selection, written flat.
func (a *batchAPI) download(w http.ResponseWriter, r *http.Request) error {
	viewer, err := a.viewer(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	b, err := a.s.db.BatchByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if viewer.ID != b.UserID && !viewer.IsAdmin() {
		return store.ErrBatchNotFound
	}
	q := r.URL.Query()
	sel := batchview.Selection{GroupID: r.PathValue("gid")}
	switch {
	case q.Get("images") != "":
		sel.Images = []string{}
		seen := map[string]bool{}
		for _, id := range strings.Split(q.Get("images"), ",") {
			if id = strings.TrimSpace(id); id != "" && !seen[id] {
				seen[id] = true
				sel.Images = append(sel.Images, id)
			}
		}
		if len(sel.Images) > batchview.MaxSelectedImages {
			return fault.Newf(fault.Invalid, "selection_too_large", "Select at most %d images.", batchview.MaxSelectedImages)
		}
	case q.Get("starred") == "true":
		sel.Starred = true
	case q.Get("starred") != "":
		return fault.New(fault.Invalid, "bad_starred", "starred must be true when given.")
	}
	arc, err := a.views.Archive(ctx, b, sel)
	if err != nil {
		return err
	}
	entries := make([]zipstream.Entry, len(arc.Files))
	for i, f := range arc.Files {
		entries[i] = zipstream.Entry{Path: f.Path, Size: f.Size, Modified: f.Modified, Open: func() (io.ReadCloser, error) {
			if f.ResultKey == "" {
				return io.NopCloser(bytes.NewReader(f.Text)), nil
			}
			rc, _, err := a.d.Blobs.Get(ctx, f.ResultKey)
			return rc, err
		}}
	}
	w.Header().Set("Content-Type", "application/zip")
	attachment(w, arc.Name, "ludeng_"+b.ID+".zip")
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	if err := zipstream.Write(ctx, w, entries, zipstream.Options{Manifest: arc.Manifest, Location: a.d.Location}); err != nil {
		// Headers are sent: abort the connection so the client sees a failed download.
		panic(http.ErrAbortHandler)
	}
	return nil
}

func (a *batchAPI) regenerate(w http.ResponseWriter, r *http.Request) error {
	im, _, err := a.ownImage(r)
	if err != nil {
		return err
	}
	var req struct {
		Instruction string `json:"instruction"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	b, err := a.d.Pipeline.Regenerate(r.Context(), im.ID, req.Instruction)
	if err != nil {
		return err
	}
	_ = a.s.audit(r, nil, "image.regenerate", "image", im.ID, map[string]any{"batch_id": b.ID})
	v, err := a.view(r.Context(), b)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, v)
}

// ImageVersionItem is one result an image has had.
type ImageVersionItem = batchview.ImageVersionItem

// ImageVersionList lists an image's versions, oldest first.
type ImageVersionList struct {
	Items []ImageVersionItem `json:"items"`
}

func (a *batchAPI) versions(w http.ResponseWriter, r *http.Request) error {
	im, _, err := a.ownImage(r)
	if err != nil {
		return err
	}
	kept, err := a.s.db.VersionsOf(r.Context(), im.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ImageVersionList{Items: batchview.Versions(im, kept)})
}

func (a *batchAPI) selectVersion(w http.ResponseWriter, r *http.Request) error {
	im, _, err := a.ownImage(r)
	if err != nil {
		return err
	}
	if err := a.d.Pipeline.SelectVersion(r.Context(), im.ID, r.PathValue("vid")); err != nil {
		return err
	}
	b, err := a.s.db.BatchByID(r.Context(), im.BatchID)
	if err != nil {
		return err
	}
	v, err := a.view(r.Context(), b)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (a *batchAPI) versionContent(w http.ResponseWriter, r *http.Request) error {
	im, _, err := a.ownImage(r)
	if err != nil {
		return err
	}
	kept, err := a.s.db.VersionsOf(r.Context(), im.ID)
	if err != nil {
		return err
	}
	var v *store.ImageVersion
	for _, x := range kept {
		if x.ID == r.PathValue("vid") {
			v = x
		}
	}
	if v == nil {
		return store.ErrNotFound
	}
	return a.serveResult(w, r, v.ResultKey, v.MIME, r.URL.Query().Get("size"))
}

// serveResult answers a result or one of its derived sizes (made on first
// request), cacheable by URL: every URL names one result for good.
func (a *batchAPI) serveResult(w http.ResponseWriter, r *http.Request, resultKey, ctype, size string) error {
	key, ctype, err := batchview.SizeKey(resultKey, ctype, size)
	if err != nil {
		return err
	}
	if a.d.Presign != nil {
		return a.redirectImage(w, r, resultKey, key, ctype)
	}
	rc, _, err := a.d.Blobs.Get(r.Context(), key)
	if errors.Is(err, blob.ErrNotFound) && key != resultKey {
		if err = batchview.MakeSizes(r.Context(), a.d.Blobs, resultKey); err == nil {
			rc, _, err = a.d.Blobs.Get(r.Context(), key)
		}
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("ETag", `"`+batchview.ResultTag(resultKey)+"-"+size+`"`)
	// A URL with ?v= names one result for good; one without (live events)
	// follows the current result, so it is revalidated by its ETag.
	if r.URL.Query().Get("v") != "" {
		h.Set("Cache-Control", "private, max-age=86400, immutable")
	} else {
		h.Set("Cache-Control", "private, no-cache")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, rc)
	return nil
}

// PostKitTone is a tone preset of post kits.
type PostKitTone struct {
	ID string `json:"id"`
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// PostKitToneList lists the tone presets; the first is the default.
type PostKitToneList struct {
	Items []PostKitTone `json:"items"`
}

func (a *batchAPI) tones(w http.ResponseWriter, r *http.Request) error {
	out := PostKitToneList{Items: []PostKitTone{}}
	for _, t := range provider.PostTones {
		out.Items = append(out.Items, PostKitTone{ID: t.ID, ZH: t.ZH, EN: t.EN})
	}
	return writeJSON(w, http.StatusOK, out)
}

// GroupNoteResponse is a group's post kit (Xiaohongshu note draft).
type GroupNoteResponse = batchview.GroupNote

func (a *batchAPI) ownGroup(r *http.Request) (*store.Batch, *store.Group, error) {
	b, err := a.own(r)
	if err != nil {
		return nil, nil, err
	}
	gs, err := a.s.db.GroupsOf(r.Context(), b.ID)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range gs {
		if g.ID == r.PathValue("gid") {
			return b, g, nil
		}
	}
	return nil, nil, store.ErrNotFound
}

func (a *batchAPI) writeNote(w http.ResponseWriter, r *http.Request) error {
	b, g, err := a.ownGroup(r)
	if err != nil {
		return err
	}
	var req struct {
		Tone string `json:"tone"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Tone == "" {
		req.Tone = provider.PostTones[0].ID
	}
	if _, ok := provider.ToneByID(req.Tone); !ok {
		ids := []string{}
		for _, t := range provider.PostTones {
			ids = append(ids, t.ID)
		}
		return fault.New(fault.Unprocessable, "post_kit_tone", "Unknown tone.").With("allowed", ids)
	}
	n, reason, err := a.d.Pipeline.WritePostKit(r.Context(), b, g, req.Tone)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, batchview.Note(n, reason))
}

// Limits of an edited note: Xiaohongshu's own (title 20, body 1000).
const maxEditedBodyRunes = 1000

func (a *batchAPI) editNote(w http.ResponseWriter, r *http.Request) error {
	b, g, err := a.ownGroup(r)
	if err != nil {
		return err
	}
	var req struct {
		Tone     string   `json:"tone"`
		Title    string   `json:"title"`
		Body     string   `json:"body"`
		Hashtags []string `json:"hashtags"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	req.Title, req.Body = strings.TrimSpace(req.Title), strings.TrimSpace(req.Body)
	tags := provider.NormalizeTags(req.Hashtags)
	switch {
	case req.Title == "" || utf8.RuneCountInString(req.Title) > provider.PostTitleMaxRunes:
		return fault.Newf(fault.Unprocessable, "note_title_invalid", "The title needs 1 to %d characters.", provider.PostTitleMaxRunes).
			With("field", "title").With("max", provider.PostTitleMaxRunes)
	case req.Body == "" || utf8.RuneCountInString(req.Body) > maxEditedBodyRunes:
		return fault.Newf(fault.Unprocessable, "note_body_invalid", "The body needs 1 to %d characters.", maxEditedBodyRunes).
			With("field", "body").With("max", maxEditedBodyRunes)
	case len(req.Hashtags) > provider.PostTagsMax:
		return fault.Newf(fault.Unprocessable, "note_hashtags_invalid", "At most %d hashtags.", provider.PostTagsMax).
			With("field", "hashtags").With("max", provider.PostTagsMax)
	}
	if _, ok := provider.ToneByID(req.Tone); !ok {
		req.Tone = provider.PostTones[0].ID
	}
	n := &store.GroupNote{GroupID: g.ID, BatchID: b.ID, Tone: req.Tone, Title: req.Title, Body: req.Body, Hashtags: tags}
	if err := a.d.Pipeline.EditPostKit(r.Context(), n); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, batchview.Note(n, ""))
}

// ---- the batch view's picking fields ----
