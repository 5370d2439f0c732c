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
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/imaging"
	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/zipstream"
)

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
