package httpapi

import (
	"context"
	"io"
	"net/http"

	"github.com/ludeng/ludeng/internal/provider"
)

// ProviderAdmin is what the admin provider routes need.
type ProviderAdmin interface {
	Status() []provider.Status
	Reset(name string) error
	Probe(ctx context.Context) []provider.ProbeResult
	Simulated() bool
	KieCallback(ctx context.Context, secret string, body io.Reader) error
}

func (s *Server) handleKieCallback(w http.ResponseWriter, r *http.Request) error {
	if err := s.providers.KieCallback(r.Context(), r.PathValue("secret"), r.Body); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"code": 200, "msg": "ok"})
}

func (s *Server) handleProviders(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{"items": s.providers.Status(), "simulated": s.providers.Simulated()})
}

func (s *Server) handleProviderReset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.providers.Reset(name); err != nil {
		return err
	}
	if err := s.audit(r, nil, "provider.reset", "provider", name, nil); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": s.providers.Status()})
}

func (s *Server) handleProviderProbe(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{"items": s.providers.Probe(r.Context())})
}
