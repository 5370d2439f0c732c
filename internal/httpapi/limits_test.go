package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/auth"
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
	api := newAPI(t, httpapi.Config{DataDir: t.TempDir()}, httpapi.Deps{DB: storetest.Open(t, store.SQLite)})
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

func TestTokensOfOneUserShareOneRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.APIRate, c.APIBurst, c.MaxTokensPerUser = 0.001, 6, 3
	})
	b.createUser(t, "alice", store.RoleOperator)
	alice := b.login(t, "alice")
	var tokens []*client
	for i := 0; i < 3; i++ {
		res := alice.do("POST", "/api/v1/auth/tokens", map[string]string{"name": fmt.Sprintf("t%d", i)})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		tc := b.client(t)
		tc.bearer = res.json(t)["token"].(string)
		tokens = append(tokens, tc)
	}
	// The fourth live token is refused.
	res := alice.do("POST", "/api/v1/auth/tokens", map[string]string{"name": "t3"})
	require.Equal(t, http.StatusConflict, res.status, string(res.body))
	require.Equal(t, "too_many_tokens", res.json(t)["code"])
	// The session spent 4 of the burst of 6 (login is not rate-limited), and
	// the tokens draw from the same bucket: two more requests pass in total.
	ok, limited := 0, 0
	for _, tc := range tokens {
		switch tc.do("GET", "/api/v1/auth/me", nil).status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
		}
	}
	require.Equal(t, 2, ok)
	require.Equal(t, 1, limited)
}

func TestTokenLifetimeAndNames(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite, func(c *httpapi.Config, _ *httpapi.Deps) { c.TokenMaxTTL = 30 * 24 * time.Hour })
	aliceUser := b.createUser(t, "alice", store.RoleOperator)
	alice := b.login(t, "alice")
	res := alice.do("POST", "/api/v1/auth/tokens", map[string]string{"name": "long", "expires_in": "31d"})
	require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
	require.Equal(t, "expires_in_too_long", res.json(t)["code"])
	res = alice.do("POST", "/api/v1/auth/tokens", map[string]string{"name": "default"})
	require.Equal(t, http.StatusCreated, res.status, string(res.body))
	exp, err := time.Parse(time.RFC3339, res.json(t)["api_token"].(map[string]any)["expires_at"].(string))
	require.NoError(t, err)
	require.Equal(t, b.clock.Now().Add(30*24*time.Hour).Unix(), exp.Unix(), "an unset expires_in gets the maximum")
	for _, name := range []string{"a\x00b", "line\r\nX-Injected: 1", "invoice\u202Egpj.exe", "x\u2066y"} {
		res := alice.do("POST", "/api/v1/auth/tokens", map[string]string{"name": name})
		require.Equal(t, http.StatusBadRequest, res.status, "%q: %s", name, res.body)
	}
	// A token stored without an expiry (before lifetimes were capped) ends
	// at the maximum lifetime after its creation.
	legacy, prefix := auth.NewAPIToken()
	require.NoError(t, b.db.InTx(context.Background(), func(tx *store.Tx) error {
		_, err := b.db.CreateAPIToken(context.Background(), tx, aliceUser.ID, "legacy", auth.TokenHash(legacy), prefix, nil)
		return err
	}))
	lc := b.client(t)
	lc.bearer = legacy
	require.Equal(t, http.StatusOK, lc.do("GET", "/api/v1/auth/me", nil).status)
	b.clock.Add(31 * 24 * time.Hour)
	require.Equal(t, http.StatusUnauthorized, lc.do("GET", "/api/v1/auth/me", nil).status)
}

// TestSecretPathIsNotLogged: the kie callback carries its secret in the path
// (kie calls a URL we give it); the access log shows the route pattern.
func TestSecretPathIsNotLogged(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	api := newAPI(t, httpapi.Config{DataDir: t.TempDir()}, httpapi.Deps{DB: storetest.Open(t, store.SQLite), Logger: logger})
	api.AddRoutes(httpapi.Route{Method: "POST", Path: "/api/v1/hooks/test/{secret}", Access: httpapi.Public, NoCSRF: true,
		Handle: func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(http.StatusNoContent); return nil }})
	rec := httptest.NewRecorder()
	api.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/hooks/test/s3cr3t-value", nil))
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Contains(t, buf.String(), "path=/api/v1/hooks/test/{secret}")
	require.NotContains(t, buf.String(), "s3cr3t-value")
}
