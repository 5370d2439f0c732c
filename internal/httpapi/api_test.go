package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/store/storetest"
)

func forEachEngine(t *testing.T, fn func(t *testing.T, engine store.Engine)) {
	for _, e := range storetest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			fn(t, e)
		})
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setup(t, engine)
		b.createUser(t, "alice", store.RoleOperator)
		c := b.client(t)
		for i := 1; i <= 5; i++ {
			res := c.do("POST", "/api/v1/auth/login", map[string]string{"username": "alice", "password": "wrong"})
			require.Equal(t, http.StatusUnauthorized, res.status, "failure %d", i)
			require.Equal(t, "invalid_credentials", res.json(t)["code"])
			b.clock.Add(time.Minute)
		}
		// The 6th attempt within 15 minutes is refused even with the right password.
		res := c.do("POST", "/api/v1/auth/login", map[string]string{"username": "alice", "password": "password-alice"})
		require.Equal(t, http.StatusTooManyRequests, res.status)
		require.Equal(t, "login_throttled", res.json(t)["code"])
		require.Equal(t, "600", res.header.Get("Retry-After"))
		// Once the oldest failure is 15 minutes old, the right password works.
		b.clock.Add(10 * time.Minute)
		res = c.do("POST", "/api/v1/auth/login", map[string]string{"username": "alice", "password": "password-alice"})
		require.Equal(t, http.StatusOK, res.status, string(res.body))

		// 20 failures from one IP across usernames block the 21st for any username.
		b.clock.Add(15 * time.Minute)
		for i := 0; i < 20; i++ {
			res := c.do("POST", "/api/v1/auth/login", map[string]string{"username": fmt.Sprintf("ghost%d", i), "password": "x"})
			require.Equal(t, http.StatusUnauthorized, res.status)
		}
		res = c.do("POST", "/api/v1/auth/login", map[string]string{"username": "alice", "password": "password-alice"})
		require.Equal(t, http.StatusTooManyRequests, res.status)
	})
}

func TestLoginThrottleIsAtomicWithTheAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	b.createUser(t, "alice", store.RoleOperator)
	c := b.client(t)
	// Thirty simultaneous wrong guesses: at most the five the throttle
	// reserves are checked, the rest are refused unchecked.
	codes := make(chan int, 30)
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- c.do("POST", "/api/v1/auth/login", map[string]string{"username": "alice", "password": "wrong"}).status
		}()
	}
	wg.Wait()
	close(codes)
	byCode := map[int]int{}
	for code := range codes {
		byCode[code]++
	}
	require.LessOrEqual(t, byCode[http.StatusUnauthorized], 5, "%v", byCode)
	require.GreaterOrEqual(t, byCode[http.StatusTooManyRequests], 25, "%v", byCode)
	res := c.do("POST", "/api/v1/auth/login", map[string]string{"username": "alice", "password": "password-alice"})
	require.Equal(t, http.StatusTooManyRequests, res.status, "the right password after the burst is still refused")
}

func TestLoginRefusesOverlongUsernameBeforeStoringIt(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	c := b.client(t)
	for i := 0; i < 8; i++ {
		res := c.do("POST", "/api/v1/auth/login", map[string]string{"username": strings.Repeat("x", 65), "password": "wrong"})
		require.Equal(t, http.StatusBadRequest, res.status, string(res.body))
		require.Equal(t, "credentials_too_long", res.json(t)["code"])
	}
	// Neither throttled (it was never attempted) nor audited.
	res := c.do("POST", "/api/v1/auth/login", map[string]string{"username": strings.Repeat("x", 65), "password": "wrong"})
	require.Equal(t, http.StatusBadRequest, res.status)
	items, err := b.db.ListAudit(context.Background(), store.AuditFilter{Action: "auth.login_failed", Limit: 10})
	require.NoError(t, err)
	require.Empty(t, items)
}

func TestPasswordChangeIsThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	b.createUser(t, "alice", store.RoleOperator)
	c := b.login(t, "alice")
	for i := 1; i <= 5; i++ {
		res := c.do("PUT", "/api/v1/auth/password", map[string]string{"current_password": "guess", "new_password": "a-new-password-1"})
		require.Equal(t, http.StatusForbidden, res.status, "guess %d", i)
	}
	// The sixth guess is refused unchecked, even when it is right.
	res := c.do("PUT", "/api/v1/auth/password", map[string]string{"current_password": "password-alice", "new_password": "a-new-password-1"})
	require.Equal(t, http.StatusTooManyRequests, res.status, string(res.body))
	require.Equal(t, "password_throttled", res.json(t)["code"])
}

func TestCrossOriginProtection(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setup(t, engine)
		b.createUser(t, "alice", store.RoleOperator)
		c := b.login(t, "alice")
		// A cross-site form post carrying the session cookie is refused.
		c.origin = "https://evil.example"
		res := c.do("POST", "/api/v1/auth/tokens", map[string]string{"name": "x"})
		require.Equal(t, http.StatusForbidden, res.status, string(res.body))
		require.Equal(t, "cross_origin_forbidden", res.json(t)["code"])
		require.Equal(t, "application/problem+json", res.header.Get("Content-Type"))
		// The same request from the app's own origin works.
		c.origin = b.srv.URL
		res = c.do("POST", "/api/v1/auth/tokens", map[string]string{"name": "x"})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		token := res.json(t)["token"].(string)
		require.True(t, strings.HasPrefix(token, "ldg_"))

		// Bearer tokens are not subject to the origin check (no ambient credential).
		tc := b.client(t)
		tc.origin, tc.bearer = "https://elsewhere.example", token
		res = tc.do("POST", "/api/v1/auth/tokens", map[string]string{"name": "from-ci"})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		res = tc.do("GET", "/api/v1/auth/me", nil)
		require.Equal(t, http.StatusOK, res.status)
		require.Equal(t, "alice", res.json(t)["user"].(map[string]any)["username"])
	})
}

type accessCase struct {
	name string
	// create makes a resource owned by owner and returns method and path.
	create                          func(t *testing.T, b *testBundle, owner *client) (method, path string)
	wantOwner, wantOther, wantAdmin int
}

// uploadCase is an access case on a fresh upload of the owner.
func uploadCase(method, pathFmt string, want int) accessCase {
	return accessCase{
		name: method + " " + pathFmt,
		create: func(t *testing.T, b *testBundle, owner *client) (string, string) {
			res := owner.upload(part{"file", "p.jpg", "image/jpeg", testPhoto(1100, 1000, 7)})
			require.Equal(t, http.StatusCreated, res.status, string(res.body))
			return method, fmt.Sprintf(pathFmt, res.json(t)["id"].(string))
		},
		wantOwner: want, wantOther: http.StatusNotFound, wantAdmin: want,
	}
}

// batchCase is an access case on a fresh (queued: workers not started)
// one-group batch of the owner.
func batchCase(method, pathFmt string, want int) accessCase {
	return accessCase{
		name: method + " " + pathFmt,
		create: func(t *testing.T, b *testBundle, owner *client) (string, string) {
			res := owner.upload(part{"file", "p.jpg", "image/jpeg", testPhoto(1100, 1000, 7)})
			require.Equal(t, http.StatusCreated, res.status, string(res.body))
			res = owner.do("POST", "/api/v1/batches", map[string]any{"upload_id": res.json(t)["id"], "mode": "smart", "groups": 1})
			require.Equal(t, http.StatusAccepted, res.status, string(res.body))
			return method, fmt.Sprintf(pathFmt, res.json(t)["id"].(string))
		},
		wantOwner: want, wantOther: http.StatusNotFound, wantAdmin: want,
	}
}

// TestAccessTable checks every owned resource route for {owner, other user,
// admin}: others get 404 (never 403), the owner and admins succeed. Later
// components append their routes to cases.
func TestAccessTable(t *testing.T) {
	t.Parallel()
	cases := []accessCase{
		{
			name: "DELETE /api/v1/auth/tokens/{id}",
			create: func(t *testing.T, b *testBundle, owner *client) (string, string) {
				res := owner.do("POST", "/api/v1/auth/tokens", map[string]string{"name": "t"})
				require.Equal(t, http.StatusCreated, res.status)
				id := res.json(t)["api_token"].(map[string]any)["id"].(string)
				return "DELETE", "/api/v1/auth/tokens/" + id
			},
			wantOwner: http.StatusNoContent, wantOther: http.StatusNotFound, wantAdmin: http.StatusNoContent,
		},
		uploadCase("GET", "/api/v1/uploads/%s", http.StatusOK),
		uploadCase("GET", "/api/v1/uploads/%s/content?size=thumb", http.StatusOK),
		uploadCase("POST", "/api/v1/uploads/%s/links", http.StatusCreated),
		uploadCase("DELETE", "/api/v1/uploads/%s", http.StatusNoContent),
		batchCase("GET", "/api/v1/batches/%s", http.StatusOK),
		batchCase("GET", "/api/v1/batches/%s/events", http.StatusOK),
		batchCase("POST", "/api/v1/batches/%s/pause", http.StatusOK),
		batchCase("POST", "/api/v1/batches/%s/cancel", http.StatusOK),
		batchCase("POST", "/api/v1/batches/%s/retry", http.StatusConflict),
		batchCase("POST", "/api/v1/batches/%s/links", http.StatusCreated),
		batchCase("GET", "/api/v1/batches/%s/download", http.StatusOK),
		batchCase("DELETE", "/api/v1/batches/%s", http.StatusConflict),
		presetCase("GET", http.StatusOK),
		presetCase("PATCH", http.StatusOK),
		presetCase("DELETE", http.StatusNoContent),
		{
			name: "PUT /api/v1/admin/users/{id}/budget",
			create: func(t *testing.T, b *testBundle, owner *client) (string, string) {
				res := owner.do("GET", "/api/v1/auth/me", nil)
				return "PUT", "/api/v1/admin/users/" + res.json(t)["user"].(map[string]any)["id"].(string) + "/budget"
			},
			wantOwner: http.StatusForbidden, wantOther: http.StatusForbidden, wantAdmin: http.StatusOK,
		},
		{
			name: "GET /api/v1/admin/users/{id}",
			create: func(t *testing.T, b *testBundle, owner *client) (string, string) {
				res := owner.do("GET", "/api/v1/auth/me", nil)
				return "GET", "/api/v1/admin/users/" + res.json(t)["user"].(map[string]any)["id"].(string)
			},
			wantOwner: http.StatusForbidden, wantOther: http.StatusForbidden, wantAdmin: http.StatusOK,
		},
	}
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupFull(t, engine, true)
		b.createUser(t, "owner", store.RoleOperator)
		b.createUser(t, "other", store.RoleOperator)
		b.createUser(t, "boss", store.RoleAdmin)
		owner, other, admin := b.login(t, "owner"), b.login(t, "other"), b.login(t, "boss")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				m, p := tc.create(t, b.testBundle, owner)
				require.Equal(t, tc.wantOther, other.do(m, p, nil).status, "other user")
				m, p = tc.create(t, b.testBundle, owner)
				require.Equal(t, tc.wantAdmin, admin.do(m, p, nil).status, "admin")
				m, p = tc.create(t, b.testBundle, owner)
				require.Equal(t, tc.wantOwner, owner.do(m, p, nil).status, "owner")
			})
		}
		// Anonymous requests to authenticated routes get 401 problem+json.
		res := b.client(t).do("GET", "/api/v1/auth/me", nil)
		require.Equal(t, http.StatusUnauthorized, res.status)
		require.Equal(t, "unauthenticated", res.json(t)["code"])
	})
}

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setup(t, engine)
		b.createUser(t, "boss", store.RoleAdmin)
		b.createUser(t, "op", store.RoleOperator)
		admin, op := b.login(t, "boss"), b.login(t, "op")

		require.Equal(t, http.StatusForbidden, op.do("GET", "/api/v1/admin/users", nil).status)
		res := admin.do("POST", "/api/v1/admin/users", map[string]string{"username": "newbie", "password": "long-enough-pw"})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		require.Equal(t, "operator", res.json(t)["role"])
		res = admin.do("POST", "/api/v1/admin/users", map[string]string{"username": "newbie", "password": "long-enough-pw"})
		require.Equal(t, http.StatusConflict, res.status)
		require.Equal(t, "username_taken", res.json(t)["code"])
		res = admin.do("POST", "/api/v1/admin/users", map[string]string{"username": "x y", "password": "long-enough-pw"})
		require.Equal(t, http.StatusBadRequest, res.status)
		res = admin.do("POST", "/api/v1/admin/users", map[string]any{"username": "ok", "password": "long-enough-pw", "extra": 1})
		require.Equal(t, http.StatusBadRequest, res.status, "unknown fields are refused")

		// The new user signs in; disabling revokes the session at once.
		nc := b.client(t)
		require.Equal(t, http.StatusOK, nc.do("POST", "/api/v1/auth/login", map[string]string{"username": "newbie", "password": "long-enough-pw"}).status)
		require.Equal(t, http.StatusOK, nc.do("GET", "/api/v1/auth/me", nil).status)
		res = admin.do("PATCH", "/api/v1/admin/users/"+id, map[string]any{"disabled": true})
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, http.StatusUnauthorized, nc.do("GET", "/api/v1/auth/me", nil).status)
		require.Equal(t, http.StatusUnauthorized, nc.do("POST", "/api/v1/auth/login", map[string]string{"username": "newbie", "password": "long-enough-pw"}).status)

		// Admins cannot lock themselves out.
		me := admin.do("GET", "/api/v1/auth/me", nil).json(t)["user"].(map[string]any)["id"].(string)
		require.Equal(t, http.StatusConflict, admin.do("PATCH", "/api/v1/admin/users/"+me, map[string]any{"disabled": true}).status)

		// Every change is in the audit log.
		res = admin.do("GET", "/api/v1/admin/audit?target_id="+id, nil)
		require.Equal(t, http.StatusOK, res.status)
		var audit struct {
			Items []store.AuditEntry `json:"items"`
		}
		require.NoError(t, json.Unmarshal(res.body, &audit))
		var actions []string
		for _, e := range audit.Items {
			actions = append(actions, e.Action)
			require.Equal(t, "boss", e.ActorName)
		}
		require.ElementsMatch(t, []string{"user.create", "user.update"}, actions)

		// Pagination.
		res = admin.do("GET", "/api/v1/admin/users?limit=2", nil)
		require.Equal(t, http.StatusOK, res.status)
		page := res.json(t)
		require.Len(t, page["items"], 2)
		require.NotEmpty(t, page["next_cursor"])
		res = admin.do("GET", "/api/v1/admin/users?limit=2&cursor="+page["next_cursor"].(string), nil)
		require.Len(t, res.json(t)["items"], 1)
		require.Equal(t, http.StatusBadRequest, admin.do("GET", "/api/v1/admin/users?limit=0", nil).status)
	})
}

func TestPasswordChangeRevokesSessions(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	b.createUser(t, "alice", store.RoleOperator)
	c, c2 := b.login(t, "alice"), b.login(t, "alice")
	res := c.do("PUT", "/api/v1/auth/password", map[string]string{"current_password": "nope", "new_password": "a-new-long-password"})
	require.Equal(t, http.StatusForbidden, res.status)
	res = c.do("PUT", "/api/v1/auth/password", map[string]string{"current_password": "password-alice", "new_password": "short"})
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	require.Equal(t, "weak_password", res.json(t)["code"])
	res = c.do("PUT", "/api/v1/auth/password", map[string]string{"current_password": "password-alice", "new_password": "a-new-long-password"})
	require.Equal(t, http.StatusNoContent, res.status, string(res.body))
	require.Equal(t, http.StatusUnauthorized, c2.do("GET", "/api/v1/auth/me", nil).status)
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite, func(c *httpapi.Config, _ *httpapi.Deps) {
		c.TrustedProxies = append(c.TrustedProxies, mustPrefix("127.0.0.0/8"), mustPrefix("::1/128"))
	})
	b.createUser(t, "alice", store.RoleOperator)
	for _, tc := range []struct {
		proto      string
		wantSecure bool
	}{{"", false}, {"https", true}} {
		req, _ := http.NewRequest("POST", b.srv.URL+"/api/v1/auth/login", strings.NewReader(`{"username":"alice","password":"password-alice"}`))
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		ck := res.Cookies()[0]
		require.Equal(t, httpapi.SessionCookie, ck.Name)
		require.True(t, ck.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, ck.SameSite)
		require.Equal(t, tc.wantSecure, ck.Secure, "proto %q", tc.proto)
		require.Equal(t, tc.wantSecure, res.Header.Get("Strict-Transport-Security") != "")
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		require.NotEmpty(t, res.Header.Get("X-Request-Id"))
	}
}

func TestMetricsRouteLabels(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	c := b.client(t)
	require.Equal(t, http.StatusOK, c.do("GET", "/readyz", nil).status)
	metrics := c.do("GET", "/metrics", nil)
	require.Contains(t, string(metrics.body), `ludeng_http_request_duration_seconds_bucket{method="GET",route="GET /readyz",status="200"`)

	count := func() int { return testutil.CollectAndCount(b.registry, "ludeng_http_request_duration_seconds") }
	before := count()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		p := fmt.Sprintf("/%x/%x", rng.Uint64(), rng.Uint64())
		if i%2 == 0 {
			p = "/api/v1" + p
		}
		require.Equal(t, http.StatusNotFound, c.do("GET", p, nil).status)
	}
	// Unknown paths share route="unmatched": at most the two new series
	// (unmatched/404 for the SPA and API fallbacks share one label set).
	require.LessOrEqual(t, count()-before, 1)
	body := string(c.do("GET", "/metrics", nil).body)
	require.Contains(t, body, `route="unmatched",status="404"`)
}

func TestProblemHidesInternalCause(t *testing.T) {
	t.Parallel()
	api := newAPI(t, httpapi.Config{DataDir: t.TempDir()}, httpapi.Deps{DB: storetest.Open(t, store.SQLite)})
	api.AddRoutes(httpapi.Route{Method: "GET", Path: "/api/v1/test/boom", Access: httpapi.Public,
		Handle: func(w http.ResponseWriter, r *http.Request) error {
			return fmt.Errorf("connect to 10.0.0.5:5432: password authentication failed for user secret_user")
		}})
	// Handler is built lazily; AddRoutes before the first request.
	srvHandler := api.Handler()
	rec := newRecorder()
	req, _ := http.NewRequest("GET", "/api/v1/test/boom", nil)
	srvHandler.ServeHTTP(rec, req)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "secret_user")
	require.NotContains(t, rec.Body.String(), "10.0.0.5")
	var p httpapi.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	require.Equal(t, "internal_error", p.Code)
	require.NotEmpty(t, p.RequestID)
	require.Equal(t, fault.Internal, fault.KindOf(fmt.Errorf("x")))
}

func TestReadyzFailsOnDisk(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite, func(c *httpapi.Config, d *httpapi.Deps) {
		c.MinFreeDisk = 1 << 40
		d.DiskFree = func(string) (int64, error) { return 1 << 20, nil }
	})
	b.api.AddCheck(httpapi.Check{Name: "providers", Fn: func(context.Context) (any, error) { return nil, fmt.Errorf("all open") }})
	res := b.client(t).do("GET", "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, res.status)
	m := res.json(t)
	checks := m["checks"].(map[string]any)
	require.Equal(t, "fail", checks["disk"].(map[string]any)["status"])
	require.Equal(t, "ok", checks["database"].(map[string]any)["status"])
	require.Equal(t, "fail", checks["providers"].(map[string]any)["status"])
	require.Equal(t, false, checks["providers"].(map[string]any)["critical"])
}

// TestReadyzAndMetricsHideDetailFromAnonymousCallers: regression for
// "/readyz returns an internal error string to anonymous callers". The test
// client is on loopback, so the operator network is moved elsewhere.
func TestReadyzAndMetricsHideDetailFromAnonymousCallers(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite, func(c *httpapi.Config, d *httpapi.Deps) {
		c.OperatorNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		c.MetricsToken = "metrics-token-for-tests"
	})
	b.api.AddCheck(httpapi.Check{Name: "providers", Fn: func(context.Context) (any, error) {
		return nil, fmt.Errorf("dial tcp 10.0.0.7:443: connection refused")
	}})
	anon := b.client(t)
	res := anon.do("GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, res.status, "non-critical failures keep the node ready")
	require.JSONEq(t, `{"status":"ok"}`, string(res.body))
	require.NotContains(t, string(res.body), "10.0.0.7")
	res = anon.do("GET", "/metrics", nil)
	require.Equal(t, http.StatusForbidden, res.status)
	require.Equal(t, "operator_only", res.json(t)["code"])
	anon.bearer = "wrong"
	require.Equal(t, http.StatusForbidden, anon.do("GET", "/metrics", nil).status)

	op := b.client(t)
	op.bearer = "metrics-token-for-tests"
	res = op.do("GET", "/readyz", nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Contains(t, string(res.body), "10.0.0.7", "operators see the checks")
	res = op.do("GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, res.status)
	require.Contains(t, string(res.body), "ludeng_http_request_duration_seconds")
}

// TestReadyzDraining: once a process drains (a new binary took over its
// listener, or it is about to stop) /readyz says 503 "draining" while the
// API keeps answering, so load balancers move away without failed requests.
func TestReadyzDraining(t *testing.T) {
	t.Parallel()
	b := setup(t, store.SQLite)
	c := b.client(t)
	require.Equal(t, http.StatusOK, c.do("GET", "/readyz", nil).status)
	require.False(t, b.api.Draining())
	b.api.BeginDrain()
	res := c.do("GET", "/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, res.status)
	require.Equal(t, "draining", res.json(t)["status"])
	require.Equal(t, http.StatusOK, c.do("GET", "/livez", nil).status)
	require.Equal(t, http.StatusOK, c.do("GET", "/api/v1/meta", nil).status)
}

// TestOpenAPIMatchesRoutes fails when a registered route is missing from the
// OpenAPI document or the document lists a route nobody registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	b := setupFull(t, store.SQLite, true)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(httpapi.OpenAPIDocument(), &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	var documented, registered []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	for _, r := range b.api.Routes() {
		if strings.HasPrefix(r.Path, "/api/v1/test/") {
			continue
		}
		registered = append(registered, r.Pattern())
	}
	sort.Strings(documented)
	sort.Strings(registered)
	require.Equal(t, registered, documented)
	// The served document is the embedded one.
	res := b.client(t).do("GET", "/api/v1/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.status)
	require.JSONEq(t, string(httpapi.OpenAPIDocument()), string(res.body))
}
