package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMetaAdvertisesUploadLimit: /api/v1/meta used to advertise 5 MiB
// whatever LUDENG_UPLOAD_MAX_BYTES said, so the UI refused photos the
// server accepts.
func TestMetaAdvertisesUploadLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"LUDENG_DATA_DIR": dir, "LUDENG_UPLOAD_MAX_BYTES": "12MiB", "LUDENG_ADMIN_PASSWORD": "admin-password-1"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	var logs bytes.Buffer
	a, err := openApp(context.Background(), cfg, cfg.newLogger(&logs), nil)
	require.NoError(t, err)
	t.Cleanup(a.close)

	rec := httptest.NewRecorder()
	a.api.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/meta", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	var meta struct {
		Limits struct {
			UploadMaxBytes int64 `json:"upload_max_bytes"`
			GroupsMax      int   `json:"groups_max"`
		} `json:"limits"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &meta))
	require.EqualValues(t, 12<<20, meta.Limits.UploadMaxBytes)
	require.Equal(t, 12, meta.Limits.GroupsMax)
}
