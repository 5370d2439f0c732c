package provider

import (
	"context"
	"time"
)

// Ledger records every paid provider call. Begin runs before the call and
// writes a pending row, so a crash mid-call still leaves a trace of money
// possibly spent; Settle completes it. The store implements it.
type Ledger interface {
	Begin(ctx context.Context, e LedgerEntry) (id string, err error)
	Settle(ctx context.Context, id string, s Settlement) error
}

// LedgerEntry is the pending row.
type LedgerEntry struct {
	Ref      Ref
	Provider string
	Model    string
	// Operation is "generate" or "enhance".
	Operation string
	// Attempt is 1 for the first call of a request at this provider.
	Attempt   int
	StartedAt time.Time
	// EstimatedCostMicros is what the call costs if it succeeds, for budget
	// reservations.
	EstimatedCostMicros int64
}

// Settlement completes a ledger row.
type Settlement struct {
	// Outcome is "ok" or an error class name (blocked, unavailable…), or
	// "canceled" when the caller gave up.
	Outcome      string
	InputTokens  int64
	OutputTokens int64
	Images       int
	CostMicros   int64
	Latency      time.Duration
	// ErrorCode is the provider's or our code for failures (e.g. RESOURCE_EXHAUSTED).
	ErrorCode  string
	FinishedAt time.Time
}

// The operations recorded in LedgerEntry.Operation.
const (
	OpGenerate = "generate"
	OpEnhance  = "enhance"
)

type nopLedger struct{}

func (nopLedger) Begin(context.Context, LedgerEntry) (string, error) { return "", nil }
func (nopLedger) Settle(context.Context, string, Settlement) error   { return nil }
