package httpapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/batchview"
	"github.com/ludeng/ludeng/internal/blob"
	"github.com/ludeng/ludeng/internal/config"
	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/signedurl"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/upload"
)

// UploadDeps are what the upload routes need.
type UploadDeps struct {
	Blobs  blob.Store
	Intake *upload.Intake
	Signer signedurl.Signer
}

// Upload is an uploaded product photo.
type Upload struct {
	ID        string           `json:"id"`
	SHA256    string           `json:"sha256"`
	MIME      string           `json:"mime" example:"image/jpeg"`
	Width     int              `json:"width"`
	Height    int              `json:"height"`
	Bytes     int64            `json:"bytes"`
	Filename  string           `json:"filename"`
	EXIF      upload.EXIF      `json:"exif"`
	Warnings  []upload.Warning `json:"warnings" nonnull:""`
	CreatedAt time.Time        `json:"created_at"`
	URLs      UploadURLs       `json:"urls"`
}

// UploadURLs are the content links of an upload by size (session or token).
type UploadURLs struct {
	Thumb   string `json:"thumb"`
	Preview string `json:"preview"`
	Full    string `json:"full"`
}

// uploadOut decodes the stored EXIF and warnings, which the intake wrote
// from the same structs.
func uploadOut(u *store.Upload) (Upload, error) {
	base := "/api/v1/uploads/" + u.ID + "/content"
	v := Upload{ID: u.ID, SHA256: u.SHA256, MIME: u.MIME, Width: u.Width, Height: u.Height, Bytes: u.Bytes,
		Filename: u.Filename, CreatedAt: u.CreatedAt,
		URLs: UploadURLs{Thumb: base + "?size=thumb", Preview: base + "?size=preview", Full: base + "?size=full"}}
	if u.EXIF != "" {
		if err := json.Unmarshal([]byte(u.EXIF), &v.EXIF); err != nil {
			return v, fmt.Errorf("upload %s: exif: %w", u.ID, err)
		}
	}
	if u.Warnings != "" {
		if err := json.Unmarshal([]byte(u.Warnings), &v.Warnings); err != nil {
			return v, fmt.Errorf("upload %s: warnings: %w", u.ID, err)
		}
	}
	if v.Warnings == nil {
		v.Warnings = []upload.Warning{}
	}
	return v, nil
}

func writeUpload(w http.ResponseWriter, status int, u *store.Upload) error {
	v, err := uploadOut(u)
	if err != nil {
		return err
	}
	return writeJSON(w, status, v)
}

func (s *Server) handleCreateUpload(w http.ResponseWriter, r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return fault.New(fault.Invalid, "upload_bad_multipart", "Send the photo as multipart/form-data with one part named \"file\".")
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.uploads.Intake.Config().MaxRequestBytes())
	mr, err := r.MultipartReader()
	if err != nil {
		return fault.New(fault.Invalid, "upload_bad_multipart", "The multipart body is malformed.").Wrap(err)
	}
	img, name, err := s.uploads.Intake.FromMultipart(r.Context(), mr)
	if err != nil {
		if fe := fault.As(err); fe != nil && fe.Code == "upload_malware" {
			_ = s.audit(r, nil, "security.upload_malware", "upload", "", map[string]any{"signature": fe.Params["signature"]})
		}
		return err
	}
	stored, err := upload.Save(r.Context(), s.uploads.Blobs, img)
	if err != nil {
		return err
	}
	exif, _ := json.Marshal(img.EXIF)
	warnings := img.Warnings
	if warnings == nil {
		warnings = []upload.Warning{}
	}
	warn, _ := json.Marshal(warnings)
	u := &store.Upload{UserID: UserFrom(r.Context()).ID, SHA256: img.SHA256, MIME: img.MIME, Width: img.Width, Height: img.Height,
		Bytes: img.Size, Filename: name, EXIF: string(exif), Warnings: string(warn)}
	// A failure here leaves a stored but unreferenced blob, which the
	// cleanup's orphan sweep removes; never a row pointing at nothing.
	err = s.db.InTx(r.Context(), func(tx *store.Tx) error {
		if err := s.db.CreateUpload(r.Context(), tx, u); err != nil {
			return err
		}
		return s.audit(r, tx, "upload.create", "upload", u.ID, map[string]any{"sha256": u.SHA256, "bytes": u.Bytes, "new_blob": stored.Created})
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/uploads/"+u.ID)
	return writeUpload(w, http.StatusCreated, u)
}

func (s *Server) ownUpload(r *http.Request) (*store.Upload, error) {
	u, err := s.db.UploadByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if !CanSee(r.Context(), u.UserID) {
		return nil, store.ErrNotFound
	}
	return u, nil
}

func (s *Server) handleListUploads(w http.ResponseWriter, r *http.Request) error {
	limit, cursor, err := pageParams(r, 50, 200)
	if err != nil {
		return err
	}
	list, err := s.db.ListUploads(r.Context(), UserFrom(r.Context()).ID, cursor, limit+1)
	if err != nil {
		return err
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = store.EncodeCursor(list[limit-1].ID)
	}
	out := make([]Upload, 0, len(list))
	for _, u := range list {
		v, err := uploadOut(u)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, pageOf(out, next))
}

func (s *Server) handleGetUpload(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ownUpload(r)
	if err != nil {
		return err
	}
	return writeUpload(w, http.StatusOK, u)
}

func (s *Server) handleDeleteUpload(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ownUpload(r)
	if err != nil {
		return err
	}
	// An upload used by a non-terminal batch answers 409: its jobs still
	// read the photo.
	err = s.db.InTx(r.Context(), func(tx *store.Tx) error {
		inUse, err := s.db.UploadInUse(r.Context(), tx, u.ID)
		if err != nil {
			return err
		}
		if inUse {
			return fault.New(fault.Conflict, "upload_in_use", "A batch that is not finished uses this upload; cancel it or wait.")
		}
		if err := s.db.DeleteUpload(r.Context(), tx, u.ID); err != nil {
			return err
		}
		return s.audit(r, tx, "upload.delete", "upload", u.ID, nil)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func contentKey(u *store.Upload, size string) (string, string, error) {
	switch size {
	case "", "full":
		return blob.ContentKey(u.SHA256), u.MIME, nil
	case "thumb":
		return blob.VariantKey(u.SHA256, blob.VariantThumb), "image/jpeg", nil
	case "preview":
		return blob.VariantKey(u.SHA256, blob.VariantPreview), "image/jpeg", nil
	}
	return "", "", fault.New(fault.Invalid, "bad_size", "size must be thumb, preview or full.").With("allowed", []string{"thumb", "preview", "full"})
}

// handleUploadContent serves the bytes with Range, ETag and a safe
// Content-Disposition. The caller is a session/token user who can see the
// upload, or holds a valid signed link.
func (s *Server) handleUploadContent(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var viewer *store.User
	if signedurl.Present(q) {
		var err error
		if viewer, err = s.linkUser(r, s.uploads.Signer); err != nil {
			return err
		}
	} else {
		p, err := s.resolve(r)
		if err != nil {
			return err
		}
		viewer = p.User
	}
	liftDeadlines(r)
	u, err := s.db.UploadByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if viewer.ID != u.UserID && !viewer.IsAdmin() {
		return store.ErrNotFound
	}
	size := q.Get("size")
	key, ctype, err := contentKey(u, size)
	if err != nil {
		return err
	}
	rc, _, err := s.uploads.Blobs.Get(r.Context(), key)
	if err != nil {
		return err
	}
	defer rc.Close()
	name := u.Filename
	if name == "" {
		name = "upload"
	}
	if size == "thumb" || size == "preview" {
		name = strings.TrimSuffix(name, extOf(name)) + "_" + size + ".jpg"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	// Content-addressed: the hash is a strong validator on every node.
	etag := u.SHA256
	if size == "thumb" || size == "preview" {
		etag += "-" + size
	}
	h.Set("ETag", `"`+etag+`"`)
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	// Content-addressed bytes never change, so the modification time adds
	// nothing; the ETag drives revalidation.
	http.ServeContent(w, r, "", time.Time{}, rc)
	return nil
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}

type linkRequest struct {
	ExpiresIn string `json:"expires_in,omitempty" example:"7d" doc:"Lifetime, 1s–30d; default 24h."`
	Size      string `json:"size,omitempty" enum:"thumb,preview,full" doc:"Default: full; the link works for this size only."`
}

func (s *Server) handleUploadLink(w http.ResponseWriter, r *http.Request) error {
	u, err := s.ownUpload(r)
	if err != nil {
		return err
	}
	var req linkRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ttl := 24 * time.Hour
	if req.ExpiresIn != "" {
		if ttl, err = config.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 || ttl > signedurl.MaxLifetime {
			return fault.New(fault.Invalid, "bad_expires_in", "expires_in must be a duration between 1s and 30d, such as 24h or 7d.")
		}
	}
	if _, _, err := contentKey(u, req.Size); err != nil {
		return err
	}
	path := "/api/v1/uploads/" + u.ID + "/content"
	me := UserFrom(r.Context())
	q, exp := s.uploads.Signer.Sign(path, req.Size, me.ID, me.LinkGeneration, ttl)
	link := path + "?" + q.Encode()
	if s.cfg.BaseURL != "" {
		link = s.cfg.BaseURL + link
	}
	return writeJSON(w, http.StatusCreated, batchview.SignedLink{URL: link, ExpiresAt: exp.UTC()})
}
