package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ludeng/ludeng/internal/fault"
)

func (s *Server) handleLivez(w http.ResponseWriter, r *http.Request) {
	_ = writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type checkResult struct {
	Status   string `json:"status"`
	Critical bool   `json:"critical"`
	Detail   any    `json:"detail,omitempty"`
	Error    string `json:"error,omitempty"`
	Millis   int64  `json:"duration_ms"`
}

// handleReadyz runs every check concurrently with a deadline. Only critical
// checks (database, data dir, disk) make it 503; provider and worker state is
// reported but does not take the node out of the load balancer, because a
// node with a down provider can still serve downloads and history.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		// No checks: the answer is the same whatever they say, and a
		// draining process should not spend its last seconds probing.
		_ = writeJSON(w, http.StatusServiceUnavailable, readyStatus{Status: "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	results := make(map[string]checkResult, len(s.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			detail, err := c.Fn(ctx)
			res := checkResult{Status: "ok", Critical: c.Critical, Detail: detail, Millis: time.Since(start).Milliseconds()}
			if err != nil {
				res.Status, res.Error = "fail", err.Error()
			}
			mu.Lock()
			results[c.Name] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	status, code := "ok", http.StatusOK
	for _, res := range results {
		if res.Status != "ok" && res.Critical {
			status, code = "fail", http.StatusServiceUnavailable
		}
	}
	if !s.operator(r) {
		// Anonymous callers (load balancers) need only the verdict; the
		// checks' detail names free bytes, internal addresses and errors.
		_ = writeJSON(w, code, readyStatus{Status: status})
		return
	}
	_ = writeJSON(w, code, readyDetail{Status: status, Checks: results})
}

type readyStatus struct {
	Status string `json:"status"`
}

type readyDetail struct {
	Status string                 `json:"status"`
	Checks map[string]checkResult `json:"checks"`
}

// operator reports whether r may see operational detail (/metrics, the
// checks of /readyz): it carries the configured bearer token, or comes from
// an operator network (default: loopback and the trusted proxies). The
// address is the resolved client, so a request relayed by nginx counts as
// its original client, not as nginx.
func (s *Server) operator(r *http.Request) bool {
	if s.cfg.MetricsToken != "" {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
			subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.MetricsToken)) == 1 {
			return true
		}
	}
	a, err := netip.ParseAddr(clientFrom(r.Context()).IP)
	if err != nil {
		return false
	}
	for _, p := range s.cfg.OperatorNetworks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// metricsHandler serves Prometheus only to operators; others get 403.
func (s *Server) metricsHandler() http.Handler {
	prom := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.operator(r) {
			s.writeProblem(w, r, fault.New(fault.Forbidden, "operator_only", "This endpoint needs the metrics token or an operator network."))
			return
		}
		prom.ServeHTTP(w, r)
	})
}

func (s *Server) coreChecks() []Check {
	return []Check{
		{Name: "database", Critical: true, Fn: func(ctx context.Context) (any, error) {
			return map[string]string{"engine": string(s.db.Engine)}, s.db.Ping(ctx)
		}},
		{Name: "data_dir", Critical: true, Fn: func(ctx context.Context) (any, error) {
			return nil, probeWritable(s.cfg.DataDir)
		}},
		{Name: "disk", Critical: true, Fn: func(ctx context.Context) (any, error) {
			if s.diskFree == nil {
				return nil, nil
			}
			free, err := s.diskFree(s.cfg.DataDir)
			if err != nil {
				return nil, fmt.Errorf("statfs: %w", err)
			}
			d := map[string]any{"free_bytes": free, "min_free_bytes": s.cfg.MinFreeDisk}
			if free < s.cfg.MinFreeDisk {
				return d, fmt.Errorf("free disk %d bytes is below LUDENG_MIN_FREE_DISK %d", free, s.cfg.MinFreeDisk)
			}
			return d, nil
		}},
	}
}

func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".readyz-*")
	if err != nil {
		return fmt.Errorf("data dir not writable: %w", err)
	}
	name := f.Name()
	_, werr := f.WriteString("ok")
	cerr := f.Close()
	rerr := os.Remove(filepath.Clean(name))
	if werr != nil || cerr != nil || rerr != nil {
		return fmt.Errorf("data dir probe failed: %v %v %v", werr, cerr, rerr)
	}
	return nil
}
