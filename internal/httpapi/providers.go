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

// KieAck is the acknowledgement kie expects from a callback receiver.
type KieAck struct {
	Code int    `json:"code" example:"200"`
	Msg  string `json:"msg" example:"ok"`
}

// Providers is the state of the image providers, in fallback order.
type Providers struct {
	Items     []provider.Status `json:"items" nonnull:""`
	Simulated bool              `json:"simulated" doc:"Images come from the built-in simulator (no provider configured)."`
}

func (s *Server) providersView() Providers {
	st := s.providers.Status()
	if st == nil {
		st = []provider.Status{}
	}
	return Providers{Items: st, Simulated: s.providers.Simulated()}
}

func (s *Server) handleKieCallback(w http.ResponseWriter, r *http.Request) error {
	if err := s.providers.KieCallback(r.Context(), r.PathValue("secret"), r.Body); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, KieAck{Code: 200, Msg: "ok"})
}

func (s *Server) handleProviders(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, s.providersView())
}

func (s *Server) handleProviderReset(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.providers.Reset(name); err != nil {
		return err
	}
	if err := s.audit(r, nil, "provider.reset", "provider", name, nil); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.providersView())
}

func (s *Server) handleProviderProbe(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, listOf(s.providers.Probe(r.Context())))
}
