package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func TestProviderAdminRoutes(t *testing.T) {
	t.Parallel()
	b := setupFull(t, store.SQLite, true)
	b.createUser(t, "op", store.RoleOperator)
	b.createUser(t, "boss", store.RoleAdmin)
	op, admin := b.login(t, "op"), b.login(t, "boss")

	require.Equal(t, http.StatusForbidden, op.do("GET", "/api/v1/admin/providers", nil).status)
	require.Equal(t, http.StatusForbidden, op.do("POST", "/api/v1/admin/providers/simulator/reset", nil).status)
	res := admin.do("GET", "/api/v1/admin/providers", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	m := res.json(t)
	require.Equal(t, true, m["simulated"])
	items := m["items"].([]any)
	require.NotEmpty(t, items)
	require.Contains(t, items[0].(map[string]any), "state")
	require.Equal(t, http.StatusNotFound, admin.do("POST", "/api/v1/admin/providers/nope/reset", nil).status)
	require.Equal(t, http.StatusOK, admin.do("POST", "/api/v1/admin/providers/probe", nil).status)

	// The kie callback needs no session but a known secret; without kie
	// configured every secret is wrong, and it says nothing more.
	anon := b.client(t)
	anon.origin = ""
	res = anon.do("POST", "/api/v1/hooks/kie/guess", map[string]any{"code": 200})
	require.Equal(t, http.StatusNotFound, res.status)
	require.Equal(t, "application/problem+json", res.header.Get("Content-Type"))
}
