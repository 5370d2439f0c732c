package httpapi_test

// Success paths of operations no feature test reached before (issue 16:
// every operation of the document is seen succeeding); each test asserts
// what the operation does, the contract check validates the responses.

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/provider"
	"github.com/ludeng/ludeng/internal/provider/fake"
	"github.com/ludeng/ludeng/internal/store"
)

// TestLogoutEndsTheSession: logout deletes the session on the server (the
// old cookie no longer works anywhere), while an API token made in it
// lives on; the token list shows it without its secret.
func TestLogoutEndsTheSession(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setup(t, engine)
		b.createUser(t, "ann", store.RoleOperator)
		c := b.login(t, "ann")

		res := c.do("POST", "/api/v1/auth/tokens", map[string]string{"name": "ci"})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		var created struct {
			Token    string `json:"token"`
			APIToken struct {
				ID     string `json:"id"`
				Prefix string `json:"prefix"`
			} `json:"api_token"`
		}
		require.NoError(t, json.Unmarshal(res.body, &created))

		res = c.do("GET", "/api/v1/auth/tokens", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		var list struct {
			Items []struct {
				ID, Name, Prefix string
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(res.body, &list))
		require.Len(t, list.Items, 1)
		require.Equal(t, created.APIToken.ID, list.Items[0].ID)
		require.Equal(t, "ci", list.Items[0].Name)
		require.True(t, strings.HasPrefix(created.Token, list.Items[0].Prefix))
		require.Empty(t, list.NextCursor)
		require.NotContains(t, string(res.body), created.Token, "the list never shows a token's secret")

		base, err := url.Parse(b.srv.URL)
		require.NoError(t, err)
		var session string
		for _, ck := range c.hc.Jar.Cookies(base) {
			if ck.Name == httpapi.SessionCookie {
				session = ck.Value
			}
		}
		require.NotEmpty(t, session)

		res = c.do("POST", "/api/v1/auth/logout", nil)
		require.Equal(t, http.StatusNoContent, res.status, string(res.body))
		require.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/v1/auth/me", nil).status)
		// Replaying the old cookie fails too: the server forgot the session.
		replay := b.client(t)
		replay.hc.Jar.SetCookies(base, []*http.Cookie{{Name: httpapi.SessionCookie, Value: session}})
		require.Equal(t, http.StatusUnauthorized, replay.do("GET", "/api/v1/auth/me", nil).status)

		bearer := b.client(t)
		bearer.bearer = created.Token
		res = bearer.do("GET", "/api/v1/auth/me", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, created.APIToken.ID, res.json(t)["token"].(map[string]any)["id"])
	})
}

// TestPoolRegionCreateDeleteAndElementUpdate: an admin adds a county, it
// is served (by code, in its province, by search) until deleted; an
// element edit is served at once. Each edit is a new pool version.
func TestPoolRegionCreateDeleteAndElementUpdate(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b, _ := setupPool(t, engine)
		b.createUser(t, "boss", store.RoleAdmin)
		admin := b.login(t, "boss")
		version := func() float64 { return admin.do("GET", "/api/v1/pool/version", nil).json(t)["number"].(float64) }
		n0 := version()

		var reg map[string]any
		require.NoError(t, json.Unmarshal(admin.do("GET", "/api/v1/pool/regions/130503", nil).body, &reg))
		delete(reg, "province_code")
		delete(reg, "province_name")
		delete(reg, "aliases")
		reg["code"], reg["name"], reg["pinyin"] = "130599", "测试县", "Ceshi Xian"
		delete(reg, "en")
		res := admin.do("POST", "/api/v1/pool/regions", reg)
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		require.Equal(t, n0+1, res.json(t)["number"])

		res = admin.do("GET", "/api/v1/pool/regions/130599", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, "测试县", res.json(t)["name"])
		require.Equal(t, "130000", res.json(t)["province_code"])
		require.Contains(t, string(admin.do("GET", "/api/v1/pool/provinces/130000/counties", nil).body), `"130599"`)
		require.Contains(t, string(admin.do("GET", "/api/v1/pool/regions?q="+url.QueryEscape("测试县"), nil).body), `"130599"`)

		res = admin.do("DELETE", "/api/v1/pool/regions/130599", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, n0+2, res.json(t)["number"])
		require.Equal(t, http.StatusNotFound, admin.do("GET", "/api/v1/pool/regions/130599", nil).status)
		require.NotContains(t, string(admin.do("GET", "/api/v1/pool/provinces/130000/counties", nil).body), `"130599"`)
		audit := admin.do("GET", "/api/v1/admin/audit?action=pool.region_delete", nil).json(t)["items"].([]any)
		require.Len(t, audit, 1)

		var els struct {
			Items []map[string]any `json:"items"`
		}
		require.NoError(t, json.Unmarshal(admin.do("GET", "/api/v1/pool/elements", nil).body, &els))
		var tricycle map[string]any
		for _, e := range els.Items {
			if e["id"] == "tricycle" {
				tricycle = e
			}
		}
		require.NotNil(t, tricycle)
		tricycle["en"] = "a blue three-wheeled cargo bike"
		res = admin.do("PUT", "/api/v1/pool/elements/tricycle", tricycle)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, n0+3, res.json(t)["number"])
		require.Contains(t, string(admin.do("GET", "/api/v1/pool/elements", nil).body), "a blue three-wheeled cargo bike")
	})
}

// generateQueuePaused reports whether River has the generate queue paused.
func generateQueuePaused(t *testing.T, pipe *pipeline.Pipeline) bool {
	t.Helper()
	ctx := context.Background()
	var pausedAt *time.Time
	switch c := pipe.RiverClient().(type) {
	case *river.Client[*sql.Tx]:
		q, err := c.QueueGet(ctx, pipeline.QueueGenerate)
		require.NoError(t, err)
		pausedAt = q.PausedAt
	case *river.Client[pgx.Tx]:
		q, err := c.QueueGet(ctx, pipeline.QueueGenerate)
		require.NoError(t, err)
		pausedAt = q.PausedAt
	default:
		t.Fatalf("unexpected River client %T", c)
	}
	return pausedAt != nil
}

// queueEvents subscribes to River's pause and resume events of the
// generate queue: true for paused, false for resumed.
func queueEvents(t *testing.T, pipe *pipeline.Pipeline) <-chan bool {
	t.Helper()
	var (
		ch     <-chan *river.Event
		cancel func()
	)
	kinds := []river.EventKind{river.EventKindQueuePaused, river.EventKindQueueResumed}
	switch c := pipe.RiverClient().(type) {
	case *river.Client[*sql.Tx]:
		ch, cancel = c.Subscribe(kinds...)
	case *river.Client[pgx.Tx]:
		ch, cancel = c.Subscribe(kinds...)
	default:
		t.Fatalf("unexpected River client %T", c)
	}
	out := make(chan bool, 100)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for e := range ch {
			if e.Queue != nil && e.Queue.Name == pipeline.QueueGenerate {
				select {
				case out <- e.Kind == river.EventKindQueuePaused:
				default:
				}
			}
		}
	}()
	return out
}

// nextQueueEvent waits for River's next pause (true) or resume (false).
func nextQueueEvent(t *testing.T, events <-chan bool) bool {
	t.Helper()
	select {
	case paused := <-events:
		return paused
	case <-time.After(time.Minute):
		t.Fatal("no queue event from River")
		return false
	}
}

// TestQueuePauseHoldsGeneration: while an admin has paused the generate
// queue, a submitted batch's images wait as River jobs and none is
// rendered; resuming lets the batch finish.
func TestQueuePauseHoldsGeneration(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{fakeGemini: true, price: 1})
		b.createUser(t, "ops", store.RoleOperator)
		b.createUser(t, "boss", store.RoleAdmin)
		c, admin := b.login(t, "ops"), b.login(t, "boss")
		up := uploadPhoto(t, c)
		events := queueEvents(t, b.pipe)
		calls := func() int {
			n := 0
			for _, v := range b.fake.Stats()["gemini"] {
				n += v
			}
			return n
		}

		res := admin.do("POST", "/api/v1/admin/queue/pause", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, map[string]any{"queue": "generate", "paused": true}, res.json(t))
		require.True(t, generateQueuePaused(t, b.pipe))
		require.True(t, nextQueueEvent(t, events), "the producer applied the pause")

		// A River producer also reconciles with the database on a poll; a
		// poll that read the queue just before the pause committed undoes
		// it until the next poll, which reads it paused again (River's
		// documented poll semantics). Such a window shows as a resumed
		// event; the batch submitted in it may have run, so submit another
		// once the pause is back. No pause is committed after that, so
		// every later poll reads it paused.
		ctx := context.Background()
		var id string
		for attempt := 0; id == ""; attempt++ {
			require.Less(t, attempt, 2, "River undid the pause twice")
			before := calls()
			res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 1, "enhance": "off"})
			require.Equal(t, http.StatusAccepted, res.status, string(res.body))
			bid := res.json(t)["id"].(string)
			reverted := false
			require.Eventually(t, func() bool {
				select {
				case paused := <-events:
					reverted = reverted || !paused
				default:
				}
				n, err := b.pipe.WaitingJobs(ctx, bid)
				return reverted || (err == nil && n == 4)
			}, time.Minute, 20*time.Millisecond)
			if reverted {
				t.Logf("a stale River queue poll undid the pause; waiting for the next poll")
				require.True(t, nextQueueEvent(t, events), "the next poll pauses again")
				require.Equal(t, http.StatusOK, c.do("POST", "/api/v1/batches/"+bid+"/cancel", nil).status)
				continue
			}
			// All four generate jobs are queued and none has run: the provider
			// saw no call for them.
			v := c.do("GET", "/api/v1/batches/"+bid, nil).json(t)
			require.EqualValues(t, 0, v["progress"].(map[string]any)["done"])
			require.Equal(t, before, calls())
			id = bid
		}

		res = admin.do("POST", "/api/v1/admin/queue/resume", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, false, res.json(t)["paused"])
		require.False(t, generateQueuePaused(t, b.pipe))
		require.Equal(t, store.BatchSucceeded, waitTerminal(t, c, id)["status"])
		audit := admin.do("GET", "/api/v1/admin/audit?target_type=queue", nil).json(t)["items"].([]any)
		require.Len(t, audit, 2)
	})
}

// TestFailedGroupRetryAndGroupDownload: a group whose every answer was
// blocked fails; retrying that group renders it again (the fake answers
// ok once its script is used up) and its zip holds its four images.
func TestFailedGroupRetryAndGroupDownload(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{fakeGemini: true, price: 1, cfg: pipeline.Config{Concurrency: 1}})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)
		steps := make([]string, 16) // 4 images × (1 + 3 nudged attempts)
		for i := range steps {
			steps[i] = "blocked"
		}
		require.NoError(t, b.fake.Script("gemini", steps...))
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 1, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		done := waitTerminal(t, c, id)
		require.Equal(t, store.BatchFailed, done["status"])
		g := done["groups"].([]any)[0].(map[string]any)
		require.Equal(t, store.GroupFailed, g["status"])
		gid := g["id"].(string)

		res = c.do("POST", "/api/v1/batches/"+id+"/groups/"+gid+"/retry", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.False(t, store.BatchTerminal(res.json(t)["status"].(string)))
		done = waitTerminal(t, c, id)
		require.Equal(t, store.BatchSucceeded, done["status"], string(mustJSON(done["report"])))
		g = done["groups"].([]any)[0].(map[string]any)
		require.Equal(t, store.GroupSucceeded, g["status"])
		calls := 0
		for _, n := range b.fake.Stats()["gemini"] {
			calls += n
		}
		require.Equal(t, 16+4, calls, "the retry rendered the four images once more")

		res = c.do("GET", "/api/v1/batches/"+id+"/groups/"+gid+"/download", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, "application/zip", res.header.Get("Content-Type"))
		images := 0
		for name := range readZip(t, res.body) {
			if strings.HasSuffix(name, ".jpg") || strings.HasSuffix(name, ".png") {
				images++
			}
		}
		require.Equal(t, 4, images)
	})
}

// TestRerunAfterArchivingHistory: a manual combination already generated
// cannot be rerun (422, hint archive_history); archiving the history
// frees it, and the rerun is a new batch of the same combination.
func TestRerunAfterArchivingHistory(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "manual", "enhance": "off",
			"manual": map[string]any{"county": "邢台县", "month": 7, "road": "dirt", "elements": []string{"tricycle"}}})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)
		first := waitTerminal(t, c, id)
		require.Equal(t, store.BatchSucceeded, first["status"])

		res = c.do("POST", "/api/v1/batches/"+id+"/rerun", nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.status, string(res.body))
		require.Equal(t, "archive_history", res.json(t)["params"].(map[string]any)["hint"])

		// The server's clock is the test clock; archive what exists now.
		res = c.do("POST", "/api/v1/history/archive", map[string]any{"before": time.Now().Add(time.Minute).UTC()})
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.EqualValues(t, 1, res.json(t)["archived"])
		require.Len(t, c.do("GET", "/api/v1/history?state=archived", nil).json(t)["items"], 1)

		res = c.do("POST", "/api/v1/batches/"+id+"/rerun", nil)
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		second := res.json(t)
		rid := second["id"].(string)
		require.NotEqual(t, id, rid)
		require.Equal(t, "/api/v1/batches/"+rid, res.header.Get("Location"))
		again := waitTerminal(t, c, rid)
		require.Equal(t, store.BatchSucceeded, again["status"])
		combo := func(v map[string]any) any { return v["groups"].([]any)[0].(map[string]any)["combination"] }
		require.Equal(t, combo(first), combo(again))
	})
}

// TestProviderResetClearsCooldown: an authentication failure takes the
// provider out of rotation (auth_failed); an admin's reset puts it back.
func TestProviderResetClearsCooldown(t *testing.T) {
	t.Parallel()
	b := setupBatches(t, store.SQLite, batchOpts{fakeGemini: true, price: 1, cfg: pipeline.Config{Concurrency: 1}})
	b.createUser(t, "ops", store.RoleOperator)
	b.createUser(t, "boss", store.RoleAdmin)
	c, admin := b.login(t, "ops"), b.login(t, "boss")
	up := uploadPhoto(t, c)
	require.NoError(t, b.fake.Script("gemini", "auth"))
	res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 1, "enhance": "off"})
	require.Equal(t, http.StatusAccepted, res.status, string(res.body))
	id := res.json(t)["id"].(string)

	state := func(res response) string {
		var v struct {
			Items []struct {
				Name, State string
			} `json:"items"`
		}
		require.NoError(t, json.Unmarshal(res.body, &v))
		require.Len(t, v.Items, 1)
		require.Equal(t, "gemini", v.Items[0].Name)
		return v.Items[0].State
	}
	require.Eventually(t, func() bool {
		return state(admin.do("GET", "/api/v1/admin/providers", nil)) == "auth_failed"
	}, time.Minute, 20*time.Millisecond)

	res = admin.do("POST", "/api/v1/admin/providers/gemini/reset", nil)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	require.Equal(t, "ok", state(res))
	require.Equal(t, "ok", state(admin.do("GET", "/api/v1/admin/providers", nil)))
	require.Len(t, admin.do("GET", "/api/v1/admin/audit?action=provider.reset", nil).json(t)["items"], 1)
	require.Equal(t, http.StatusOK, c.do("POST", "/api/v1/batches/"+id+"/cancel", nil).status)
}

// lateProviders serves the provider routes of a service built after the
// test server (kie needs the server's URL for its callback).
type lateProviders struct {
	svc atomic.Pointer[provider.Service]
}

func (l *lateProviders) Status() []provider.Status { return l.svc.Load().Status() }
func (l *lateProviders) Reset(name string) error   { return l.svc.Load().Reset(name) }
func (l *lateProviders) Probe(ctx context.Context) []provider.ProbeResult {
	return l.svc.Load().Probe(ctx)
}
func (l *lateProviders) Simulated() bool { return l.svc.Load().Simulated() }
func (l *lateProviders) KieCallback(ctx context.Context, secret string, body io.Reader) error {
	return l.svc.Load().KieCallback(ctx, secret, body)
}

// TestKieCallbackWakesTheTask: the fake kie finishes a task and POSTs
// its callback (kie's wire format) to the server's hook; the client polls
// only once an hour, so the image arrives in time only because the hook
// accepted the callback and woke it.
func TestKieCallbackWakesTheTask(t *testing.T) {
	t.Parallel()
	const secret = "hook-secret-0123456789"
	f := fake.New(fake.Options{APIKey: "test-key", StaticImages: true, KiePolls: 1000,
		KieCallbackDelay: fake.Duration(20 * time.Millisecond)}, nil)
	fsrv := httptest.NewServer(f)
	t.Cleanup(fsrv.Close)
	late := &lateProviders{}
	b := setup(t, store.SQLite, func(_ *httpapi.Config, d *httpapi.Deps) { d.Providers = late })

	pc := provider.ProviderConfig{Name: "kie", APIKey: "test-key", BaseURL: fsrv.URL + "/kie", Timeout: time.Minute,
		CallbackURL: b.srv.URL, CallbackSecret: secret, PollInterval: time.Hour, PollMaxInterval: time.Hour}
	svc, err := provider.New(provider.Config{Providers: []provider.ProviderConfig{pc}}, provider.Deps{Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	late.svc.Store(svc)

	out, err := svc.Generate(context.Background(), provider.Request{Photo: testPhoto(1024, 1024, 5), PhotoMIME: "image/jpeg",
		Prompt: "河北邢台 7月 土路 三轮车 傍晚 晴", Aspect: provider.Aspect1x1, Resolution: 1024,
		Ref: provider.Ref{RequestID: "req-1", UserID: "u1", ImageID: "img-1"}})
	require.NoError(t, err)
	require.Equal(t, "kie", out.Provider)
	require.NotEmpty(t, out.Image)
	f.Wait()
	require.Equal(t, 1, f.Stats()["kie"]["callback_200"], "the hook answered kie's callback with 200")
}
