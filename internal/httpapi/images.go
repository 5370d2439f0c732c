package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/store"
)

// viewer resolves a session/token user or a signed link.
func (a *batchAPI) viewer(r *http.Request) (*store.User, error) {
	q := r.URL.Query()
	if signedurl.Present(q) {
		u, err := a.s.linkUser(r, a.d.Signer)
		if err != nil {
			return nil, err
		}
		liftDeadlines(r)
		return u, nil
	}
	p, err := a.s.resolve(r)
	if err != nil {
		return nil, err
	}
	liftDeadlines(r)
	return p.User, nil
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
	u := UserFrom(r.Context())
	q, exp := a.d.Signer.Sign(path, "", u.ID, u.LinkGeneration, ttl)
	link := path + "?" + q.Encode()
	if a.s.cfg.BaseURL != "" {
		link = a.s.cfg.BaseURL + link
	}
	return writeJSON(w, http.StatusCreated, batchview.SignedLink{URL: link, ExpiresAt: exp.UTC()})
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
	return a.serveResult(w, r, im.ResultKey, im.MIME, r.URL.Query().Get("size"))
}

// redirectImage answers 302 to a presigned URL of key, making the variant
// first when it is missing. The URL is private to this response: it must
// not be cached beyond its own short lifetime.
func (a *batchAPI) redirectImage(w http.ResponseWriter, r *http.Request, resultKey, key, ctype string) error {
	if key != resultKey {
		if _, err := a.d.Blobs.Stat(r.Context(), key); errors.Is(err, blob.ErrNotFound) {
			if err := batchview.MakeSizes(r.Context(), a.d.Blobs, resultKey); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	u, err := a.d.Presign(r.Context(), key, ctype)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "private, no-store")
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}
