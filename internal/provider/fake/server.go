// Package fake serves faithful fakes of every AI API ludeng talks to —
// Gemini generateContent, OpenRouter-style chat completions with image
// output, OpenAI image edits, kie.ai's upload/createTask/recordInfo and
// DeepSeek chat completions — with their exact paths, JSON casing, status
// codes and error bodies, plus latency and failure injection.
//
// Each API is served under its own prefix (/gemini, /openrouter, /openai,
// /kie, /deepseek) and also at its real root path where that is unambiguous
// (/v1beta/models/…, /api/v1/chat/completions, /v1/images/edits,
// /api/v1/jobs/…, /chat/completions). Control endpoints:
//
//	POST /_fake/scenarios  {"api":"gemini","steps":["503","503","ok"]}  script the next main calls
//	GET  /_fake/stats      {"gemini":{"ok":1,"503":2},…}                calls per API and outcome
//	GET  /_fake/load       {"gemini":{"max_concurrency":4,"max_per_minute":20,…}}  see Load
//	POST /_fake/reset                                                   clear scripts, stats, tasks
//	GET/POST /_fake/config                                              read/replace Options (JSON)
//
// Steps (per main call): ok, slow:<d>, 500, 502, 503, 504, 429[:<d>],
// 429_bare, quota, timeout, malformed, no_image, blocked, blocked_output,
// model_not_found, auth, location, bad_request; kie also fail, fail_safety,
// never, code<N> (body code inside HTTP 200); deepseek also empty,
// resource, invalid_json.
//
// Images are real JPEG (or PNG) pictures rendered by the simulator from the
// prompt, at each API's documented size.
package fake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/sim"
)

// APIs served by the fake.
var apis = []string{"gemini", "openrouter", "openai", "kie", "deepseek"}

// Server is the fake; it is an http.Handler.
type Server struct {
	log *slog.Logger
	sim *sim.Generator
	hc  *http.Client // kie callbacks

	mu      sync.Mutex
	opts    Options
	rng     *rand.Rand
	scripts map[string][]step
	stats   map[string]map[string]int
	load    map[string]*loadState
	tasks   map[string]*kieTask
	files   map[string]blob
	static  map[string]blob
	seq     int
	wg      sync.WaitGroup

	onPrerender func() // test hook: a background render starts
}

type blob struct {
	data []byte
	mime string
}

type step struct {
	name  string
	delay time.Duration
}

// New returns a fake server.
func New(opts Options, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: logger, sim: sim.New(sim.Options{}), hc: &http.Client{Timeout: 10 * time.Second}}
	s.configure(opts)
	s.Reset()
	return s
}

func (s *Server) configure(opts Options) {
	opts = opts.withDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = opts
	s.rng = rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	s.sim = sim.New(sim.Options{PNG: opts.PNG})
	s.static = map[string]blob{}
}

// Reset clears scripts, stats, kie tasks and files.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts = map[string][]step{}
	s.stats = map[string]map[string]int{}
	for _, a := range apis {
		s.stats[a] = map[string]int{}
	}
	s.tasks = map[string]*kieTask{}
	s.files = map[string]blob{}
	s.load = map[string]*loadState{}
}

var stepRe = regexp.MustCompile(`^(ok|200|slow|500|502|503|504|429|429_bare|quota|timeout|malformed|no_image|blocked|blocked_output|model_not_found|auth|location|bad_request|fail|fail_safety|never|code[0-9]{3}|empty|resource|invalid_json)(?::([0-9.]+[a-zµ]*s))?$`)

func parseStep(v string) (step, error) {
	m := stepRe.FindStringSubmatch(strings.TrimSpace(strings.ToLower(v)))
	if m == nil {
		return step{}, fmt.Errorf("unknown step %q", v)
	}
	st := step{name: m[1]}
	if st.name == "200" {
		st.name = "ok"
	}
	if m[2] != "" {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			return step{}, fmt.Errorf("step %q: %w", v, err)
		}
		st.delay = d
	}
	return st, nil
}

// Script appends steps for api's next main calls ("503", "429:5s", "ok"…).
func (s *Server) Script(api string, steps ...string) error {
	if !known(api) {
		return fmt.Errorf("unknown api %q", api)
	}
	var parsed []step
	for _, v := range steps {
		st, err := parseStep(v)
		if err != nil {
			return err
		}
		parsed = append(parsed, st)
	}
	s.mu.Lock()
	s.scripts[api] = append(s.scripts[api], parsed...)
	s.mu.Unlock()
	return nil
}

// Stats returns calls per API and outcome.
func (s *Server) Stats() map[string]map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]int{}
	for a, m := range s.stats {
		out[a] = map[string]int{}
		for k, v := range m {
			out[a][k] = v
		}
	}
	return out
}

// Wait blocks until background work (kie callbacks) has finished.
func (s *Server) Wait() { s.wg.Wait() }

func known(api string) bool {
	for _, a := range apis {
		if a == api {
			return true
		}
	}
	return false
}

// next picks the step for one main call: scripted first, then random
// failures by rate, else ok; and the latency to wait before answering.
func (s *Server) next(api string) (step, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lat, rates := s.opts.Latency, s.opts.Failures
	if p, ok := s.opts.PerAPI[api]; ok {
		lat = p.Latency
		if p.Failures != nil {
			rates = p.Failures
		}
	}
	d := lat.sample(s.rng)
	if q := s.scripts[api]; len(q) > 0 {
		s.scripts[api] = q[1:]
		return q[0], d
	}
	names := make([]string, 0, len(rates))
	for k := range rates {
		names = append(names, k)
	}
	sort.Strings(names) // reproducible with a seed
	x := s.rng.Float64()
	for _, k := range names {
		if x < rates[k] {
			if st, err := parseStep(k); err == nil {
				return st, d
			}
		}
		x -= rates[k]
	}
	return step{name: "ok"}, d
}

func (s *Server) count(api, outcome string) {
	s.mu.Lock()
	s.stats[api][outcome]++
	s.mu.Unlock()
}

// begin runs the common part of a main call: pick the step, wait the
// latency (and the step's own delay), count it. It returns false when the
// client went away.
//
// prepare, when given, is called with the picked step before the wait, so
// a handler can start rendering its picture then: a real API's latency
// includes generating the image, so the answer comes after the latency (or
// after the render, if that takes longer), not after latency + render.
func (s *Server) begin(r *http.Request, api string, prepare ...func(step)) (step, bool) {
	st, d := s.next(api)
	if r.Context().Value(overLimitKey{}) != nil {
		st = step{name: "429"} // the account's limits were broken: the real API refuses
	}
	o := s.options()
	if st.name == "slow" {
		d += st.delay
		st.name = "ok"
	}
	s.count(api, st.name)
	for _, f := range prepare {
		f(st)
	}
	if err := o.Sleep(r.Context(), d); err != nil {
		return st, false
	}
	if st.name == "timeout" {
		// Hold the request until the client gives up or Hang passes.
		if err := o.Sleep(r.Context(), time.Duration(o.Hang)); err != nil {
			return st, false
		}
	}
	return st, true
}

// ServeHTTP routes to the control endpoints and the APIs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		s.control(w, r)
		return
	}
	api, rest := route(r.URL.Path)
	var serve func(http.ResponseWriter, *http.Request, string)
	switch api {
	case "gemini":
		serve = s.gemini
	case "openrouter":
		serve = s.openRouter
	case "openai":
		serve = s.openAI
	case "kie":
		serve = s.kie
	case "deepseek":
		serve = s.deepSeek
	default:
		http.NotFound(w, r)
		return
	}
	s.tracked(api, r, func(r *http.Request) { serve(w, r, rest) })
}

// route maps a path to its API and the API-relative path.
func route(p string) (api, rest string) {
	for _, a := range apis {
		if pre := "/" + a; p == pre || strings.HasPrefix(p, pre+"/") {
			return a, strings.TrimPrefix(p, pre)
		}
	}
	switch {
	case strings.HasPrefix(p, "/v1beta/"):
		return "gemini", p
	case p == "/api/v1/chat/completions", p == "/api/v1/models":
		return "openrouter", p
	case strings.HasPrefix(p, "/v1/images/"), p == "/v1/models":
		return "openai", p
	case strings.HasPrefix(p, "/api/v1/jobs/"), p == "/api/v1/chat/credit", strings.HasPrefix(p, "/api/file-"):
		return "kie", p
	case p == "/chat/completions", p == "/v1/chat/completions", p == "/models", p == "/user/balance":
		return "deepseek", p
	}
	return "", p
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_fake/scenarios" && r.Method == http.MethodPost:
		var body struct {
			API   string   `json:"api"`
			Steps []string `json:"steps"`
			// Scenarios scripts several APIs at once: {"gemini":["503","ok"]}.
			Scenarios map[string][]string `json:"scenarios"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if body.API != "" {
			if body.Scenarios == nil {
				body.Scenarios = map[string][]string{}
			}
			body.Scenarios[body.API] = append(body.Scenarios[body.API], body.Steps...)
		}
		for api, steps := range body.Scenarios {
			if err := s.Script(api, steps...); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
		}
		s.mu.Lock()
		pending := map[string]int{}
		for a, q := range s.scripts {
			pending[a] = len(q)
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"pending": pending})
	case r.URL.Path == "/_fake/stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Stats())
	case r.URL.Path == "/_fake/load" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.Loads())
	case r.URL.Path == "/_fake/reset" && r.Method == http.MethodPost:
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case r.URL.Path == "/_fake/config" && r.Method == http.MethodGet:
		s.mu.Lock()
		o := s.opts
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, o)
	case r.URL.Path == "/_fake/config" && r.Method == http.MethodPost:
		s.mu.Lock()
		o := s.opts
		s.mu.Unlock()
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&o); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.configure(o)
		writeJSON(w, http.StatusOK, o)
	default:
		http.NotFound(w, r)
	}
}

// image renders the picture for prompt and photo at w×h in the configured format.
func (s *Server) image(prompt string, photo []byte, w, h int) blob {
	return s.render(prompt, photo, w, h, !s.options().PNG)
}

// prerender starts rendering in the background (see begin) and returns a
// function that waits for the picture.
func (s *Server) prerender(prompt string, photo []byte, w, h int, asJPEG bool) func() blob {
	if s.onPrerender != nil {
		s.onPrerender()
	}
	ch := make(chan blob, 1) // the render finishes even if the client has gone
	go func() { ch <- s.render(prompt, photo, w, h, asJPEG) }()
	return sync.OnceValue(func() blob { return <-ch })
}

// render renders the picture as JPEG or PNG.
func (s *Server) render(prompt string, photo []byte, w, h int, asJPEG bool) blob {
	s.mu.Lock()
	static, g := s.opts.StaticImages, s.sim
	key := fmt.Sprintf("%dx%d/%v", w, h, asJPEG)
	if b, ok := s.static[key]; ok && static {
		s.mu.Unlock()
		return b
	}
	s.mu.Unlock()
	img := g.Render(provider.Request{Prompt: prompt, Photo: photo}, w, h)
	data, mime, err := provider.Encode(img, asJPEG)
	if err != nil {
		panic(err) // encoding an in-memory RGBA cannot fail
	}
	b := blob{data, mime}
	if static {
		s.mu.Lock()
		s.static[key] = b
		s.mu.Unlock()
	}
	return b
}

// decoy is the small interim "thought" image thinking models emit first.
func (s *Server) decoy() blob {
	return s.image("decoy thought night", nil, 64, 64)
}

func (s *Server) id(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s%d%06d", prefix, s.opts.Now().UnixMilli(), s.seq)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeMalformed sends a 200 whose body is cut off mid-JSON.
func writeMalformed(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/jp`)
}

// bearer returns the Bearer token of r.
func bearer(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(v, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

func (s *Server) keyOK(key string) bool {
	s.mu.Lock()
	want := s.opts.APIKey
	s.mu.Unlock()
	return key != "" && (want == "" || key == want)
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Run serves the fakes on addr until ctx ends (ludeng fake-providers).
func Run(ctx context.Context, addr string, logger *slog.Logger, opts Options) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := New(opts, logger)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fake providers: listen %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           logRequests(srv, logger),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	logger.Info("fake providers listening", slog.String("addr", ln.Addr().String()),
		slog.String("prefixes", "/gemini /openrouter /openai /kie /deepseek"))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("fake providers: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	srv.Wait()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("fake providers: shutdown: %w", err)
	}
	return nil
}

func logRequests(h http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		logger.Info("fake request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("took", time.Since(start)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets DeepSeek's keep-alive lines through the logging wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
