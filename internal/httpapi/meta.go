package httpapi

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPIDocument returns the embedded OpenAPI document.
func OpenAPIDocument() []byte { return openAPIDoc }

// SetSimulated records whether images are simulated (no provider configured).
func (s *Server) SetSimulated(v bool) { s.cfg.Simulated = v }

func (s *Server) handleMeta(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{
		"version":   s.cfg.Version,
		"build":     s.cfg.Build,
		"simulated": s.cfg.Simulated,
		"currency":  s.cfg.Currency,
		"limits":    s.cfg.Limits,
	})
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openAPIDoc)
	return err
}
