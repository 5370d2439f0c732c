package fake

import (
	"context"
	"net/http"
	"time"
)

// AccountLimits are an account's limits as the real API enforces them: a
// call over either is answered with that API's 429. Zero means unlimited.
type AccountLimits struct {
	// Concurrency caps calls in flight at once.
	Concurrency int `json:"concurrency,omitempty"`
	// PerMinute caps calls in any sliding 60-second window (Gemini's IPM
	// with one image per call).
	PerMinute int `json:"per_minute,omitempty"`
}

// Load is what one API has seen since the last reset, for asserting that
// a client (or a cluster of them) kept to the account's limits. Main calls
// are the API's POST requests.
type Load struct {
	Calls    int `json:"calls"`
	InFlight int `json:"in_flight"`
	// MaxConcurrency is the most calls that were in flight at once.
	MaxConcurrency int `json:"max_concurrency"`
	// MaxPerMinute is the most calls that arrived within any 60 seconds.
	MaxPerMinute int `json:"max_per_minute"`
	// Rejected counts calls answered 429 because they broke Limits.
	Rejected int `json:"rejected"`
}

type loadState struct {
	Load
	recent []time.Time // arrivals of the last minute
}

type overLimitKey struct{}

// enter records a main call's arrival and reports whether it breaks the
// API's configured account limits; leave must follow.
func (s *Server) enter(api string) (ls *loadState, over bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	ls = s.load[api]
	if ls == nil {
		ls = &loadState{}
		s.load[api] = ls
	}
	i := 0
	for i < len(ls.recent) && !ls.recent[i].After(now.Add(-time.Minute)) {
		i++
	}
	ls.recent = append(ls.recent[i:], now)
	ls.Calls++
	ls.InFlight++
	ls.MaxConcurrency = max(ls.MaxConcurrency, ls.InFlight)
	ls.MaxPerMinute = max(ls.MaxPerMinute, len(ls.recent))
	lim := s.opts.Limits[api]
	over = lim.Concurrency > 0 && ls.InFlight > lim.Concurrency || lim.PerMinute > 0 && len(ls.recent) > lim.PerMinute
	if over {
		ls.Rejected++
	}
	return ls, over
}

// leave ends a call entered on ls (which a Reset meanwhile may have
// replaced; the new state then never sees this call).
func (s *Server) leave(ls *loadState) {
	s.mu.Lock()
	ls.InFlight--
	s.mu.Unlock()
}

// Loads returns each API's load since the last reset.
func (s *Server) Loads() map[string]Load {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]Load{}
	for a, ls := range s.load {
		out[a] = ls.Load
	}
	return out
}

// tracked wraps a main call: it is counted in Load, and when it breaks the
// account limits its step becomes "429" (see begin).
func (s *Server) tracked(api string, r *http.Request, serve func(*http.Request)) {
	if r.Method != http.MethodPost {
		serve(r)
		return
	}
	ls, over := s.enter(api)
	defer s.leave(ls)
	if over {
		r = r.WithContext(context.WithValue(r.Context(), overLimitKey{}, true))
	}
	serve(r)
}
