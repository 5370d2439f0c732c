package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/httpapi"
	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/ws"
	"github.com/ludeng/ludeng/internal/ws/pghub"
)

// enableLive adds GET /api/v1/ws to deps as the cli does: the in-process
// hub on SQLite, LISTEN/NOTIFY (NOTIFY inside the event's transaction) on
// PostgreSQL.
func enableLive(t *testing.T, db *store.DB, deps *httpapi.Deps) {
	t.Helper()
	var hub ws.Hub
	if db.Engine == store.Postgres {
		h, err := pghub.New(db.PG, pghub.Config{}, nil, prometheus.NewRegistry())
		require.NoError(t, err)
		require.NoError(t, h.Start(context.Background()))
		t.Cleanup(func() { _ = h.Stop(context.Background()) })
		db.PublishEvents(pghub.Channel, nil)
		hub = h
	} else {
		h, err := ws.NewMemoryHub(0, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = h.Close() })
		db.PublishEvents("", func(batchID string, seq int64) { _ = h.Publish(context.Background(), batchID, seq) })
		hub = h
	}
	deps.Live = &httpapi.LiveDeps{Hub: hub}
}

type liveMsg struct {
	Type    string          `json:"type"`
	BatchID string          `json:"batch_id"`
	Seq     *int64          `json:"seq"`
	Kind    string          `json:"kind"`
	Code    string          `json:"code"`
	Data    json.RawMessage `json:"data"`
}

func dialLive(t *testing.T, c *client, origin string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(c.base, "http") + "/api/v1/ws"
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if c.bearer != "" {
		h.Set("Authorization", "Bearer "+c.bearer)
	}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

func readLive(t *testing.T, conn *websocket.Conn) liveMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var m liveMsg
	require.NoError(t, wsjson.Read(ctx, conn, &m))
	return m
}

func subscribe(t *testing.T, conn *websocket.Conn, batchID string, after *int64) {
	t.Helper()
	msg := map[string]any{"type": "subscribe", "batch_id": batchID}
	if after != nil {
		msg["after_seq"] = *after
	}
	require.NoError(t, wsjson.Write(context.Background(), conn, msg))
}

// TestLiveResume: a client disconnects mid-batch and resumes with
// after_seq; the union of what it received equals the stored log, in order,
// with no duplicates. Another user's subscribe is refused, and a
// cross-origin upgrade never reaches the stream.
func TestLiveResume(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, engine store.Engine) {
		b := setupBatches(t, engine, batchOpts{fakeGemini: true, price: 1, cfg: pipeline.Config{Concurrency: 2}})
		b.createUser(t, "ops", store.RoleOperator)
		b.createUser(t, "eve", store.RoleOperator)
		c := b.login(t, "ops")
		up := uploadPhoto(t, c)
		steps := make([]string, 8)
		for i := range steps {
			steps[i] = "slow:150ms"
		}
		require.NoError(t, b.fake.Script("gemini", steps...))
		res := c.do("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "enhance": "off"})
		require.Equal(t, http.StatusAccepted, res.status, string(res.body))
		id := res.json(t)["id"].(string)

		// Another user: not_found, never the batch.
		eve := b.login(t, "eve")
		ec := dialLive(t, eve, eve.base)
		subscribe(t, ec, id, nil)
		m := readLive(t, ec)
		require.Equal(t, "error", m.Type)
		require.Equal(t, "not_found", m.Code)

		// First connection: snapshot, then events until the first image is done.
		var got []int64
		kinds := map[string]int{}
		zero := int64(0)
		conn := dialLive(t, c, c.base)
		subscribe(t, conn, id, &zero)
		m = readLive(t, conn)
		require.Equal(t, "snapshot", m.Type)
		var snap map[string]any
		require.NoError(t, json.Unmarshal(m.Data, &snap))
		require.Equal(t, id, snap["id"])
		for {
			m = readLive(t, conn)
			require.Equal(t, "event", m.Type, "%+v", m)
			got = append(got, *m.Seq)
			kinds[m.Kind]++
			if m.Kind == string(store.ImageKind(store.ImageSucceeded)) {
				var d map[string]any
				require.NoError(t, json.Unmarshal(m.Data, &d))
				require.Contains(t, d["urls"], "thumb")
				break
			}
		}
		_ = conn.Close(websocket.StatusNormalClosure, "")

		// Resume from the last seq seen; read until the batch is done.
		last := got[len(got)-1]
		conn = dialLive(t, c, c.base)
		subscribe(t, conn, id, &last)
		require.Equal(t, "snapshot", readLive(t, conn).Type)
		for {
			m = readLive(t, conn)
			require.Equal(t, "event", m.Type, "%+v", m)
			got = append(got, *m.Seq)
			kinds[m.Kind]++
			if batchDone(t, m.Kind, m.Data) {
				break
			}
		}
		// group.* events follow the batch's end in finalize; wait for the log to settle.
		final := waitTerminal(t, c, id)
		require.Equal(t, store.BatchSucceeded, final["status"])
		stored := c.do("GET", "/api/v1/batches/"+id+"/events?after=0", nil).json(t)["items"].([]any)
		var want []int64
		for _, e := range stored {
			seq := int64(e.(map[string]any)["seq"].(float64))
			if seq <= got[len(got)-1] {
				want = append(want, seq)
			}
		}
		require.Equal(t, want, got, "received events = stored log up to the terminal batch.status, in order, no duplicates")
		for _, k := range []store.EventKind{store.ImageKind(store.ImageRunning), store.ImageKind(store.ImageSucceeded), store.KindBatchProgress, store.KindBatchStatus} {
			require.Positive(t, kinds[string(k)], "kind %s seen", k)
		}

		// Cross-origin cookie upgrade: refused before the upgrade.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		u := "ws" + strings.TrimPrefix(c.base, "http") + "/api/v1/ws"
		_, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		// Without credentials: 401.
		_, resp, err = websocket.Dial(ctx, u, nil)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}

// batchDone reports whether a live event is the batch's move to a terminal
// state: the stored kind batch.status with a terminal status.
func batchDone(t *testing.T, kind string, data json.RawMessage) bool {
	t.Helper()
	if kind != string(store.KindBatchStatus) {
		return false
	}
	var d struct {
		Status store.BatchStatus `json:"status"`
	}
	require.NoError(t, json.Unmarshal(data, &d))
	return d.Status.Terminal()
}
