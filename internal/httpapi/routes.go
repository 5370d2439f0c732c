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

// Routes returns every API route: this is the one list of them. A
// component's group is present when its dependency was given to New
// (Deps); the OpenAPI and access table tests compare it with the document.
func (s *Server) Routes() []Route {
	rs := []Route{
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
	if s.pool != nil {
		rs = append(rs,
			Route{Method: "GET", Path: "/api/v1/pool/version", Access: Authenticated, Handle: s.handlePoolVersion},
			Route{Method: "GET", Path: "/api/v1/pool/provinces", Access: Authenticated, Handle: s.handlePoolProvinces},
			Route{Method: "GET", Path: "/api/v1/pool/provinces/{code}/counties", Access: Authenticated, Handle: s.handlePoolCounties},
			Route{Method: "GET", Path: "/api/v1/pool/regions", Access: Authenticated, Handle: s.handlePoolSearch},
			Route{Method: "GET", Path: "/api/v1/pool/regions/{code}", Access: Authenticated, Handle: s.handlePoolRegion},
			Route{Method: "POST", Path: "/api/v1/pool/regions", Access: AdminOnly, Handle: s.handlePoolPutRegion},
			Route{Method: "PUT", Path: "/api/v1/pool/regions/{code}", Access: AdminOnly, Handle: s.handlePoolPutRegion},
			Route{Method: "DELETE", Path: "/api/v1/pool/regions/{code}", Access: AdminOnly, Handle: s.handlePoolDeleteRegion},
			Route{Method: "GET", Path: "/api/v1/pool/roads", Access: Authenticated, Handle: s.handlePoolRoads},
			Route{Method: "GET", Path: "/api/v1/pool/zones", Access: Authenticated, Handle: s.handlePoolZones},
			Route{Method: "GET", Path: "/api/v1/pool/elements", Access: Authenticated, Handle: s.handlePoolElements},
			Route{Method: "POST", Path: "/api/v1/pool/elements", Access: AdminOnly, Handle: s.handlePoolPutElement},
			Route{Method: "PUT", Path: "/api/v1/pool/elements/{id}", Access: AdminOnly, Handle: s.handlePoolPutElement},
			Route{Method: "DELETE", Path: "/api/v1/pool/elements/{id}", Access: AdminOnly, Handle: s.handlePoolDeleteElement},
			Route{Method: "GET", Path: "/api/v1/pool/seasons", Access: Authenticated, Handle: s.handlePoolSeasons},
			Route{Method: "POST", Path: "/api/v1/admin/pool/reload", Access: AdminOnly, Handle: s.handlePoolReload},
		)
	}
	if s.uploads != nil {
		rs = append(rs,
			Route{Method: "POST", Path: "/api/v1/uploads", Access: Authenticated, Handle: s.handleCreateUpload, BodyLimit: -1, LongLived: true},
			Route{Method: "GET", Path: "/api/v1/uploads", Access: Authenticated, Handle: s.handleListUploads},
			Route{Method: "GET", Path: "/api/v1/uploads/{id}", Access: Authenticated, Handle: s.handleGetUpload},
			Route{Method: "DELETE", Path: "/api/v1/uploads/{id}", Access: Authenticated, Handle: s.handleDeleteUpload},
			// Public at the routing level: the handler accepts a session, a
			// token or a signed link.
			Route{Method: "GET", Path: "/api/v1/uploads/{id}/content", Access: Public, Handle: s.handleUploadContent, LongLived: true},
			Route{Method: "POST", Path: "/api/v1/uploads/{id}/links", Access: Authenticated, Handle: s.handleUploadLink},
		)
	}
	if s.providers != nil {
		rs = append(rs,
			Route{Method: "GET", Path: "/api/v1/admin/providers", Access: AdminOnly, Handle: s.handleProviders},
			Route{Method: "POST", Path: "/api/v1/admin/providers/{name}/reset", Access: AdminOnly, Handle: s.handleProviderReset},
			Route{Method: "POST", Path: "/api/v1/admin/providers/probe", Access: AdminOnly, Handle: s.handleProviderProbe},
			// The kie callback authenticates by the secret in its path, not
			// by session, and comes from kie's servers (no Origin to check).
			Route{Method: "POST", Path: "/api/v1/hooks/kie/{secret}", Access: Public, NoCSRF: true, BodyLimit: 1 << 20,
				Handle: s.handleKieCallback},
		)
	}
	if a := s.batches; a != nil {
		rs = append(rs,
			Route{Method: "POST", Path: "/api/v1/batches", Access: Authenticated, Handle: a.create},
			Route{Method: "GET", Path: "/api/v1/batches", Access: Authenticated, Handle: a.list},
			Route{Method: "GET", Path: "/api/v1/batches/{id}", Access: Authenticated, Handle: a.get},
			Route{Method: "PATCH", Path: "/api/v1/batches/{id}", Access: Authenticated, Handle: a.patchBatch},
			Route{Method: "DELETE", Path: "/api/v1/batches/{id}", Access: Authenticated, Handle: a.delete},
			Route{Method: "POST", Path: "/api/v1/batches/{id}/cancel", Access: Authenticated, Handle: a.control("cancel")},
			Route{Method: "POST", Path: "/api/v1/batches/{id}/pause", Access: Authenticated, Handle: a.control("pause")},
			Route{Method: "POST", Path: "/api/v1/batches/{id}/resume", Access: Authenticated, Handle: a.control("resume")},
			Route{Method: "POST", Path: "/api/v1/batches/{id}/retry", Access: Authenticated, Handle: a.control("retry")},
			Route{Method: "POST", Path: "/api/v1/batches/{id}/groups/{gid}/retry", Access: Authenticated, Handle: a.control("retry_group")},
			Route{Method: "POST", Path: "/api/v1/batches/{id}/rerun", Access: Authenticated, Handle: a.rerun},
			Route{Method: "GET", Path: "/api/v1/batches/{id}/events", Access: Authenticated, Handle: a.events},
			// Downloads and image content are Public at the routing level:
			// the handler accepts a session, a token or a signed link.
			Route{Method: "GET", Path: "/api/v1/batches/{id}/download", Access: Public, Handle: a.download, LongLived: true},
			Route{Method: "GET", Path: "/api/v1/batches/{id}/groups/{gid}/download", Access: Public, Handle: a.download, LongLived: true},
			Route{Method: "POST", Path: "/api/v1/batches/{id}/links", Access: Authenticated, Handle: a.link},
			Route{Method: "POST", Path: "/api/v1/batches/{id}/groups/{gid}/note", Access: Authenticated, Handle: a.writeNote},
			Route{Method: "PUT", Path: "/api/v1/batches/{id}/groups/{gid}/note", Access: Authenticated, Handle: a.editNote},
			Route{Method: "GET", Path: "/api/v1/images/{id}/content", Access: Public, Handle: a.imageContent, LongLived: true},
			Route{Method: "GET", Path: "/api/v1/images/{id}/download", Access: Public, Handle: a.imageDownload, LongLived: true},
			Route{Method: "PUT", Path: "/api/v1/images/{id}/star", Access: Authenticated, Handle: a.star},
			Route{Method: "POST", Path: "/api/v1/images/{id}/regenerate", Access: Authenticated, Handle: a.regenerate},
			Route{Method: "GET", Path: "/api/v1/images/{id}/versions", Access: Authenticated, Handle: a.versions},
			Route{Method: "POST", Path: "/api/v1/images/{id}/versions/{vid}/select", Access: Authenticated, Handle: a.selectVersion},
			Route{Method: "GET", Path: "/api/v1/images/{id}/versions/{vid}/content", Access: Authenticated, Handle: a.versionContent, LongLived: true},
			Route{Method: "GET", Path: "/api/v1/post-kit/tones", Access: Authenticated, Handle: a.tones},
			Route{Method: "GET", Path: "/api/v1/history", Access: Authenticated, Handle: a.history},
			Route{Method: "POST", Path: "/api/v1/history/archive", Access: Authenticated, Handle: a.archive},
			Route{Method: "GET", Path: "/api/v1/usage", Access: Authenticated, Handle: a.usage},
			Route{Method: "PUT", Path: "/api/v1/admin/users/{id}/budget", Access: AdminOnly, Handle: a.setBudget},
			Route{Method: "POST", Path: "/api/v1/admin/queue/pause", Access: AdminOnly, Handle: a.queue(true)},
			Route{Method: "POST", Path: "/api/v1/admin/queue/resume", Access: AdminOnly, Handle: a.queue(false)},
		)
	}
	if a := s.presets; a != nil {
		rs = append(rs,
			Route{Method: "GET", Path: "/api/v1/presets", Access: Authenticated, Handle: a.list},
			Route{Method: "POST", Path: "/api/v1/presets", Access: Authenticated, Handle: a.create},
			Route{Method: "GET", Path: "/api/v1/presets/{id}", Access: Authenticated, Handle: a.get},
			Route{Method: "PATCH", Path: "/api/v1/presets/{id}", Access: Authenticated, Handle: a.update},
			Route{Method: "DELETE", Path: "/api/v1/presets/{id}", Access: Authenticated, Handle: a.delete},
		)
	}
	if a := s.webhooks; a != nil {
		rs = append(rs,
			Route{Method: "GET", Path: "/api/v1/me/webhook", Access: Authenticated, Handle: a.get},
			Route{Method: "PUT", Path: "/api/v1/me/webhook", Access: Authenticated, Handle: a.put},
			Route{Method: "DELETE", Path: "/api/v1/me/webhook", Access: Authenticated, Handle: a.delete},
			Route{Method: "POST", Path: "/api/v1/me/webhook/test", Access: Authenticated, Handle: a.test},
			Route{Method: "GET", Path: "/api/v1/me/webhook/deliveries", Access: Authenticated, Handle: a.deliveries},
		)
	}
	if s.live != nil {
		rs = append(rs, Route{Method: "GET", Path: "/api/v1/ws", Access: Authenticated, Handle: s.live.h.Serve, LongLived: true, NoRateLimit: true})
	}
	if h := s.riverUI; h != nil {
		serve := func(w http.ResponseWriter, r *http.Request) error {
			h.ServeHTTP(w, r)
			return nil
		}
		rs = append(rs,
			Route{Method: "GET", Path: "/riverui/", Access: AdminOnly, Handle: serve, NoRateLimit: true},
			Route{Method: "POST", Path: "/riverui/", Access: AdminOnly, Handle: serve, NoRateLimit: true},
		)
	}
	return append(rs, s.testRoutes...)
}

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
