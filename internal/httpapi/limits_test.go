package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/store/storetest"
)

func TestAPIRateLimitPerPrincipal(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite, func(c *httpapi.Config, _ *httpapi.Deps) { c.APIRate, c.APIBurst = 1, 3 })
	b.createUser(t, "alice", store.RoleOperator)
	b.createUser(t, "bob", store.RoleOperator)
	alice, bob := b.login(t, "alice"), b.login(t, "bob")
	for i := 0; i < 3; i++ {
		require.Equal(t, http.StatusOK, alice.do("GET", "/api/v1/auth/me", nil).status, "burst request %d", i+1)
	}
	res := alice.do("GET", "/api/v1/auth/me", nil)
	require.Equal(t, http.StatusTooManyRequests, res.status)
	require.Equal(t, "rate_limited", res.json(t)["code"])
	require.Equal(t, "1", res.header.Get("Retry-After"))
	// Another user has their own bucket.
	require.Equal(t, http.StatusOK, bob.do("GET", "/api/v1/auth/me", nil).status)
	// The bucket refills with time (injected clock).
	b.clock.Add(time.Second)
	require.Equal(t, http.StatusOK, alice.do("GET", "/api/v1/auth/me", nil).status)
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	api := httpapi.New(httpapi.Config{DataDir: t.TempDir()}, httpapi.Deps{DB: storetest.Open(t, store.SQLite)})
	api.AddRoutes(
		httpapi.Route{Method: "GET", Path: "/api/v1/test/panic", Access: httpapi.Public,
			Handle: func(w http.ResponseWriter, r *http.Request) error { panic("boom: secret detail") }},
		httpapi.Route{Method: "GET", Path: "/api/v1/test/abort", Access: httpapi.Public,
			Handle: func(w http.ResponseWriter, r *http.Request) error { panic(http.ErrAbortHandler) }},
	)
	h := api.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/test/panic", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "secret detail")
	require.Contains(t, rec.Body.String(), "internal_error")
	// ErrAbortHandler is net/http's way to abort a response: it must propagate.
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/test/abort", nil))
	})
}
