package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/ws"
	"github.com/ludeng/ludeng/internal/ws/pghub"
)

// wait is the generous bound for anything that must eventually happen.
const wait = 20 * time.Second

// fakeSource is an in-memory stand-in for the pipeline's event store: an
// append-only log per batch whose Append publishes after "commit", as the
// pipeline does.
type fakeSource struct {
	hub ws.Hub

	mu      sync.Mutex
	owners  map[string]string
	logs    map[string][]ws.Event
	failing map[string]bool
}

func newFakeSource(hub ws.Hub) *fakeSource {
	return &fakeSource{hub: hub, owners: map[string]string{}, logs: map[string][]ws.Event{}, failing: map[string]bool{}}
}

func (f *fakeSource) addBatch(id, owner string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.owners[id] = owner
}

// append stores one event and then publishes it.
func (f *fakeSource) append(t testing.TB, batchID, kind string, data any) int64 {
	raw, err := json.Marshal(data)
	require.NoError(t, err)
	f.mu.Lock()
	seq := int64(len(f.logs[batchID]) + 1)
	f.logs[batchID] = append(f.logs[batchID], ws.Event{Seq: seq, Kind: kind, At: time.Now(), Data: raw})
	f.mu.Unlock()
	require.NoError(t, f.hub.Publish(context.Background(), batchID, seq))
	return seq
}

func (f *fakeSource) CanRead(_ context.Context, userID string, isAdmin bool, batchID string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	owner, ok := f.owners[batchID]
	return ok && (isAdmin || owner == userID), nil
}

func (f *fakeSource) Snapshot(_ context.Context, batchID string) (int64, any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.owners[batchID]; !ok {
		return 0, nil, fault.New(fault.NotFound, "not_found", "no batch")
	}
	n := int64(len(f.logs[batchID]))
	return n, map[string]any{"status": "running", "events": n}, nil
}

func (f *fakeSource) EventsAfter(_ context.Context, batchID string, after int64, limit int) ([]ws.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing[batchID] {
		return nil, errors.New("disk on fire")
	}
	log := f.logs[batchID]
	if after >= int64(len(log)) {
		return nil, nil
	}
	out := log[after:]
	if len(out) > limit {
		out = out[:limit]
	}
	return append([]ws.Event(nil), out...), nil
}

type testBundle struct {
	h   *ws.Handler
	srv *httptest.Server
	src *fakeSource
	hub interface {
		ws.Hub
		closer
	}
	reg      *prometheus.Registry
	stopping chan struct{}
	stop     func()
	// revoked users fail the re-check (as a disabled user or a revoked
	// session would); demoted users re-check as non-admins.
	revoked, demoted sync.Map
}

// authenticate: "Authorization: Bearer <user>" or cookie "session=<user>";
// users named admin* are admins.
func authenticate(r *http.Request) (string, bool, error) {
	user := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if c, err := r.Cookie("session"); err == nil {
		user = c.Value
	}
	if user == "" {
		return "", false, errors.New("no credentials")
	}
	return user, strings.HasPrefix(user, "admin"), nil
}

func setup(t *testing.T, cfg ws.Config) *testBundle {
	t.Helper()
	return setupHub(t, cfg, "memory")
}

// hubKinds are the hubs a test runs on: in-process always, PostgreSQL
// LISTEN/NOTIFY when LUDENG_TEST_DATABASE_URL is set (CI sets it).
func hubKinds() []string {
	if os.Getenv("LUDENG_TEST_DATABASE_URL") != "" {
		return []string{"memory", "postgres"}
	}
	return []string{"memory"}
}

func setupHub(t *testing.T, cfg ws.Config, kind string) *testBundle {
	t.Helper()
	reg := prometheus.NewRegistry()
	var hub interface {
		ws.Hub
		closer
	}
	switch kind {
	case "postgres":
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, os.Getenv("LUDENG_TEST_DATABASE_URL"))
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		h, err := pghub.New(pool, pghub.Config{}, nil, reg)
		require.NoError(t, err)
		require.NoError(t, h.Start(ctx))
		hub = pgCloser{h}
	default:
		h, err := ws.NewMemoryHub(0, reg)
		require.NoError(t, err)
		hub = h
	}
	src := newFakeSource(hub)
	stopping := make(chan struct{})
	cfg.AllowedOrigins = append(cfg.AllowedOrigins, "https://ludeng.example.com")
	b := &testBundle{src: src, hub: hub, reg: reg, stopping: stopping}
	recheck := func(r *http.Request) (string, bool, error) {
		user, admin, err := authenticate(r)
		if _, gone := b.revoked.Load(user); gone {
			return "", false, fault.New(fault.Unauthenticated, "unauthenticated", "revoked")
		}
		if _, demoted := b.demoted.Load(user); demoted {
			admin = false
		}
		return user, admin, err
	}
	h, err := ws.NewHandler(cfg, ws.Deps{
		Source: src, Hub: hub, Authenticate: authenticate, Recheck: recheck, Registerer: reg, Stopping: stopping,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	var once sync.Once
	b.h, b.srv = h, srv
	b.stop = func() { once.Do(func() { close(stopping) }) }
	t.Cleanup(func() {
		b.stop()
		srv.Close()
		_ = hub.Close()
	})
	return b
}

func (b *testBundle) url() string { return "ws" + strings.TrimPrefix(b.srv.URL, "http") }

func (b *testBundle) dial(t *testing.T, user string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, b.url(), &websocket.DialOptions{
		HTTPHeader: http.Header{"Cookie": {"session=" + user}, "Origin": {b.srv.URL}},
	})
	require.NoError(t, err)
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

type msg struct {
	Type    string          `json:"type"`
	BatchID string          `json:"batch_id"`
	Seq     *int64          `json:"seq"`
	Kind    string          `json:"kind"`
	At      *time.Time      `json:"at"`
	Data    json.RawMessage `json:"data"`
	Code    string          `json:"code"`
	Detail  string          `json:"detail"`
}

func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, c.Write(ctx, websocket.MessageText, b))
}

func subscribe(t *testing.T, c *websocket.Conn, batchID string, afterSeq *int64) {
	t.Helper()
	m := map[string]any{"type": "subscribe", "batch_id": batchID}
	if afterSeq != nil {
		m["after_seq"] = *afterSeq
	}
	send(t, c, m)
}

func read(t *testing.T, c *websocket.Conn) msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	typ, b, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, typ)
	var m msg
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// readClose reads until the connection ends and returns its close status.
func readClose(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			require.NoError(t, ctx.Err(), "connection not closed in time")
			return websocket.CloseStatus(err)
		}
	}
}

func ptr(n int64) *int64 { return &n }

func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, wait, 5*time.Millisecond, what)
}

func TestSnapshotThenEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, ws.Config{})
	b.src.addBatch("b1", "alice")
	b.src.append(t, "b1", "batch_status", map[string]string{"status": "queued"})
	b.src.append(t, "b1", "progress", map[string]int{"done": 0})

	c := b.dial(t, "alice")
	subscribe(t, c, "b1", nil)
	snap := read(t, c)
	require.Equal(t, "snapshot", snap.Type)
	require.Equal(t, "b1", snap.BatchID)
	require.Equal(t, int64(2), *snap.Seq)
	require.JSONEq(t, `{"status":"running","events":2}`, string(snap.Data))
	require.NotNil(t, snap.At)

	b.src.append(t, "b1", "image_done", map[string]string{"url": "/x.png"})
	b.src.append(t, "b1", "batch_done", nil)
	for _, want := range []struct {
		seq  int64
		kind string
	}{{3, "image_done"}, {4, "batch_done"}} {
		m := read(t, c)
		require.Equal(t, "event", m.Type)
		require.Equal(t, "b1", m.BatchID)
		require.Equal(t, want.seq, *m.Seq)
		require.Equal(t, want.kind, m.Kind)
	}
}

func TestAfterSeqReplaysEventsTheSnapshotReflects(t *testing.T) {
	t.Parallel()
	b := setup(t, ws.Config{})
	b.src.addBatch("b1", "alice")
	for i := 0; i < 5; i++ {
		b.src.append(t, "b1", "progress", map[string]int{"done": i})
	}
	c := b.dial(t, "alice")
	subscribe(t, c, "b1", ptr(2))
	snap := read(t, c)
	require.Equal(t, "snapshot", snap.Type)
	require.Equal(t, int64(5), *snap.Seq)
	for want := int64(3); want <= 5; want++ {
		m := read(t, c)
		require.Equal(t, "event", m.Type)
		require.Equal(t, want, *m.Seq)
	}
	b.src.append(t, "b1", "batch_done", nil)
	require.Equal(t, int64(6), *read(t, c).Seq)
}

// A client reading a batch while it is being written disconnects mid-stream
// and resumes with after_seq: the union of what it received is the log.
func TestResumeAfterDisconnect(t *testing.T) {
	t.Parallel()
	const total = 300
	b := setup(t, ws.Config{ReplayPage: 7}) // small pages exercise paging
	b.src.addBatch("b1", "alice")
	b.src.append(t, "b1", "batch_status", "queued")

	// The writer stays at most 20 events ahead of the reader, so the
	// disconnects happen while the batch is still being written and both the
	// replay and the live path are exercised.
	received := make(chan int64, total)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seen int64
		for i := int64(2); i <= total; i++ {
			for seen < i-20 {
				seen = <-received
			}
			b.src.append(t, "b1", "progress", i)
		}
	}()

	var got []int64
	last := ptr(0) // the whole log, then resume after the last seq received
	for round := 0; ; round++ {
		c := b.dial(t, "alice")
		subscribe(t, c, "b1", last)
		require.Equal(t, "snapshot", read(t, c).Type)
		// Read a few events, then drop the connection without a close handshake.
		for n := 0; n < 40 && *last < total; n++ {
			m := read(t, c)
			require.Equal(t, "event", m.Type)
			got = append(got, *m.Seq)
			last = ptr(*m.Seq)
			received <- *m.Seq
		}
		_ = c.CloseNow()
		if *last == total {
			break
		}
		require.Less(t, round, total, "no progress")
	}
	<-done
	want := make([]int64, total)
	for i := range want {
		want[i] = int64(i + 1)
	}
	require.Equal(t, want, got, "every event once, in order")
}

func TestSubscribeRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, ws.Config{MaxSubscriptions: 2})
	b.src.addBatch("alice-batch", "alice")
	b.src.addBatch("a2", "alice")
	b.src.addBatch("a3", "alice")
	b.src.append(t, "alice-batch", "progress", 1)

	tests := []struct {
		name     string
		user     string
		message  any
		wantType string
		wantCode string
	}{
		{"another user's batch", "bob", map[string]any{"type": "subscribe", "batch_id": "alice-batch"}, "error", "not_found"},
		{"unknown batch", "alice", map[string]any{"type": "subscribe", "batch_id": "nope"}, "error", "not_found"},
		{"admin reads any batch", "admin1", map[string]any{"type": "subscribe", "batch_id": "alice-batch"}, "snapshot", ""},
		{"owner", "alice", map[string]any{"type": "subscribe", "batch_id": "alice-batch"}, "snapshot", ""},
		{"not json", "alice", "{", "error", "bad_message"},
		{"unknown type", "alice", map[string]any{"type": "publish", "batch_id": "alice-batch"}, "error", "unknown_type"},
		{"missing batch id", "alice", map[string]any{"type": "subscribe"}, "error", "invalid_batch_id"},
		{"negative after_seq", "alice", map[string]any{"type": "subscribe", "batch_id": "alice-batch", "after_seq": -1}, "error", "invalid_after_seq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := b.dial(t, tt.user)
			if s, ok := tt.message.(string); ok {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				defer cancel()
				require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(s)))
			} else {
				send(t, c, tt.message)
			}
			m := read(t, c)
			require.Equal(t, tt.wantType, m.Type, m.Detail)
			require.Equal(t, tt.wantCode, m.Code)
			if m.Type == "error" {
				require.NotEmpty(t, m.Detail)
				require.NotContains(t, string(m.Data), "alice")
			}
		})
	}

	t.Run("too many subscriptions", func(t *testing.T) {
		t.Parallel()
		c := b.dial(t, "alice")
		subscribe(t, c, "alice-batch", nil)
		require.Equal(t, "snapshot", read(t, c).Type)
		subscribe(t, c, "a2", nil)
		require.Equal(t, "snapshot", read(t, c).Type)
		subscribe(t, c, "a3", nil)
		m := read(t, c)
		require.Equal(t, "too_many_subscriptions", m.Code)
		require.Equal(t, "a3", m.BatchID)
	})

	t.Run("store failure refuses the subscription, connection stays", func(t *testing.T) {
		t.Parallel()
		b := setup(t, ws.Config{})
		b.src.addBatch("broken", "alice")
		b.src.addBatch("ok", "alice")
		b.src.failing["broken"] = true
		c := b.dial(t, "alice")
		subscribe(t, c, "broken", nil)
		require.Equal(t, "snapshot", read(t, c).Type)
		m := read(t, c)
		require.Equal(t, "subscription_failed", m.Code)
		subscribe(t, c, "ok", nil)
		require.Equal(t, "snapshot", read(t, c).Type)
	})
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	b := setup(t, ws.Config{})
	b.src.addBatch("a", "alice")
	b.src.addBatch("b", "alice")
	c := b.dial(t, "alice")
	subscribe(t, c, "a", nil)
	require.Equal(t, "snapshot", read(t, c).Type)
	subscribe(t, c, "b", nil)
	require.Equal(t, "snapshot", read(t, c).Type)
	send(t, c, map[string]any{"type": "unsubscribe", "batch_id": "a"})
	// The unsubscribe is processed before the next message: wait until the
	// hub has one batch subscription left (plus the connection's rights
	// subscription), then write to both batches.
	eventually(t, func() bool {
		return metricValue(t, b.reg, "ludeng_ws_hub_subscriptions", "") == 2
	}, "unsubscribed")
	b.src.append(t, "a", "progress", 1)
	b.src.append(t, "b", "progress", 1)
	m := read(t, c)
	require.Equal(t, "b", m.BatchID, "no event of the unsubscribed batch")
}

func TestOriginCheck(t *testing.T) {
	t.Parallel()
	b := setup(t, ws.Config{})
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int // 0: upgrade succeeds
	}{
		{"cross-site cookie upgrade refused", http.Header{"Cookie": {"session=alice"}, "Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"null origin refused", http.Header{"Cookie": {"session=alice"}, "Origin": {"null"}}, http.StatusForbidden},
		{"same host", http.Header{"Cookie": {"session=alice"}, "Origin": {b.srv.URL}}, 0},
		{"same host over another scheme", http.Header{"Cookie": {"session=alice"}, "Origin": {strings.Replace(b.srv.URL, "http://", "https://", 1)}}, http.StatusForbidden},
		{"same host name, another port", http.Header{"Cookie": {"session=alice"}, "Origin": {"http://127.0.0.1:1"}}, http.StatusForbidden},
		{"LUDENG_BASE_URL origin", http.Header{"Cookie": {"session=alice"}, "Origin": {"https://ludeng.example.com"}}, 0},
		{"no origin (non-browser client)", http.Header{"Cookie": {"session=alice"}}, 0},
		{"bearer token from anywhere", http.Header{"Authorization": {"Bearer alice"}, "Origin": {"https://evil.example"}}, 0},
		{"unauthenticated", http.Header{"Origin": {b.srv.URL}}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, b.url(), &websocket.DialOptions{HTTPHeader: tt.header})
			if tt.wantStatus == 0 {
				require.NoError(t, err)
				_ = c.CloseNow()
				return
			}
			require.Error(t, err)
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		})
	}
}

func TestConnectionsPerUserAreCapped(t *testing.T) {
	t.Parallel()
	b := setup(t, ws.Config{MaxConnsPerUser: 3})
	for i := 0; i < 3; i++ {
		b.dial(t, "alice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, b.url(), &websocket.DialOptions{
		HTTPHeader: http.Header{"Cookie": {"session=alice"}, "Origin": {b.srv.URL}}})
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	// Another user is not affected.
	b.dial(t, "bob")
}

// A revoked user's socket closes when the rights notice arrives on the hub,
// and a subscribe re-checks the credentials even without a notice.
func TestRightsAreRecheckedOnLiveSockets(t *testing.T) {
	t.Parallel()
	for _, kind := range hubKinds() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := setupHub(t, ws.Config{}, kind)
			b.src.addBatch("a", "alice")
			c := b.dial(t, "alice")
			subscribe(t, c, "a", nil)
			require.Equal(t, "snapshot", read(t, c).Type)
			b.revoked.Store("alice", true)
			require.NoError(t, b.hub.Publish(context.Background(), ws.RightsKey("alice"), 0))
			require.Equal(t, ws.StatusRightsChanged, readClose(t, c))

			b.src.addBatch("m", "mallory")
			c = b.dial(t, "mallory")
			subscribe(t, c, "m", nil)
			require.Equal(t, "snapshot", read(t, c).Type)
			b.revoked.Store("mallory", true) // no notice: the next subscribe finds out
			subscribe(t, c, "m", nil)
			require.Equal(t, ws.StatusRightsChanged, readClose(t, c))

			// A demoted admin's socket closes too: it may hold others' batches.
			c = b.dial(t, "admin1")
			subscribe(t, c, "a", nil)
			require.Equal(t, "snapshot", read(t, c).Type)
			b.demoted.Store("admin1", true)
			require.NoError(t, b.hub.Publish(context.Background(), ws.RightsKey("admin1"), 0))
			require.Equal(t, ws.StatusRightsChanged, readClose(t, c))
		})
	}
}

// A client that never reads fills its buffer and is dropped with 4000 while
// a fast client on the same batch keeps receiving every event — with either
// hub.
func TestSlowClientDoesNotDelayFastOne(t *testing.T) {
	t.Parallel()
	for _, kind := range hubKinds() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			slowClient(t, kind)
		})
	}
}

func slowClient(t *testing.T, kind string) {
	b := setupHub(t, ws.Config{
		SendBuffer: 4, SendTimeout: 20 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		PingInterval: time.Hour,
	}, kind)
	// Unique per run: PostgreSQL notifications reach every listener.
	b1 := "b1-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	b.src.addBatch(b1, "alice")
	slow := b.dial(t, "alice")
	subscribe(t, slow, b1, nil)
	fast := b.dial(t, "alice")
	subscribe(t, fast, b1, nil)
	require.Equal(t, "snapshot", read(t, fast).Type)

	slowDrops := func() float64 {
		return metricValue(t, b.reg, "ludeng_ws_closes_total", "slow_consumer")
	}
	big := strings.Repeat("x", 32<<10)
	deadline := time.Now().Add(2 * wait)
	for seq := int64(1); slowDrops() == 0; seq++ {
		require.True(t, time.Now().Before(deadline), "slow client never dropped")
		b.src.append(t, b1, "progress", big)
		// The fast client gets each event while the slow one is stuck.
		m := read(t, fast)
		require.Equal(t, seq, *m.Seq)
	}
	eventually(t, func() bool {
		return metricValue(t, b.reg, "ludeng_ws_connections", "") == 1
	}, "slow connection released")
	// The fast one still works.
	seq := b.src.append(t, b1, "batch_done", nil)
	m := read(t, fast)
	require.Equal(t, seq, *m.Seq)
	// The slow one finds the end of its stream (4000 when the close frame got
	// through, an abnormal closure otherwise) and can resume with after_seq.
	code := readClose(t, slow)
	require.Contains(t, []websocket.StatusCode{ws.StatusSlowConsumer, -1}, code)
}

func TestShutdownClosesConnections(t *testing.T) {
	t.Parallel()
	b := setup(t, ws.Config{})
	b.src.addBatch("b1", "alice")
	c1 := b.dial(t, "alice")
	subscribe(t, c1, "b1", nil)
	require.Equal(t, "snapshot", read(t, c1).Type)
	c2 := b.dial(t, "alice") // no subscription
	eventually(t, func() bool {
		return metricValue(t, b.reg, "ludeng_ws_connections", "") == 2
	}, "two connections")

	b.stop()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.Equal(t, websocket.StatusGoingAway, readClose(t, c1))
	require.Equal(t, websocket.StatusGoingAway, readClose(t, c2))
	require.NoError(t, b.h.Wait(ctx), "every connection served to its end")
	require.Zero(t, metricValue(t, b.reg, "ludeng_ws_connections", ""))

	_, resp, err := websocket.Dial(ctx, b.url(), &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {"session=alice"}}})
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

func TestServerCloses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  ws.Config
		act  func(t *testing.T, b *testBundle, c *websocket.Conn)
		want websocket.StatusCode
	}{
		{"idle without subscription", ws.Config{IdleTimeout: 10 * time.Millisecond}, func(*testing.T, *testBundle, *websocket.Conn) {}, ws.StatusIdleTimeout},
		{"maximum lifetime", ws.Config{MaxLifetime: 10 * time.Millisecond}, func(t *testing.T, _ *testBundle, c *websocket.Conn) {
			subscribe(t, c, "b1", nil)
		}, ws.StatusMaxLifetime},
		{"binary message", ws.Config{}, func(t *testing.T, _ *testBundle, c *websocket.Conn) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			require.NoError(t, c.Write(ctx, websocket.MessageBinary, []byte("{}")))
		}, websocket.StatusUnsupportedData},
		{"message too big", ws.Config{ReadLimit: 128}, func(t *testing.T, _ *testBundle, c *websocket.Conn) {
			send(t, c, map[string]any{"type": "subscribe", "batch_id": strings.Repeat("x", 200)})
		}, websocket.StatusMessageTooBig},
		{"hub closed", ws.Config{}, func(t *testing.T, b *testBundle, c *websocket.Conn) {
			subscribe(t, c, "b1", nil)
			require.Equal(t, "snapshot", read(t, c).Type)
			require.NoError(t, b.hub.Close())
		}, websocket.StatusServiceRestart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			b.src.addBatch("b1", "alice")
			c := b.dial(t, "alice")
			tt.act(t, b, c)
			require.Equal(t, tt.want, readClose(t, c))
		})
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	// A client that reads answers pings and stays connected across many of them.
	b := setup(t, ws.Config{PingInterval: 5 * time.Millisecond})
	b.src.addBatch("b1", "alice")
	c := b.dial(t, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan msg, 8)
	go func() {
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				close(got)
				return
			}
			var m msg
			_ = json.Unmarshal(data, &m)
			got <- m
		}
	}()
	subscribe(t, c, "b1", nil)
	require.Equal(t, "snapshot", (<-got).Type)
	for i := 0; i < 5; i++ {
		require.NoError(t, c.Ping(ctx)) // client→server ping answered too
	}
	b.src.append(t, "b1", "progress", 1)
	m, ok := <-got
	require.True(t, ok)
	require.Equal(t, int64(1), *m.Seq)
}

// metricValue reads a gauge or counter from reg; label, when not empty, is
// the value of the metric's only label.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

type closer interface{ Close() error }

// pgCloser gives pghub.Hub the Close of the in-process hub.
type pgCloser struct{ *pghub.Hub }

func (p pgCloser) Close() error { return p.Stop(context.Background()) }
