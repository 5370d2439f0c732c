package pghub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/ws"
	"github.com/ludeng/ludeng/internal/ws/pghub"
)

const wait = 20 * time.Second

func TestPayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload string
		want    ws.Notice
		ok      bool
	}{
		{pghub.Payload("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 42), ws.Notice{BatchID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Seq: 42}, true},
		{"weird:id:7", ws.Notice{BatchID: "weird:id", Seq: 7}, true},
		{"b:0", ws.Notice{BatchID: "b"}, true},
		{"", ws.Notice{}, false},
		{":5", ws.Notice{}, false},
		{"b:", ws.Notice{}, false},
		{"b:-1", ws.Notice{}, false},
		{"b:x", ws.Notice{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.payload, func(t *testing.T) {
			t.Parallel()
			got, ok := pghub.ParsePayload(tt.payload)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

// node is one "serve process": its own pool and hub on the shared database.
type node struct {
	pool *pgxpool.Pool
	hub  *pghub.Hub
	reg  *prometheus.Registry
}

func newNode(t *testing.T) *node {
	t.Helper()
	url := os.Getenv("LUDENG_TEST_DATABASE_URL")
	if url == "" {
		// CI sets it; there a missing PostgreSQL is a failure, not a skip.
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but LUDENG_TEST_DATABASE_URL is not")
		}
		t.Skip("LUDENG_TEST_DATABASE_URL not set")
	}
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 2 // plus one listening connection per node: the local server's limit is shared
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	reg := prometheus.NewRegistry()
	hub, err := pghub.New(pool, pghub.Config{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}, nil, reg)
	require.NoError(t, err)
	require.NoError(t, hub.Start(ctx))
	require.NoError(t, hub.Start(ctx)) // twice is fine
	t.Cleanup(func() {
		require.NoError(t, hub.Stop(context.Background()))
		require.NoError(t, hub.Stop(context.Background()))
	})
	return &node{pool: pool, hub: hub, reg: reg}
}

func recv(t *testing.T, s ws.Subscription) ws.Notice {
	t.Helper()
	select {
	case n, ok := <-s.C():
		require.True(t, ok, "subscription closed")
		return n
	case <-time.After(wait):
		t.Fatal("no notice")
	}
	return ws.Notice{}
}

func TestTwoNodesSeeEachOther(t *testing.T) {
	t.Parallel()
	a, b := newNode(t), newNode(t)
	batch := uuid.NewString()
	ctx := context.Background()
	subA, err := a.hub.Subscribe(ctx, batch)
	require.NoError(t, err)
	subB, err := b.hub.Subscribe(ctx, batch)
	require.NoError(t, err)

	require.NoError(t, b.hub.Publish(ctx, batch, 5))
	require.Equal(t, ws.Notice{BatchID: batch, Seq: 5}, recv(t, subA))
	require.Equal(t, ws.Notice{BatchID: batch, Seq: 5}, recv(t, subB), "the publisher's own node hears it too")

	require.NoError(t, a.hub.Publish(ctx, batch, 6))
	require.Equal(t, int64(6), recv(t, subB).Seq)
	require.Equal(t, int64(6), recv(t, subA).Seq)
}

func TestReconnectWakesSubscribers(t *testing.T) {
	t.Parallel()
	a, b := newNode(t), newNode(t)
	batch := uuid.NewString()
	ctx := context.Background()
	sub, err := a.hub.Subscribe(ctx, batch)
	require.NoError(t, err)

	pid := a.hub.ListenerPID()
	var killed bool
	require.NoError(t, b.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&killed))
	require.True(t, killed)

	// After reconnecting, the hub wakes its subscribers (Seq 0: re-read the
	// log), since notifications sent meanwhile were lost.
	require.Equal(t, ws.Notice{BatchID: batch}, recv(t, sub))
	require.NotEqual(t, pid, a.hub.ListenerPID())
	require.NoError(t, b.hub.Publish(ctx, batch, 9))
	require.Equal(t, ws.Notice{BatchID: batch, Seq: 9}, recv(t, sub))
}

func TestStopEndsSubscriptions(t *testing.T) {
	t.Parallel()
	a := newNode(t)
	sub, err := a.hub.Subscribe(context.Background(), uuid.NewString())
	require.NoError(t, err)
	require.NoError(t, a.hub.Stop(context.Background()))
	_, open := <-sub.C()
	require.False(t, open)
	_, err = a.hub.Subscribe(context.Background(), "x")
	require.ErrorIs(t, err, ws.ErrHubClosed)
}

// sharedLog stands in for the pipeline's event table in the shared database.
type sharedLog struct {
	mu   sync.Mutex
	logs map[string][]ws.Event
}

func (s *sharedLog) append(batchID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := int64(len(s.logs[batchID]) + 1)
	s.logs[batchID] = append(s.logs[batchID], ws.Event{Seq: seq, Kind: "progress", At: time.Now(), Data: json.RawMessage(`{}`)})
	return seq
}

func (s *sharedLog) CanRead(context.Context, string, bool, string) (bool, error) { return true, nil }

func (s *sharedLog) Snapshot(_ context.Context, batchID string) (int64, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.logs[batchID])), nil, nil
}

func (s *sharedLog) EventsAfter(_ context.Context, batchID string, after int64, limit int) ([]ws.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.logs[batchID]
	if after >= int64(len(log)) {
		return nil, nil
	}
	out := log[after:]
	return append([]ws.Event(nil), out[:min(limit, len(out))]...), nil
}

// A client connected to node A receives the events of a batch whose jobs
// run on node B.
func TestWebSocketAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b := newNode(t), newNode(t)
	src := &sharedLog{logs: map[string][]ws.Event{}}
	h, err := ws.NewHandler(ws.Config{}, ws.Deps{
		Source: src, Hub: a.hub, Registerer: a.reg,
		Authenticate: func(*http.Request) (string, bool, error) { return "alice", false, nil },
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	defer func() { _ = c.CloseNow() }()
	batch := uuid.NewString()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","batch_id":"`+batch+`","after_seq":0}`)))
	read := func() map[string]any {
		_, data, err := c.Read(ctx)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		return m
	}
	require.Equal(t, "snapshot", read()["type"])
	for want := 1; want <= 5; want++ {
		seq := src.append(batch)                           // node B's job commits…
		require.NoError(t, b.hub.Publish(ctx, batch, seq)) // …and publishes
		m := read()
		require.Equal(t, "event", m["type"])
		require.Equal(t, float64(want), m["seq"])
	}
}
