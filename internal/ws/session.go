package ws

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ludeng/ludeng/internal/fault"
)

// ClientMessage is what a client sends on GET /api/v1/ws. Its schema is in
// the API document (LiveClientMessage), so the SPA's frames are typed from it.
type ClientMessage struct {
	Type    string `json:"type" enum:"subscribe,unsubscribe"`
	BatchID string `json:"batch_id"`
	// AfterSeq nil: events after the snapshot. n ≥ 0: every stored event with Seq > n.
	AfterSeq *int64 `json:"after_seq,omitempty" doc:"Replay every stored event with seq > after_seq; absent (or null): events after the snapshot."`
}

// ServerMessage is what the server sends: snapshot, event or error (schema
// LiveServerMessage in the API document).
type ServerMessage struct {
	Type    string          `json:"type" enum:"snapshot,event,error"`
	BatchID string          `json:"batch_id,omitempty"`
	Seq     *int64          `json:"seq,omitempty" doc:"snapshot: the last event the snapshot reflects; event: the event's sequence number."`
	Kind    string          `json:"kind,omitempty" doc:"event only: an EventKind, the same as the type of GET …/events rows."`
	At      *time.Time      `json:"at,omitempty"`
	Data    json.RawMessage `json:"data,omitempty" doc:"snapshot: a Batch; event: the event's data."`
	Code    string          `json:"code,omitempty" doc:"error only: a problem code."`
	Detail  string          `json:"detail,omitempty" doc:"error only: an English sentence."`
}

// closeReason is why a session ended and what the peer is told.
type closeReason struct {
	code  websocket.StatusCode // -1: nothing to send (peer gone or already closed)
	text  string
	label string // metrics label
}

var (
	reasonClient      = closeReason{-1, "", "client"}
	reasonHeartbeat   = closeReason{-1, "", "heartbeat"}
	reasonWriteError  = closeReason{-1, "", "write_error"}
	reasonShutdown    = closeReason{websocket.StatusGoingAway, "server shutting down", "shutdown"}
	reasonSlow        = closeReason{StatusSlowConsumer, "slow consumer: reconnect with after_seq", "slow_consumer"}
	reasonIdle        = closeReason{StatusIdleTimeout, "idle: no subscription", "idle"}
	reasonLifetime    = closeReason{StatusMaxLifetime, "maximum lifetime: reconnect with after_seq", "lifetime"}
	reasonHubClosed   = closeReason{websocket.StatusServiceRestart, "event hub closed: reconnect with after_seq", "hub_closed"}
	reasonUnsupported = closeReason{websocket.StatusUnsupportedData, "text messages only", "unsupported_data"}
	reasonRevoked     = closeReason{StatusRightsChanged, "credentials revoked or rights changed: sign in again", "rights_changed"}
)

type subState struct {
	batchID string
	sub     Subscription
	cancel  context.CancelFunc
	last    int64 // highest seq delivered (or reflected by the snapshot when after_seq was omitted)
}

// session is one WebSocket connection. run's goroutine owns subs and is the
// only producer of out; the reader, writer, pinger and one forwarder per
// subscription report to it through channels.
type session struct {
	h       *Handler
	conn    *websocket.Conn
	userID  string
	isAdmin bool
	// recheck re-resolves the connection's credentials (nil: never).
	recheck func(ctx context.Context) (userID string, isAdmin bool, err error)
	rights  chan struct{} // capacity 1: the user's rights notice arrived

	ctx    context.Context // ends when run returns
	cancel context.CancelFunc

	out   chan []byte
	inbox chan []byte
	subs  map[string]*subState

	wake    chan struct{} // capacity 1: "dirty has entries"
	dirtyMu sync.Mutex
	dirty   map[string]int64 // batch → highest noticed seq (MaxInt64: unknown, re-read)

	dead     chan struct{} // closed by fail
	failOnce sync.Once
	reason   closeReason

	wg sync.WaitGroup
}

func newSession(h *Handler, conn *websocket.Conn, userID string, isAdmin bool) *session {
	return &session{
		h: h, conn: conn, userID: userID, isAdmin: isAdmin,
		out:    make(chan []byte, h.cfg.SendBuffer),
		inbox:  make(chan []byte, 8),
		subs:   make(map[string]*subState),
		wake:   make(chan struct{}, 1),
		dirty:  make(map[string]int64),
		dead:   make(chan struct{}),
		rights: make(chan struct{}, 1),
	}
}

// stillAllowed re-resolves the credentials. It ends the session when they
// no longer hold, belong to someone else, or lost the admin role the
// connection was opened with (admin-only subscriptions must not survive a
// demotion); a promotion simply applies from the next subscribe.
func (s *session) stillAllowed() bool {
	if s.recheck == nil {
		return true
	}
	uid, admin, err := s.recheck(s.ctx)
	if err != nil && fault.KindOf(err) != fault.Unauthenticated && fault.KindOf(err) != fault.NotFound {
		// The store is down: keep the connection; the next check decides.
		s.h.log.Warn("websocket rights re-check failed", slog.Any("error", err))
		return true
	}
	if err != nil || uid != s.userID || (s.isAdmin && !admin) {
		s.fail(reasonRevoked)
		return false
	}
	s.isAdmin = admin
	return true
}

// watchRights wakes the loop when the user's rights notice arrives on the hub
// (published on every node by disable, demote, password change, logout and
// token revocation).
func (s *session) watchRights(ctx context.Context) {
	defer s.wg.Done()
	sub, err := s.h.deps.Hub.Subscribe(ctx, RightsKey(s.userID))
	if err != nil {
		return
	}
	defer sub.Close()
	for range sub.C() {
		select {
		case s.rights <- struct{}{}:
		default:
		}
	}
}

// fail records the first reason the session must end.
func (s *session) fail(r closeReason) {
	s.failOnce.Do(func() {
		s.reason = r
		close(s.dead)
	})
}

// run serves the connection until it ends and returns why. reqCtx is the
// request context, cancelled with the server's BaseContext at shutdown.
func (s *session) run(reqCtx context.Context) closeReason {
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(reqCtx))
	s.wg.Add(4)
	go s.reader()
	go s.writer()
	go s.pinger()
	go s.watchRights(s.ctx)

	s.loop(reqCtx)

	for _, st := range s.subs {
		st.cancel()
		st.sub.Close() // its forwarder exits
	}
	// Close before cancelling s.ctx: the reader's Read must stay alive to
	// complete the close handshake (a cancelled Read closes without one).
	if s.reason.code >= 0 {
		_ = s.conn.Close(s.reason.code, s.reason.text)
	} else {
		_ = s.conn.CloseNow()
	}
	s.cancel()
	s.wg.Wait()
	return s.reason
}

func (s *session) loop(reqCtx context.Context) {
	lifetime := time.NewTimer(s.h.cfg.MaxLifetime)
	defer lifetime.Stop()
	idle := time.NewTimer(s.h.cfg.IdleTimeout)
	defer idle.Stop()
	for {
		idleC := idle.C
		hadSubs := len(s.subs) > 0
		if hadSubs {
			idleC = nil
		}
		select {
		case <-s.dead:
			return
		case <-reqCtx.Done():
			s.fail(reasonShutdown)
		case <-s.h.deps.Stopping:
			s.fail(reasonShutdown)
		case <-lifetime.C:
			s.fail(reasonLifetime)
		case <-idleC:
			s.fail(reasonIdle)
		case raw := <-s.inbox:
			s.handle(raw)
		case <-s.wake:
			s.catchUpDirty() // may drop a subscription whose store read failed
		case <-s.rights:
			s.stillAllowed()
		}
		if hadSubs && len(s.subs) == 0 {
			idle.Reset(s.h.cfg.IdleTimeout) // idle counts from the last subscription's end
		}
	}
}

// reader drains client messages; it must run for pings and the close
// handshake to work.
func (s *session) reader() {
	defer s.wg.Done()
	for {
		typ, data, err := s.conn.Read(s.ctx)
		if err != nil {
			s.fail(reasonClient)
			return
		}
		if typ != websocket.MessageText {
			s.fail(reasonUnsupported)
			return
		}
		select {
		case s.inbox <- data:
		case <-s.dead:
			return
		}
	}
}

// writer sends queued messages, one frame each, within WriteTimeout; a
// write that times out means the client stopped reading.
func (s *session) writer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.dead:
			return
		case b := <-s.out:
			ctx, cancel := context.WithTimeout(s.ctx, s.h.cfg.WriteTimeout)
			err := s.conn.Write(ctx, websocket.MessageText, b)
			timedOut := ctx.Err() != nil
			cancel()
			if err != nil {
				if timedOut {
					s.fail(reasonSlow)
				} else {
					s.fail(reasonWriteError)
				}
				return
			}
		}
	}
}

func (s *session) pinger() {
	defer s.wg.Done()
	t := time.NewTicker(s.h.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.dead:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.ctx, s.h.cfg.PongTimeout)
			err := s.conn.Ping(ctx)
			cancel()
			if err != nil {
				s.fail(reasonHeartbeat)
				return
			}
		}
	}
}

var errStop = errors.New("ws: session ending")

// send queues one message. It waits up to SendTimeout for room (replays
// produce faster than any network drains), then drops the client.
func (s *session) send(m ServerMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	select {
	case s.out <- b:
	default:
		t := time.NewTimer(s.h.cfg.SendTimeout)
		defer t.Stop()
		select {
		case s.out <- b:
		case <-t.C:
			s.fail(reasonSlow)
			return errStop
		case <-s.dead:
			return errStop
		case <-s.h.deps.Stopping:
			s.fail(reasonShutdown)
			return errStop
		}
	}
	s.h.m.messages.WithLabelValues("out", m.Type).Inc()
	return nil
}

func (s *session) sendError(batchID, code, detail string) error {
	return s.send(ServerMessage{Type: "error", BatchID: batchID, Code: code, Detail: detail})
}

func (s *session) handle(raw []byte) {
	var m ClientMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		s.h.m.messages.WithLabelValues("in", "invalid").Inc()
		_ = s.sendError("", "bad_message", "The message is not a JSON object.")
		return
	}
	switch m.Type {
	case "subscribe", "unsubscribe":
		s.h.m.messages.WithLabelValues("in", m.Type).Inc()
	default:
		s.h.m.messages.WithLabelValues("in", "invalid").Inc()
		_ = s.sendError(m.BatchID, "unknown_type", `The message type must be "subscribe" or "unsubscribe".`)
		return
	}
	if m.BatchID == "" || len(m.BatchID) > 100 {
		_ = s.sendError("", "invalid_batch_id", "batch_id is required.")
		return
	}
	if m.Type == "unsubscribe" {
		s.unsubscribe(m.BatchID)
		return
	}
	if m.AfterSeq != nil && *m.AfterSeq < 0 {
		_ = s.sendError(m.BatchID, "invalid_after_seq", "after_seq must be 0 or a sequence number received earlier.")
		return
	}
	s.subscribe(m.BatchID, m.AfterSeq)
}

func (s *session) unsubscribe(batchID string) {
	if st := s.subs[batchID]; st != nil {
		st.cancel()
		st.sub.Close()
		delete(s.subs, batchID)
	}
}

// subscribe: authorise, subscribe to the hub, send the snapshot, replay the
// stored log after the cursor, then continue on notices. Subscribing to the
// hub before reading anything means an event committed at any point after
// the reads began either is in those reads or wakes us later: no gap.
func (s *session) subscribe(batchID string, afterSeq *int64) {
	s.unsubscribe(batchID) // a repeated subscribe restarts with a fresh snapshot
	if len(s.subs) >= s.h.cfg.MaxSubscriptions {
		_ = s.sendError(batchID, "too_many_subscriptions", "Too many subscriptions on one connection.")
		return
	}
	if !s.stillAllowed() {
		return
	}
	ok, err := s.h.deps.Source.CanRead(s.ctx, s.userID, s.isAdmin, batchID)
	if err != nil && fault.KindOf(err) != fault.NotFound {
		s.storeFailed(batchID, "authorise", err)
		return
	}
	if !ok || err != nil {
		_ = s.sendError(batchID, "not_found", "No such batch.")
		return
	}
	subCtx, cancel := context.WithCancel(s.ctx)
	sub, err := s.h.deps.Hub.Subscribe(subCtx, batchID)
	if err != nil {
		cancel()
		s.storeFailed(batchID, "subscribe", err)
		return
	}
	st := &subState{batchID: batchID, sub: sub, cancel: cancel}
	seq, data, err := s.h.deps.Source.Snapshot(s.ctx, batchID)
	if err == nil {
		var raw []byte
		if raw, err = json.Marshal(data); err == nil {
			at := s.h.deps.Now().UTC()
			err = s.send(ServerMessage{Type: "snapshot", BatchID: batchID, Seq: &seq, At: &at, Data: raw})
			if errors.Is(err, errStop) {
				cancel()
				sub.Close()
				return
			}
		}
	}
	if err != nil {
		cancel()
		sub.Close()
		if fault.KindOf(err) == fault.NotFound {
			_ = s.sendError(batchID, "not_found", "No such batch.")
			return
		}
		s.storeFailed(batchID, "snapshot", err)
		return
	}
	// The replay rule: after_seq given → every stored event after it, even
	// those the snapshot already reflects (the client's log must be complete);
	// omitted → events after the snapshot.
	st.last = seq
	if afterSeq != nil {
		st.last = *afterSeq
	}
	s.subs[batchID] = st
	s.wg.Add(1)
	go s.forward(subCtx, st)
	s.catchUp(st)
}

// forward turns one subscription's notices into dirty marks for the loop.
func (s *session) forward(ctx context.Context, st *subState) {
	defer s.wg.Done()
	for n := range st.sub.C() {
		s.dirtyMu.Lock()
		seq := n.Seq
		if seq <= 0 {
			seq = math.MaxInt64
		}
		if seq > s.dirty[st.batchID] {
			s.dirty[st.batchID] = seq
		}
		s.dirtyMu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	if ctx.Err() == nil {
		// The hub ended the subscription (hub closed): without notices the
		// stream would silently stall, so end the connection; the client
		// resumes with after_seq.
		s.fail(reasonHubClosed)
	}
}

func (s *session) catchUpDirty() {
	s.dirtyMu.Lock()
	dirty := s.dirty
	s.dirty = make(map[string]int64, len(dirty))
	s.dirtyMu.Unlock()
	for batchID, seq := range dirty {
		if st := s.subs[batchID]; st != nil && seq > st.last {
			s.catchUp(st)
		}
	}
}

// catchUp sends every stored event after st.last, page by page. A sequence
// number at or below st.last is never sent again.
func (s *session) catchUp(st *subState) {
	for {
		evs, err := s.h.deps.Source.EventsAfter(s.ctx, st.batchID, st.last, s.h.cfg.ReplayPage)
		if err != nil {
			s.unsubscribe(st.batchID)
			s.storeFailed(st.batchID, "events", err)
			return
		}
		before := st.last
		for _, ev := range evs {
			if ev.Seq <= st.last {
				continue
			}
			seq, at := ev.Seq, ev.At.UTC()
			if err := s.send(ServerMessage{
				Type: "event", BatchID: st.batchID, Seq: &seq, Kind: ev.Kind, At: &at, Data: ev.Data,
			}); err != nil {
				return
			}
			st.last = ev.Seq
		}
		if len(evs) < s.h.cfg.ReplayPage || st.last == before {
			return
		}
	}
}

// storeFailed reports a failed subscription; the client may subscribe again
// with the last seq it received.
func (s *session) storeFailed(batchID, op string, err error) {
	if s.ctx.Err() != nil {
		return
	}
	s.h.log.Warn("websocket subscription failed", slog.String("batch_id", batchID),
		slog.String("op", op), slog.Any("error", err))
	_ = s.sendError(batchID, "subscription_failed",
		"The batch's progress could not be read. Subscribe again with the last seq you received.")
}
