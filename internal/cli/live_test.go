package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/ws"
	"github.com/ludeng/ludeng/internal/ws/pghub"
)

// TestLiveTwoNodes runs two `serve` processes on one PostgreSQL database:
// node A serves the API with its workers off, node B runs the jobs. A
// client connected to A's WebSocket sees every event of a batch whose jobs
// run on B (LISTEN/NOTIFY), from the snapshot to the terminal batch.status, in order.
func TestLiveTwoNodes(t *testing.T) {
	t.Parallel()
	if os.Getenv("LUDENG_TEST_DATABASE_URL") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must set LUDENG_TEST_DATABASE_URL: the two-node test needs PostgreSQL")
		}
		t.Skip("needs PostgreSQL (LUDENG_TEST_DATABASE_URL); CI sets it") // skip-ok: SQLite is one node by design
	}
	bin := buildBinary(t)
	fakeAddr := startFakes(t, bin, `{"latency":{"base":"300ms"}}`)
	common := fakeEnv(t, "postgres", fakeAddr)
	addrA, addrB := freePort(t), freePort(t)
	// B first: it migrates the schema; A then finds it current. Both share
	// the data directory as they would share a blob volume.
	data := t.TempDir()
	startServer(t, bin, addrB, append(common, "LUDENG_DATA_DIR="+data))
	sa := startServer(t, bin, addrA, append(common, "LUDENG_DATA_DIR="+data, "LUDENG_PIPELINE_WORKERS=false"))

	c := login(t, addrA)
	up := c.upload()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addrA+"/api/v1/ws", &websocket.DialOptions{HTTPClient: c.hc,
		HTTPHeader: http.Header{"Origin": {"http://" + addrA}}})
	require.NoError(t, err)
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)

	code, b := c.json("POST", "/api/v1/batches", map[string]any{"upload_id": up, "mode": "smart", "groups": 2, "enhance": "off"})
	require.Equal(t, http.StatusAccepted, code, b)
	id := b["id"].(string)
	require.NoError(t, wsjson.Write(ctx, conn, map[string]any{"type": "subscribe", "batch_id": id, "after_seq": 0}))
	type msg struct {
		Type string          `json:"type"`
		Seq  int64           `json:"seq"`
		Kind string          `json:"kind"`
		Data json.RawMessage `json:"data"`
	}
	var m msg
	require.NoError(t, wsjson.Read(ctx, conn, &m))
	require.Equal(t, "snapshot", m.Type)
	var seqs []int64
	done := 0
	for {
		require.NoError(t, wsjson.Read(ctx, conn, &m), "events from node B reach node A's client; A's log:\n%s", sa.logs.String())
		require.Equal(t, "event", m.Type)
		if len(seqs) > 0 {
			require.Equal(t, seqs[len(seqs)-1]+1, m.Seq, "no gap, no duplicate")
		}
		seqs = append(seqs, m.Seq)
		if m.Kind == string(store.ImageKind(store.ImageSucceeded)) {
			done++
		}
		if m.Kind == string(store.KindBatchStatus) {
			var d struct {
				Status store.BatchStatus `json:"status"`
			}
			require.NoError(t, json.Unmarshal(m.Data, &d))
			if d.Status.Terminal() {
				break
			}
		}
	}
	require.Equal(t, 8, done, "every image.succeeded seen on node A")
	require.Contains(t, sa.logs.String(), "pipeline workers off on this node")
	var status struct {
		Status string `json:"status"`
	}
	_, raw := c.do("GET", "/api/v1/batches/"+id, "", nil)
	require.NoError(t, json.Unmarshal(raw, &status))
	require.Equal(t, "succeeded", status.Status)
}

// TestUserDisableNotifiesRunningNodes: on PostgreSQL, `ludeng user disable`
// publishes the user's rights notice on the event hub's channel, so running
// nodes close that user's WebSockets at once.
func TestUserDisableNotifiesRunningNodes(t *testing.T) {
	t.Parallel()
	if os.Getenv("LUDENG_TEST_DATABASE_URL") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must set LUDENG_TEST_DATABASE_URL")
		}
		t.Skip("needs PostgreSQL (LUDENG_TEST_DATABASE_URL); CI sets it") // skip-ok: SQLite has no cross-process hub
	}
	env := map[string]string{"LUDENG_DATA_DIR": t.TempDir()}
	for _, kv := range engineEnv(t, "postgres") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	code, _, errOut := runCLI(t, env, "a-long-password\n", "user", "add", "--name", "ops1", "--password-stdin")
	require.Equal(t, 0, code, errOut)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, env["LUDENG_DATABASE_URL"])
	require.NoError(t, err)
	defer pool.Close()
	var id string
	require.NoError(t, pool.QueryRow(ctx, "SELECT id FROM users WHERE username = 'ops1'").Scan(&id))
	hub, err := pghub.New(pool, pghub.Config{}, nil, nil)
	require.NoError(t, err)
	require.NoError(t, hub.Start(ctx))
	defer func() { _ = hub.Stop(context.Background()) }()
	sub, err := hub.Subscribe(ctx, ws.RightsKey(id))
	require.NoError(t, err)
	defer sub.Close()

	code, _, errOut = runCLI(t, env, "", "user", "disable", "--name", "ops1")
	require.Equal(t, 0, code, errOut)
	select {
	case n := <-sub.C():
		require.Equal(t, ws.RightsKey(id), n.BatchID)
	case <-ctx.Done():
		t.Fatal("no rights notice after `ludeng user disable`")
	}
}
