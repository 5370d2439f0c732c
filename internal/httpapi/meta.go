package httpapi

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPIDocument returns the served OpenAPI document: openapi.json with the
// schemas generated from Go types (openapi.gen.json) merged in.
func OpenAPIDocument() []byte { return document() }

// Limits are the request limits the UI checks before sending.
type Limits struct {
	// GroupsMax is the largest number of groups of one batch.
	GroupsMax int `json:"groups_max" example:"12"`
	// UploadMaxBytes is LUDENG_UPLOAD_MAX_BYTES: the largest accepted photo.
	UploadMaxBytes int64 `json:"upload_max_bytes" example:"5242880"`
}

// Meta is GET /api/v1/meta.
type Meta struct {
	Version   string `json:"version"`
	Build     string `json:"build"`
	Simulated bool   `json:"simulated"`
	Currency  string `json:"currency"`
	Limits    Limits `json:"limits"`
}

func (s *Server) handleMeta(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, Meta{Version: s.cfg.Version, Build: s.cfg.Build, Simulated: s.cfg.Simulated,
		Currency: s.cfg.Currency, Limits: s.cfg.Limits})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(document())
	return err
}
