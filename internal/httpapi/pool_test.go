package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	pooldata "github.com/ludeng/ludeng/data/pool"
	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/poolsync"
	"github.com/ludeng/ludeng/internal/store"
)

func withPool(t *testing.T, b *testBundle) *poolsync.Manager {
	t.Helper()
	m := poolsync.New(b.db, nil)
	require.NoError(t, m.Start(context.Background(), pooldata.FS()))
	return m
}

func setupPool(t *testing.T, engine store.Engine) (*testBundle, *poolsync.Manager) {
	t.Helper()
	b := setup(t, engine)
	m := withPool(t, b)
	api := newAPI(t, httpapi.Config{DataDir: t.TempDir(), PasswordParams: testParams(), APIRate: 1000, APIBurst: 1000},
		httpapi.Deps{DB: b.db, Registry: b.registry2(), Now: b.clock.Now, Pool: m})
	b.replace(t, api)
	return b, m
}

func TestPoolRoutes(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b, _ := setupPool(t, engine)
		b.createUser(t, "op", store.RoleOperator)
		b.createUser(t, "boss", store.RoleAdmin)
		op, admin := b.login(t, "op"), b.login(t, "boss")

		// Every read endpoint answers operators.
		for _, p := range []string{
			"/api/v1/pool/version", "/api/v1/pool/provinces", "/api/v1/pool/provinces/130000/counties",
			"/api/v1/pool/regions?q=xingtai", "/api/v1/pool/regions/130503", "/api/v1/pool/roads", "/api/v1/pool/zones",
			"/api/v1/pool/elements?zone=warm_temperate&month=7&road=dirt", "/api/v1/pool/seasons?zone=warm_temperate&month=7",
		} {
			res := op.do("GET", p, nil)
			require.Equal(t, http.StatusOK, res.status, "%s: %s", p, res.body)
		}
		provs := op.do("GET", "/api/v1/pool/provinces", nil).json(t)["items"].([]any)
		require.Len(t, provs, 31)
		for _, q := range []string{"邢台县", "xingtai", "信都区", "130521"} {
			hits := op.do("GET", "/api/v1/pool/regions?q="+q, nil).json(t)["items"].([]any)
			require.NotEmpty(t, hits, q)
			require.Equal(t, "130503", hits[0].(map[string]any)["code"], q)
		}
		els := op.do("GET", "/api/v1/pool/elements?zone=warm_temperate&month=7&road=dirt", nil).json(t)["items"].([]any)
		var ids []string
		for _, e := range els {
			ids = append(ids, e.(map[string]any)["id"].(string))
		}
		require.Contains(t, ids, "tricycle")
		require.Equal(t, http.StatusBadRequest, op.do("GET", "/api/v1/pool/elements?month=13", nil).status)
		require.Equal(t, http.StatusNotFound, op.do("GET", "/api/v1/pool/regions/999999", nil).status)
		require.Equal(t, http.StatusUnauthorized, b.client(t).do("GET", "/api/v1/pool/provinces", nil).status)

		// Mutations are admin-only.
		region := op.do("GET", "/api/v1/pool/regions/130503", nil).body
		var reg map[string]any
		require.NoError(t, json.Unmarshal(region, &reg))
		delete(reg, "province_code")
		delete(reg, "province_name")
		reg["landmarks"] = append(reg["landmarks"].([]any), map[string]any{"zh": "测试地标", "en": "a test landmark"})
		el := map[string]any{"id": "test_kite", "category": "people", "zh": "测试风筝", "en": "a child flying a kite",
			"fit": map[string]any{"zones": []string{}, "months": []int{3, 4, 5}, "roads": []string{}, "not_snow": true}}
		for _, m := range []struct {
			method, path string
			body         any
		}{
			{"PUT", "/api/v1/pool/regions/130503", reg},
			{"DELETE", "/api/v1/pool/regions/130503", nil},
			{"POST", "/api/v1/pool/elements", el},
			{"PUT", "/api/v1/pool/elements/tricycle", el},
			{"DELETE", "/api/v1/pool/elements/tricycle", nil},
			{"POST", "/api/v1/pool/regions", reg},
			{"POST", "/api/v1/admin/pool/reload", nil},
		} {
			require.Equal(t, http.StatusForbidden, op.do(m.method, m.path, m.body).status, "%s %s", m.method, m.path)
		}

		// Admin edit → version N+1 with an audit row.
		n0 := int(op.do("GET", "/api/v1/pool/version", nil).json(t)["number"].(float64))
		res := admin.do("PUT", "/api/v1/pool/regions/130503", reg)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, float64(n0+1), res.json(t)["number"])
		res = admin.do("POST", "/api/v1/pool/elements", el)
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		require.Equal(t, float64(n0+2), res.json(t)["number"])
		require.Equal(t, http.StatusConflict, admin.do("POST", "/api/v1/pool/elements", el).status)
		bad := map[string]any{"id": "Bad Slug", "category": "people", "zh": "x", "en": "x", "fit": el["fit"]}
		res = admin.do("POST", "/api/v1/pool/elements", bad)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
		require.Equal(t, "pool_invalid", res.json(t)["code"])
		require.Equal(t, http.StatusOK, admin.do("DELETE", "/api/v1/pool/elements/test_kite", nil).status)
		require.Equal(t, http.StatusNotFound, admin.do("DELETE", "/api/v1/pool/elements/test_kite", nil).status)

		audit := admin.do("GET", "/api/v1/admin/audit?action=pool.region_put", nil).json(t)["items"].([]any)
		require.Len(t, audit, 1)
		require.Equal(t, "boss", audit[0].(map[string]any)["actor_name"])
		require.Equal(t, float64(n0+3), op.do("GET", "/api/v1/pool/version", nil).json(t)["number"])
		got := op.do("GET", "/api/v1/pool/regions/130503", nil).body
		require.Contains(t, string(got), "测试地标")
	})
}

// TestPoolEditVisibleToOtherServer runs two servers on one database (two
// nodes): an edit through one is served by the other after its reload
// (the admin endpoint here; SIGHUP and the 30 s poll call the same Reload).
func TestPoolEditVisibleToOtherServer(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		a, _ := setupPool(t, engine)
		a.createUser(t, "boss", store.RoleAdmin)
		mB := withPool(t, a)
		apiB := newAPI(t, httpapi.Config{DataDir: t.TempDir(), PasswordParams: testParams()}, httpapi.Deps{DB: a.db, Pool: mB})
		b := &testBundle{db: a.db, clock: a.clock}
		b.replace(t, apiB)

		adminA, adminB := a.login(t, "boss"), b.login(t, "boss")
		el := map[string]any{"id": "test_lantern", "category": "people", "zh": "测试灯笼", "en": "red lanterns",
			"fit": map[string]any{"zones": []string{}, "months": []int{1, 2}, "roads": []string{}, "not_snow": false}}
		res := adminA.do("POST", "/api/v1/pool/elements", el)
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		n := res.json(t)["number"]

		require.NotEqual(t, n, adminB.do("GET", "/api/v1/pool/version", nil).json(t)["number"])
		res = adminB.do("POST", "/api/v1/admin/pool/reload", nil)
		require.Equal(t, http.StatusOK, res.status)
		require.Equal(t, true, res.json(t)["changed"])
		require.Equal(t, n, adminB.do("GET", "/api/v1/pool/version", nil).json(t)["number"])
		els := adminB.do("GET", "/api/v1/pool/elements?month=1", nil).body
		require.Contains(t, string(els), "test_lantern")
	})
}
