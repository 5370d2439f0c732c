package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

// presetCase is an access case on a fresh preset of the owner.
func presetCase(method string, want int) accessCase {
	return accessCase{
		name: method + " /api/v1/presets/{id}",
		create: func(t *testing.T, b *testBundle, owner *client) (string, string) {
			res := owner.do("POST", "/api/v1/presets", map[string]any{"name": "p-" + store.NewID(), "settings": map[string]any{}})
			require.Equal(t, http.StatusCreated, res.status, string(res.body))
			return method, fmt.Sprintf("/api/v1/presets/%s", res.json(t)["id"].(string))
		},
		wantOwner: want, wantOther: http.StatusNotFound, wantAdmin: want,
	}
}

// TestPresets: presets are validated by the batch request's checks (mode,
// aspect, enhance, budget, priority, group count, filters against the
// pool), stored normalised, listed by name, renamed and replaced with
// PATCH, and invisible to other users (404).
func TestPresets(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupFull(t, engine, true)
		b.createUser(t, "ops", store.RoleOperator)
		b.createUser(t, "other", store.RoleOperator)
		c, other := b.login(t, "ops"), b.login(t, "other")

		winter := map[string]any{"mode": "smart", "groups": 4, "aspect": "9:16", "enhance": "off",
			"filters": map[string]any{"provinces": []string{"13"}, "months": []int{12, 1, 12}}}
		for _, tc := range []struct {
			name       string
			body       any
			wantStatus int
			wantCode   string
		}{
			{"smart with filters", map[string]any{"name": " Winter north ", "settings": winter}, http.StatusCreated, ""},
			{"defaults", map[string]any{"name": "defaults", "settings": map[string]any{}}, http.StatusCreated, ""},
			{"manual", map[string]any{"name": "xingtai", "settings": map[string]any{"mode": "manual",
				"manual": map[string]any{"county": "邢台县", "month": 7, "road": "dirt", "elements": []string{"tricycle"}}}}, http.StatusCreated, ""},
			{"name taken", map[string]any{"name": "defaults", "settings": map[string]any{}}, http.StatusConflict, "preset_name_taken"},
			{"empty name", map[string]any{"name": "  ", "settings": map[string]any{}}, http.StatusBadRequest, "preset_bad_name"},
			{"name too long", map[string]any{"name": strings.Repeat("名", 101), "settings": map[string]any{}}, http.StatusBadRequest, "preset_bad_name"},
			{"control character", map[string]any{"name": "a\tb", "settings": map[string]any{}}, http.StatusBadRequest, "preset_bad_name"},
			{"bidi override", map[string]any{"name": "preset\u202Eevil", "settings": map[string]any{}}, http.StatusBadRequest, "preset_bad_name"},
			{"settings missing", map[string]any{"name": "x"}, http.StatusBadRequest, "preset_settings_missing"},
			{"bad mode", map[string]any{"name": "x", "settings": map[string]any{"mode": "random"}}, http.StatusBadRequest, "batch_bad_mode"},
			{"bad aspect", map[string]any{"name": "x", "settings": map[string]any{"aspect": "4:3"}}, http.StatusBadRequest, "batch_bad_aspect"},
			{"bad resolution", map[string]any{"name": "x", "settings": map[string]any{"resolution": 2048}}, http.StatusBadRequest, "batch_bad_aspect"},
			{"bad enhance", map[string]any{"name": "x", "settings": map[string]any{"enhance": "max"}}, http.StatusBadRequest, "batch_bad_enhance"},
			{"bad budget", map[string]any{"name": "x", "settings": map[string]any{"budget": "-1"}}, http.StatusBadRequest, "batch_bad_budget"},
			{"bad priority", map[string]any{"name": "x", "settings": map[string]any{"priority": "urgent"}}, http.StatusBadRequest, "batch_bad_priority"},
			{"high priority is for admins", map[string]any{"name": "x", "settings": map[string]any{"priority": "high"}}, http.StatusForbidden, "batch_priority_forbidden"},
			{"13 groups", map[string]any{"name": "x", "settings": map[string]any{"groups": 13}}, http.StatusBadRequest, "plan_bad_groups"},
			{"unknown province", map[string]any{"name": "x", "settings": map[string]any{"filters": map[string]any{"provinces": []string{"99"}}}}, http.StatusBadRequest, "plan_bad_filter"},
			{"unknown road", map[string]any{"name": "x", "settings": map[string]any{"filters": map[string]any{"roads": []string{"lava"}}}}, http.StatusBadRequest, "plan_bad_filter"},
			{"month 13", map[string]any{"name": "x", "settings": map[string]any{"filters": map[string]any{"months": []int{13}}}}, http.StatusBadRequest, "plan_bad_filter"},
			{"manual without combination", map[string]any{"name": "x", "settings": map[string]any{"mode": "manual"}}, http.StatusBadRequest, "batch_manual_missing"},
			{"manual unknown county", map[string]any{"name": "x", "settings": map[string]any{"mode": "manual",
				"manual": map[string]any{"county": "火星县", "month": 7, "road": "dirt", "elements": []string{"tricycle"}}}}, http.StatusUnprocessableEntity, "plan_unknown_county"},
			{"manual unknown road", map[string]any{"name": "x", "settings": map[string]any{"mode": "manual",
				"manual": map[string]any{"county": "130503", "month": 7, "road": "lava", "elements": []string{"tricycle"}}}}, http.StatusBadRequest, "plan_unknown_road"},
			{"per-submission field", map[string]any{"name": "x", "settings": map[string]any{"upload_id": "u"}}, http.StatusBadRequest, "invalid_json"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := c.do("POST", "/api/v1/presets", tc.body)
				require.Equal(t, tc.wantStatus, res.status, string(res.body))
				if tc.wantCode != "" {
					require.Equal(t, "application/problem+json", res.header.Get("Content-Type"))
					require.Equal(t, tc.wantCode, res.json(t)["code"])
					return
				}
				require.Equal(t, "/api/v1/presets/"+res.json(t)["id"].(string), res.header.Get("Location"))
			})
		}

		// Listed by name, normalised: defaults filled in, filters canonical.
		res := c.do("GET", "/api/v1/presets", nil)
		require.Equal(t, http.StatusOK, res.status)
		items := res.json(t)["items"].([]any)
		var names []string
		byName := map[string]map[string]any{}
		for _, it := range items {
			p := it.(map[string]any)
			names = append(names, p["name"].(string))
			byName[p["name"].(string)] = p
		}
		require.Equal(t, []string{"Winter north", "defaults", "xingtai"}, names)
		ws := byName["Winter north"]["settings"].(map[string]any)
		require.Equal(t, map[string]any{"provinces": []any{"130000"}, "months": []any{1.0, 12.0}, "roads": []any{}, "element_categories": []any{}}, ws["filters"])
		require.EqualValues(t, 1024, ws["resolution"])
		require.Equal(t, "normal", ws["priority"])
		ds := byName["defaults"]["settings"].(map[string]any)
		require.Equal(t, "smart", ds["mode"])
		require.EqualValues(t, 8, ds["groups"])
		require.Equal(t, "balanced", ds["enhance"])
		require.Equal(t, "3:4", ds["aspect"])
		ms := byName["xingtai"]["settings"].(map[string]any)
		require.Equal(t, "manual", ms["mode"])
		require.NotContains(t, ms, "groups")
		require.Equal(t, "130503", ms["manual"].(map[string]any)["county"], "邢台县 is stored resolved to 信都区's code")
		page := c.do("GET", "/api/v1/presets?limit=2", nil).json(t)
		require.Len(t, page["items"], 2)
		rest := c.do("GET", "/api/v1/presets?limit=2&cursor="+page["next_cursor"].(string), nil).json(t)
		require.Len(t, rest["items"], 1)
		require.Empty(t, rest["next_cursor"])

		id := byName["defaults"]["id"].(string)
		path := "/api/v1/presets/" + id
		for _, tc := range []struct {
			name       string
			body       any
			wantStatus int
			wantCode   string
		}{
			{"rename", map[string]any{"name": "quick"}, http.StatusOK, ""},
			{"replace settings", map[string]any{"settings": map[string]any{"groups": 2, "resolution": 1536}}, http.StatusOK, ""},
			{"invalid settings change nothing", map[string]any{"name": "renamed", "settings": map[string]any{"groups": 0, "mode": "manual", "manual": nil}}, http.StatusBadRequest, "batch_manual_missing"},
			{"rename onto a taken name", map[string]any{"name": "xingtai"}, http.StatusConflict, "preset_name_taken"},
			{"bad name", map[string]any{"name": ""}, http.StatusBadRequest, "preset_bad_name"},
		} {
			t.Run("PATCH "+tc.name, func(t *testing.T) {
				res := c.do("PATCH", path, tc.body)
				require.Equal(t, tc.wantStatus, res.status, string(res.body))
				if tc.wantCode != "" {
					require.Equal(t, tc.wantCode, res.json(t)["code"])
				}
			})
		}
		p := c.do("GET", path, nil).json(t)
		require.Equal(t, "quick", p["name"])
		require.EqualValues(t, 2, p["settings"].(map[string]any)["groups"])
		require.EqualValues(t, 1536, p["settings"].(map[string]any)["resolution"])

		// Another user sees none of it and may reuse the names.
		require.Empty(t, other.do("GET", "/api/v1/presets", nil).json(t)["items"])
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			res := other.do(m, path, map[string]any{"name": "mine"})
			require.Equal(t, http.StatusNotFound, res.status, m)
			require.Equal(t, "preset_not_found", res.json(t)["code"])
		}
		res = other.do("POST", "/api/v1/presets", map[string]any{"name": "quick", "settings": map[string]any{}})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		require.Equal(t, "quick", c.do("GET", path, nil).json(t)["name"])

		require.Equal(t, http.StatusNoContent, c.do("DELETE", path, nil).status)
		require.Equal(t, http.StatusNotFound, c.do("GET", path, nil).status)
		require.Equal(t, http.StatusUnauthorized, b.client(t).do("GET", "/api/v1/presets", nil).status)
	})
}
