package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyClient
	keyPrincipal
	keyRoute
	keyLifter
)

// client is what we believe about the caller after applying trusted proxies.
type client struct {
	IP    string
	HTTPS bool
}

type routeInfo struct{ unmatched bool }

func requestIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// RequestID returns the request id of ctx ("" outside a request).
func RequestID(ctx context.Context) string { return requestIDFrom(ctx) }

func clientFrom(ctx context.Context) client {
	c, _ := ctx.Value(keyClient).(client)
	return c
}

// ClientIP returns the caller's address as resolved through trusted proxies.
func ClientIP(ctx context.Context) string { return clientFrom(ctx).IP }

// recoverer turns a panic into a 500 problem; http.ErrAbortHandler is
// re-panicked because net/http uses it to abort a response on purpose.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.ErrorContext(r.Context(), "panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())),
					slog.String("request_id", requestIDFrom(r.Context())))
				s.writeProblem(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// requestID accepts a sane X-Request-Id from a trusted proxy (nginx sets it)
// and otherwise makes one, and echoes it in the response.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !s.fromTrustedProxy(r) || !validRequestID(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) fromTrustedProxy(r *http.Request) bool { return s.trusted(remoteAddr(r)) }

// clientInfo resolves the caller's IP and scheme. Forwarded headers are used
// only when the direct peer is a trusted proxy; the client IP is the
// right-most X-Forwarded-For entry that is not itself a trusted proxy, since
// everything left of it can be forged by the client.
func (s *Server) clientInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := remoteAddr(r)
		c := client{IP: peer.String(), HTTPS: r.TLS != nil}
		if s.trusted(peer) {
			if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
				parts := strings.Split(xff, ",")
				for i := len(parts) - 1; i >= 0; i-- {
					a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
					if err != nil {
						break
					}
					c.IP = a.Unmap().String()
					if !s.trusted(a.Unmap()) {
						break
					}
				}
			}
			if strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
				c.HTTPS = true
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyClient, c)))
	})
}

// securityHeaders sets headers every response carries. nginx sets the same
// set in production; having them here too keeps a direct deployment safe.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'")
		if clientFrom(r.Context()).HTTPS {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flush, hijack).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs and measures every request. It must wrap the mux directly:
// the mux records the matched pattern on the very *Request it is given, and
// that pattern (not the raw path) is the metric label, so unknown paths
// cannot create new series.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		info := &routeInfo{}
		r = r.WithContext(context.WithValue(r.Context(), keyRoute, info))
		rec := &statusRecorder{ResponseWriter: w}
		s.metrics.inflight.Inc()
		defer func() {
			s.metrics.inflight.Dec()
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			route := r.Pattern
			if route == "" || info.unmatched {
				route = "unmatched"
			}
			d := s.now().Sub(start)
			s.metrics.duration.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Observe(d.Seconds())
			level := slog.LevelInfo
			if route == "GET /livez" || route == "GET /readyz" || route == "GET /metrics" {
				level = slog.LevelDebug
			}
			s.logger.Log(r.Context(), level, "http request",
				slog.String("request_id", requestIDFrom(r.Context())),
				slog.String("method", r.Method), slog.String("path", loggedPath(r)), slog.String("route", route),
				slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", d), slog.String("ip", clientFrom(r.Context()).IP))
		}()
		next.ServeHTTP(rec, r)
	})
}

// loggedPath is the request path for the access log. A route whose path
// carries a credential (the kie callback's {secret}) is logged by its
// pattern, so the secret never reaches the logs.
func loggedPath(r *http.Request) string {
	if strings.Contains(r.Pattern, "{secret}") {
		_, p, _ := strings.Cut(r.Pattern, " ")
		return p
	}
	return r.URL.Path
}

func markUnmatched(r *http.Request) {
	if info, ok := r.Context().Value(keyRoute).(*routeInfo); ok {
		info.unmatched = true
	}
}

// limitBody caps the request body; handlers see *http.MaxBytesError past it.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n > 0 {
			if r.ContentLength > n {
				// Refuse early so a huge declared body is not read at all.
				r.Body = http.MaxBytesReader(w, r.Body, 0)
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// A long-lived route (uploads, zips, image bytes, WebSockets) may outlive the
// server-wide read/write timeouts, but only once the caller is known: until
// then the connection keeps the server's deadlines, so a client that sends
// headers and never a body (or never reads) is closed at ReadTimeout like any
// other. The route marks the request with a lifter; authentication (or, on a
// Public route, the handler after checking a signed link) calls liftDeadlines.
type lifter struct {
	w       http.ResponseWriter
	minRate int64
	grace   time.Duration
	lifted  bool
}

func (s *Server) longLived(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := &lifter{w: w, minRate: s.cfg.UploadMinRate, grace: s.cfg.UploadGrace}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyLifter, l)))
	})
}

// liftDeadlines frees an authenticated long-lived request from the server's
// timeouts. The write deadline goes; a request without a body loses its read
// deadline too, while a body must keep arriving at the minimum transfer rate
// (after a grace period), so a slow trickle cannot hold a connection forever.
func liftDeadlines(r *http.Request) {
	l, _ := r.Context().Value(keyLifter).(*lifter)
	if l == nil || l.lifted {
		return
	}
	l.lifted = true
	rc := http.NewResponseController(l.w)
	_ = rc.SetWriteDeadline(time.Time{})
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		_ = rc.SetReadDeadline(time.Time{})
		return
	}
	// Connection deadlines are wall-clock time, never the injectable clock.
	b := &minRateBody{ReadCloser: r.Body, rc: rc, start: time.Now(), rate: l.minRate, grace: l.grace}
	_ = rc.SetReadDeadline(b.start.Add(b.grace))
	r.Body = b
}

// minRateBody moves the read deadline forward as bytes arrive: by the time
// n bytes are in, the client may have used grace + n/rate seconds.
type minRateBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	n     int64
	rate  int64
	grace time.Duration
}

func (b *minRateBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if n > 0 {
		_ = b.rc.SetReadDeadline(b.start.Add(b.grace + time.Duration(b.n)*time.Second/time.Duration(b.rate)))
	}
	return n, err
}

// errRateLimited builds the 429 problem with its Retry-After.
func errRateLimited(code string, wait time.Duration) error {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	e := fault.New(fault.RateLimited, code, "Too many requests; retry later.").With("retry_after_seconds", secs)
	e.RetryAfter = secs
	return e
}
