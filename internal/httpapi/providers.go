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

// EnableProviders registers the provider admin routes and the kie callback.
func (s *Server) EnableProviders(p ProviderAdmin) {
	s.providers = p
	s.AddRoutes(
		Route{Method: "GET", Path: "/api/v1/admin/providers", Access: AdminOnly, Handle: s.handleProviders},
		Route{Method: "POST", Path: "/api/v1/admin/providers/{name}/reset", Access: AdminOnly, Handle: s.handleProviderReset},
		Route{Method: "POST", Path: "/api/v1/admin/providers/probe", Access: AdminOnly, Handle: s.handleProviderProbe},
	)
	// The kie callback authenticates by the secret in its path, not by
	// session, and comes from kie's servers (no Origin to check).
	s.AddRoutes(Route{Method: "POST", Path: "/api/v1/hooks/kie/{secret}", Access: Public, NoCSRF: true, BodyLimit: 1 << 20,
		Handle: s.handleKieCallback})
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
