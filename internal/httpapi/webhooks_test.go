package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/webhook"
)

// testWebhookClient is the guarded client with the test flag on, so an
// httptest receiver (http on 127.0.0.1) can be a target. Everything else
// the guard refuses stays refused.
func testWebhookClient(t *testing.T) *webhook.Client {
	t.Helper()
	c, err := webhook.NewClient(webhook.Config{AllowHTTPLoopback: true})
	require.NoError(t, err)
	return c
}

// enableIntegrations adds the webhook and preset routes as the cli does.
func enableIntegrations(deps *httpapi.Deps, pipe *pipeline.Pipeline, hooks *webhook.Client) {
	deps.Webhooks = &httpapi.WebhookDeps{Pipeline: pipe, Client: hooks}
	deps.Presets = pipe
}

// receiver is a webhook endpoint on loopback that answers with scripted
// statuses (200 once the script is used up) and keeps every request.
type receiver struct {
	srv *httptest.Server

	mu     sync.Mutex
	script []func() int
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		var step func() int
		if len(rc.script) > 0 {
			step, rc.script = rc.script[0], rc.script[1:]
		}
		rc.mu.Unlock()
		status := http.StatusOK
		if step != nil {
			status = step()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) then(steps ...func() int) {
	rc.mu.Lock()
	rc.script = append(rc.script, steps...)
	rc.mu.Unlock()
}

func answer(status int) func() int { return func() int { return status } }

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// envelope decodes a delivery body.
func envelope(t *testing.T, body []byte) (webhook.Envelope, map[string]any) {
	t.Helper()
	var env webhook.Envelope
	require.NoError(t, json.Unmarshal(body, &env))
	var data map[string]any
	require.NoError(t, json.Unmarshal(env.Data, &data))
	return env, data
}

// waitDelivery polls the delivery log until the delivery is settled.
func waitDelivery(t *testing.T, c *client, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res := c.do("GET", "/api/v1/me/webhook/deliveries?limit=200", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		for _, it := range res.json(t)["items"].([]any) {
			d := it.(map[string]any)
			if d["id"] == id && d["status"] != store.DeliveryPending {
				return d
			}
		}
		require.True(t, time.Now().Before(deadline), "delivery %s still pending", id)
		time.Sleep(50 * time.Millisecond)
	}
}

// waitEvent polls until a delivery of event is settled and returns it.
func waitEvent(t *testing.T, c *client, event string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res := c.do("GET", "/api/v1/me/webhook/deliveries?limit=200", nil)
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		for _, it := range res.json(t)["items"].([]any) {
			d := it.(map[string]any)
			if d["event"] == event && d["status"] != store.DeliveryPending {
				return d
			}
		}
		require.True(t, time.Now().Before(deadline), "no settled %s delivery", event)
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebhookSettings: PUT validates the URL with the SSRF guard (a
// private or link-local target is refused with problem+json) and the
// events; the secret is returned only when created or rotated; GET never
// shows it; DELETE removes the webhook.
func TestWebhookSettings(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupFull(t, engine, true)
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")

		for _, path := range []string{"/api/v1/me/webhook", "/api/v1/me/webhook/deliveries"} {
			res := c.do("GET", path, nil)
			require.Equal(t, http.StatusNotFound, res.status, path)
			require.Equal(t, "webhook_not_found", res.json(t)["code"])
		}
		require.Equal(t, http.StatusNotFound, c.do("POST", "/api/v1/me/webhook/test", nil).status)
		require.Equal(t, http.StatusNotFound, c.do("DELETE", "/api/v1/me/webhook", nil).status)
		require.Equal(t, http.StatusUnauthorized, b.client(t).do("PUT", "/api/v1/me/webhook", map[string]any{"url": "https://a.example"}).status)

		for _, tc := range []struct {
			name     string
			body     any
			wantCode string
		}{
			{"private IPv4 over http", map[string]any{"url": "http://10.0.0.1/"}, "webhook_url_invalid"},
			{"private IPv4 over https", map[string]any{"url": "https://192.168.1.1/hook"}, "webhook_url_blocked"},
			{"10/8 over https", map[string]any{"url": "https://10.0.0.1/"}, "webhook_url_blocked"},
			{"cloud metadata", map[string]any{"url": "https://169.254.169.254/latest/meta-data"}, "webhook_url_blocked"},
			{"IPv6 ULA", map[string]any{"url": "https://[fd00::1]/"}, "webhook_url_blocked"},
			{"IPv4-mapped private", map[string]any{"url": "https://[::ffff:172.16.0.1]/"}, "webhook_url_blocked"},
			{"http to a public host", map[string]any{"url": "http://hooks.example.com/"}, "webhook_url_invalid"},
			{"credentials in the URL", map[string]any{"url": "https://u:p@hooks.example.com/"}, "webhook_url_invalid"},
			{"not a URL", map[string]any{"url": "hooks"}, "webhook_url_invalid"},
			{"other scheme", map[string]any{"url": "ftp://hooks.example.com/"}, "webhook_url_invalid"},
			{"too long", map[string]any{"url": "https://hooks.example.com/" + strings.Repeat("a", 2100)}, "webhook_url_invalid"},
			{"unknown event", map[string]any{"url": "https://hooks.example.com/", "events": []string{"batch.started"}}, "webhook_event_unknown"},
			{"ping cannot be subscribed", map[string]any{"url": "https://hooks.example.com/", "events": []string{"ping"}}, "webhook_event_unknown"},
			{"unknown field", map[string]any{"url": "https://hooks.example.com/", "secret": "mine"}, "invalid_json"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := c.do("PUT", "/api/v1/me/webhook", tc.body)
				require.Equal(t, http.StatusBadRequest, res.status, string(res.body))
				require.Equal(t, "application/problem+json", res.header.Get("Content-Type"))
				require.Equal(t, tc.wantCode, res.json(t)["code"])
			})
		}
		// Nothing was saved by the refusals.
		require.Equal(t, http.StatusNotFound, c.do("GET", "/api/v1/me/webhook", nil).status)

		var secret, id string
		for _, tc := range []struct {
			name       string
			body       map[string]any
			wantStatus int
			wantEvents []any
			newSecret  bool
		}{
			{"create: default event, new secret", map[string]any{"url": "https://hooks.example.com/a"}, http.StatusCreated,
				[]any{"batch.done"}, true},
			{"update keeps the secret", map[string]any{"url": "https://hooks.example.com/b", "events": []string{"group.done", "batch.done", "group.done"}},
				http.StatusOK, []any{"batch.done", "group.done"}, false},
			{"rotate", map[string]any{"url": "https://hooks.example.com/b", "events": []string{"batch.done"}, "rotate_secret": true},
				http.StatusOK, []any{"batch.done"}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := c.do("PUT", "/api/v1/me/webhook", tc.body)
				require.Equal(t, tc.wantStatus, res.status, string(res.body))
				v := res.json(t)
				require.Equal(t, tc.body["url"], v["url"])
				require.Equal(t, tc.wantEvents, v["events"])
				if id == "" {
					id = v["id"].(string)
				}
				require.Equal(t, id, v["id"], "one webhook per user")
				if !tc.newSecret {
					require.NotContains(t, v, "secret")
					return
				}
				s := v["secret"].(string)
				require.True(t, strings.HasPrefix(s, "whsec_"), s)
				require.NotEqual(t, secret, s)
				secret = s
			})
		}
		res := c.do("GET", "/api/v1/me/webhook", nil)
		require.Equal(t, http.StatusOK, res.status)
		require.NotContains(t, string(res.body), "whsec_")
		require.Equal(t, "https://hooks.example.com/b", res.json(t)["url"])
		res = c.do("GET", "/api/v1/me/webhook/deliveries", nil)
		require.Equal(t, http.StatusOK, res.status)
		require.Empty(t, res.json(t)["items"])

		// Another user has no webhook of their own.
		b.createUser(t, "other", store.RoleOperator)
		require.Equal(t, http.StatusNotFound, b.login(t, "other").do("GET", "/api/v1/me/webhook", nil).status)

		require.Equal(t, http.StatusNoContent, c.do("DELETE", "/api/v1/me/webhook", nil).status)
		require.Equal(t, http.StatusNotFound, c.do("GET", "/api/v1/me/webhook", nil).status)
	})
}

// TestWebhookDelivery runs deliveries through River to a receiver on
// loopback: every attempt is signed (webhook.Verify accepts it) and carries
// the same body; a 5xx is retried with backoff and the log shows 2 attempts;
// a second test while one is pending is refused; a 4xx is permanent; a
// batch sends group.done and batch.done.
func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{})
		b.createUser(t, "ops", store.RoleOperator)
		c := b.login(t, "ops")
		rc := newReceiver(t)

		res := c.do("PUT", "/api/v1/me/webhook", map[string]any{"url": rc.srv.URL + "/hook", "events": []string{"batch.done", "group.done"}})
		require.Equal(t, http.StatusCreated, res.status, string(res.body))
		secret := res.json(t)["secret"].(string)

		verify := func(t *testing.T, r received) (webhook.Envelope, map[string]any) {
			t.Helper()
			require.NoError(t, webhook.Verify(secret, r.header.Get(webhook.HeaderSignature), r.body, time.Now(), 0))
			require.Error(t, webhook.Verify("whsec_wrong", r.header.Get(webhook.HeaderSignature), r.body, time.Now(), 0))
			require.Equal(t, webhook.UserAgent, r.header.Get("User-Agent"))
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			env, data := envelope(t, r.body)
			require.Equal(t, env.Event, r.header.Get(webhook.HeaderEvent))
			return env, data
		}

		// 503 (held until the second test request was refused), then 200.
		release := make(chan struct{})
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		// Before the receiver's Close, which would wait for the held request.
		t.Cleanup(unblock)
		rc.then(func() int { <-release; return http.StatusServiceUnavailable }, answer(http.StatusOK))
		res = c.do("POST", "/api/v1/me/webhook/test", nil)
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		ping := res.json(t)
		require.Equal(t, webhook.EventPing, ping["event"])
		require.Equal(t, store.DeliveryPending, ping["status"])
		res = c.do("POST", "/api/v1/me/webhook/test", nil)
		require.Equal(t, http.StatusConflict, res.status, string(res.body))
		require.Equal(t, "webhook_test_pending", res.json(t)["code"])
		unblock()

		d := waitDelivery(t, c, ping["id"].(string))
		require.Equal(t, store.DeliveryDelivered, d["status"], d)
		require.EqualValues(t, 2, d["attempts"])
		require.EqualValues(t, http.StatusOK, d["last_status_code"])
		require.NotNil(t, d["delivered_at"])
		got := rc.requests()
		require.Len(t, got, 2)
		first, _ := verify(t, got[0])
		second, data := verify(t, got[1])
		require.Equal(t, string(got[0].body), string(got[1].body), "a retry resends the same body")
		require.Equal(t, ping["id"], first.ID)
		require.Equal(t, first.ID, second.ID)
		require.Equal(t, webhook.EventPing, second.Event)
		require.Equal(t, []any{"batch.done", "group.done"}, data["events"])

		// A 4xx is permanent: one attempt, failed, not retried.
		rc.then(answer(http.StatusGone))
		res = c.do("POST", "/api/v1/me/webhook/test", nil)
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		d = waitDelivery(t, c, res.json(t)["id"].(string))
		require.Equal(t, store.DeliveryFailed, d["status"], d)
		require.EqualValues(t, 1, d["attempts"])
		require.EqualValues(t, http.StatusGone, d["last_status_code"])
		require.Contains(t, d["last_error"], "410")
		require.Len(t, rc.requests(), 3)

		// A batch: group.done when its group's four images are final, then
		// batch.done, both signed.
		up := uploadPhoto(t, c)
		res = c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 1, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		batch := res.json(t)
		batchID := batch["id"].(string)
		groupID := batch["groups"].([]any)[0].(map[string]any)["id"].(string)
		require.Equal(t, store.BatchSucceeded, waitTerminal(t, c, batchID)["status"])
		for _, tc := range []struct {
			event string
			check func(t *testing.T, data map[string]any)
		}{
			{webhook.EventGroupDone, func(t *testing.T, data map[string]any) {
				require.Equal(t, groupID, data["group_id"])
				require.Equal(t, store.GroupSucceeded, data["status"])
				require.EqualValues(t, 4, data["counts"].(map[string]any)["succeeded"])
			}},
			{webhook.EventBatchDone, func(t *testing.T, data map[string]any) {
				require.Equal(t, store.BatchSucceeded, data["status"])
				require.EqualValues(t, 4, data["images"])
				require.EqualValues(t, 4, data["counts"].(map[string]any)["succeeded"])
				require.Equal(t, "/api/v1/batches/"+batchID+"/download", data["links"].(map[string]any)["download"])
			}},
		} {
			t.Run(tc.event, func(t *testing.T) {
				d := waitEvent(t, c, tc.event)
				require.Equal(t, store.DeliveryDelivered, d["status"], d)
				require.Equal(t, batchID, d["batch_id"])
				var found bool
				for _, r := range rc.requests() {
					env, data := envelope(t, r.body)
					if env.Event != tc.event {
						continue
					}
					require.False(t, found, "one %s delivery", tc.event)
					found = true
					verify(t, r)
					require.Equal(t, d["id"], env.ID)
					require.Equal(t, batchID, data["batch_id"])
					tc.check(t, data)
				}
				require.True(t, found)
			})
		}
	})
}
