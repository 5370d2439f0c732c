package ws

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Notice says "batch BatchID has stored events up to at least Seq". It is a
// wake-up call, never a payload: a reader that receives one reads the stored
// log after the last sequence number it delivered. Seq 0 means "unknown,
// re-read" (sent after a hub lost notices, e.g. a LISTEN reconnect).
type Notice struct {
	BatchID string
	Seq     int64
}

// Subscription receives the notices of one batch until Close (or until the
// context given to Subscribe ends). C is closed when the subscription ends.
type Subscription interface {
	C() <-chan Notice
	Close()
}

// Hub fans per-batch notices out to subscribers, in this process
// (MemoryHub) or across nodes (pghub.Hub, PostgreSQL LISTEN/NOTIFY).
//
// Publish is called after the transaction that stored the event committed;
// it never blocks on subscribers. Delivery is best effort: the stored log is
// the truth and every reader catches up from it, so a dropped notice delays
// nothing as long as a later one (or the pending one that filled a channel)
// reaches the reader.
type Hub interface {
	Publish(ctx context.Context, batchID string, seq int64) error
	Subscribe(ctx context.Context, batchID string) (Subscription, error)
}

// ErrHubClosed is returned by Subscribe and Publish after Close.
var ErrHubClosed = errors.New("ws: event hub closed")

// DefaultSubscriptionBuffer is the per-subscriber notice channel capacity.
// Notices of one batch are interchangeable wake-ups, so a small buffer is
// plenty: when it is full the reader already has a wake-up pending.
const DefaultSubscriptionBuffer = 16

// MemoryHub is the in-process Hub: a map of batch id → subscribers with a
// non-blocking send into each bounded channel. It is the hub of a single
// node (SQLite) and the local fan-out stage of pghub.Hub.
type MemoryHub struct {
	buffer int

	mu     sync.Mutex
	subs   map[string]map[*memSub]struct{}
	closed bool

	published prometheus.Counter
	lagged    prometheus.Counter
	active    prometheus.Gauge
}

// NewMemoryHub returns an in-process hub. buffer ≤ 0 selects
// DefaultSubscriptionBuffer. reg may be nil (no metrics registered; pghub
// uses that for its embedded local stage).
func NewMemoryHub(buffer int, reg prometheus.Registerer) (*MemoryHub, error) {
	if buffer <= 0 {
		buffer = DefaultSubscriptionBuffer
	}
	h := &MemoryHub{
		buffer: buffer,
		subs:   make(map[string]map[*memSub]struct{}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ludeng_ws_hub_notices_total",
			Help: "Notices fanned out by the in-process event hub (one per Publish or LISTEN notification).",
		}),
		lagged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ludeng_ws_hub_lagged_total",
			Help: "Notices not queued because a subscriber's channel was full (the subscriber re-reads the stored log).",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ludeng_ws_hub_subscriptions",
			Help: "Open event hub subscriptions.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{h.published, h.lagged, h.active} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// Publish wakes every subscriber of batchID. It never blocks: a subscriber
// whose channel is full is marked lagged instead (see memSub.Lagged).
func (h *MemoryHub) Publish(_ context.Context, batchID string, seq int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrHubClosed
	}
	h.published.Inc()
	for s := range h.subs[batchID] {
		h.send(s, Notice{BatchID: batchID, Seq: seq})
	}
	return nil
}

// WakeAll sends a Seq-0 notice to every subscriber of every batch. pghub
// calls it after re-establishing LISTEN, because notifications sent while it
// was disconnected are lost and every reader must re-read the log.
func (h *MemoryHub) WakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for batchID, set := range h.subs {
		for s := range set {
			h.send(s, Notice{BatchID: batchID})
		}
	}
}

// send is called with h.mu held.
func (h *MemoryHub) send(s *memSub, n Notice) {
	select {
	case s.ch <- n:
	default:
		// The channel is full, so the reader has wake-ups pending that it
		// will act on after this event was committed: it re-reads the log
		// and loses nothing.
		s.lagged.Store(true)
		h.lagged.Inc()
	}
}

// Subscribe registers a subscriber for batchID. The subscription ends on
// Close, when ctx ends, or when the hub is closed.
func (h *MemoryHub) Subscribe(ctx context.Context, batchID string) (Subscription, error) {
	s := &memSub{hub: h, batchID: batchID, ch: make(chan Notice, h.buffer)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHubClosed
	}
	set := h.subs[batchID]
	if set == nil {
		set = make(map[*memSub]struct{})
		h.subs[batchID] = set
	}
	set[s] = struct{}{}
	h.active.Inc()
	h.mu.Unlock()
	stop := context.AfterFunc(ctx, s.Close)
	h.mu.Lock()
	if s.done {
		stop()
	} else {
		s.stop = stop
	}
	h.mu.Unlock()
	return s, nil
}

// Close ends every subscription (their channels close) and refuses new ones.
// Safe to call twice.
func (h *MemoryHub) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	for _, set := range h.subs {
		for s := range set {
			s.closeLocked()
		}
	}
	h.subs = nil
	return nil
}

type memSub struct {
	hub     *MemoryHub
	batchID string
	ch      chan Notice
	lagged  atomic.Bool
	done    bool        // guarded by hub.mu
	stop    func() bool // guarded by hub.mu
}

func (s *memSub) C() <-chan Notice { return s.ch }

// Lagged reports (and clears) whether a notice was dropped because the
// channel was full since the last call.
func (s *memSub) Lagged() bool { return s.lagged.Swap(false) }

func (s *memSub) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.done {
		return
	}
	if set := s.hub.subs[s.batchID]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(s.hub.subs, s.batchID)
		}
	}
	s.closeLocked()
}

// closeLocked is called with hub.mu held.
func (s *memSub) closeLocked() {
	if s.done {
		return
	}
	s.done = true
	s.hub.active.Dec()
	close(s.ch)
	if s.stop != nil {
		s.stop()
	}
}
