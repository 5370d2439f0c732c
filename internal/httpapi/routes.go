package httpapi

import (
	"net/http"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
)

// Access says who may call a route.
type Access int

// Access levels.
const (
	Public        Access = iota // no authentication
	Authenticated               // any enabled user (session or API token)
	AdminOnly                   // admins only; others get 403
)

// HandlerFunc is a handler that returns its error instead of writing it;
// writeProblem renders it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one API endpoint.
type Route struct {
	Method string
	Path   string
	Access Access
	Handle HandlerFunc
	// BodyLimit overrides the JSON body cap; -1 leaves the body unlimited
	// (the handler enforces its own limit, e.g. uploads).
	BodyLimit int64
	// LongLived lifts the server's read/write deadlines once the caller is
	// authenticated (uploads, zips, WebSockets); a Public long-lived handler
	// calls liftDeadlines itself after checking its signed link or session.
	LongLived bool
	// NoCSRF exempts the route from cross-origin protection (signed provider callbacks).
	NoCSRF bool
	// NoRateLimit exempts the route from the per-user API rate limit.
	NoRateLimit bool
}

// Pattern is the ServeMux pattern and the metrics route label.
func (rt Route) Pattern() string { return rt.Method + " " + rt.Path }

// coreRoutes are the foundation's endpoints; other components add theirs with AddRoutes.
func (s *Server) coreRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/meta", Access: Public, Handle: s.handleMeta},
		{Method: "GET", Path: "/api/v1/openapi.json", Access: Public, Handle: s.handleOpenAPI},
		{Method: "POST", Path: "/api/v1/auth/login", Access: Public, Handle: s.handleLogin, NoRateLimit: true},
		{Method: "POST", Path: "/api/v1/auth/logout", Access: Authenticated, Handle: s.handleLogout},
		{Method: "POST", Path: "/api/v1/auth/logout-all", Access: Authenticated, Handle: s.handleLogoutAll},
		{Method: "GET", Path: "/api/v1/auth/me", Access: Authenticated, Handle: s.handleMe},
		{Method: "PUT", Path: "/api/v1/auth/password", Access: Authenticated, Handle: s.handleChangePassword},
		{Method: "GET", Path: "/api/v1/auth/tokens", Access: Authenticated, Handle: s.handleListTokens},
		{Method: "POST", Path: "/api/v1/auth/tokens", Access: Authenticated, Handle: s.handleCreateToken},
		{Method: "DELETE", Path: "/api/v1/auth/tokens/{id}", Access: Authenticated, Handle: s.handleRevokeToken},
		{Method: "GET", Path: "/api/v1/admin/users", Access: AdminOnly, Handle: s.handleAdminListUsers},
		{Method: "POST", Path: "/api/v1/admin/users", Access: AdminOnly, Handle: s.handleAdminCreateUser},
		{Method: "GET", Path: "/api/v1/admin/users/{id}", Access: AdminOnly, Handle: s.handleAdminGetUser},
		{Method: "PATCH", Path: "/api/v1/admin/users/{id}", Access: AdminOnly, Handle: s.handleAdminUpdateUser},
		{Method: "GET", Path: "/api/v1/admin/audit", Access: AdminOnly, Handle: s.handleAdminAudit},
	}
}

// Routes returns every API route (for the OpenAPI test).
func (s *Server) Routes() []Route { return append(s.coreRoutes(), s.extra...) }

func (s *Server) build() http.Handler {
	mux := http.NewServeMux()
	cop := http.NewCrossOriginProtection()
	if s.cfg.BaseURL != "" {
		_ = cop.AddTrustedOrigin(strings.TrimRight(s.cfg.BaseURL, "/"))
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeProblem(w, r, fault.New(fault.Forbidden, "cross_origin_forbidden",
			"Cross-origin request refused. Use the ludeng web app or an API token."))
	}))
	for _, rt := range s.Routes() {
		mux.Handle(rt.Pattern(), s.wrap(rt, cop))
	}
	// Every other /api path is a problem+json 404, labelled "unmatched".
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		markUnmatched(r)
		s.writeProblem(w, r, fault.New(fault.NotFound, "route_not_found", "No such API endpoint."))
	}))
	mux.HandleFunc("GET /livez", s.handleLivez)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.Handle("/", s.spaHandler())

	var h http.Handler = mux
	h = s.observe(h)
	h = s.securityHeaders(h)
	h = s.clientInfo(h)
	h = s.requestID(h)
	h = s.recoverer(h)
	return h
}

// wrap applies the per-route middleware chain, outermost first: deadlines,
// body limit, cross-origin protection, authentication, role, rate limit.
func (s *Server) wrap(rt Route, cop *http.CrossOriginProtection) http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := rt.Handle(w, r); err != nil {
			s.writeProblem(w, r, err)
		}
	})
	if !rt.NoRateLimit && rt.Access != Public {
		h = s.rateLimit(h)
	}
	h = s.authenticate(rt.Access, h)
	if !rt.NoCSRF {
		h = s.crossOrigin(cop, h)
	}
	limit := rt.BodyLimit
	if limit == 0 {
		limit = s.cfg.JSONBodyLimit
	}
	h = limitBody(limit, h)
	if rt.LongLived {
		h = s.longLived(h)
	}
	return h
}

// crossOrigin applies Go's CrossOriginProtection to cookie-authenticated
// requests. Bearer-token requests are exempt: a browser cannot attach an
// Authorization header cross-site without a CORS preflight we never grant.
func (s *Server) crossOrigin(cop *http.CrossOriginProtection, next http.Handler) http.Handler {
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			next.ServeHTTP(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	})
}

func (s *Server) rateLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Keyed by user, not token: minting more tokens must not mint more rate.
		if ok, wait := s.limiter.allow(principalFrom(r.Context()).User.ID); !ok {
			s.writeProblem(w, r, errRateLimited("rate_limited", wait))
			return
		}
		next.ServeHTTP(w, r)
	})
}
