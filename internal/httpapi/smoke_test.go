package httpapi_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/smoke"
	"github.com/ludeng/ludeng/internal/store"
)

// TestSmokeClientAgainstThisAPI runs the deployment smoke test (`ludeng
// smoke`, what deploy/ludeng-deploy runs against every new release) against
// this API with the real pipeline. A change of the API that the smoke client
// does not follow fails here, not as a rollback in production.
func TestSmokeClientAgainstThisAPI(t *testing.T) {
	t.Parallel()
	b := setupBatches(t, store.SQLite, batchOpts{})
	b.createUser(t, "smoke", store.RoleOperator)
	ctx := context.Background()

	var out bytes.Buffer
	err := smoke.Run(ctx, smoke.Options{URL: b.srv.URL, User: "smoke", Password: "password-smoke", Batch: "always",
		Timeout: 2 * time.Minute}, &out)
	require.NoError(t, err, out.String())
	for _, step := range []string{"readyz", "login", "upload", "batch create", "websocket", "batch result", "zip download"} {
		require.Contains(t, out.String(), "smoke ok   "+step, "step %q did not pass:\n%s", step, out.String())
	}

	// A release that does not report the expected version fails the first
	// step; a wrong password fails at login. Neither starts a batch.
	out.Reset()
	err = smoke.Run(ctx, smoke.Options{URL: b.srv.URL, User: "smoke", Password: "password-smoke", Version: "v0.0.0-not-this",
		Batch: "always", Timeout: time.Minute}, &out)
	require.ErrorContains(t, err, `smoke step "readyz" failed`)
	out.Reset()
	err = smoke.Run(ctx, smoke.Options{URL: b.srv.URL, User: "smoke", Password: "wrong-password", Batch: "always",
		Timeout: time.Minute}, &out)
	require.ErrorContains(t, err, `smoke step "login" failed`)
	list := b.login(t, "smoke").do("GET", "/api/v1/batches", nil).json(t)
	require.Len(t, list["items"], 1, "only the first run made a batch")
}
