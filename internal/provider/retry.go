package provider

import "time"

// RetryPolicy decides whether and when a failed attempt is repeated.
type RetryPolicy struct {
	// MaxAttempts is the number of calls per provider including the first.
	// Default 3: every image call is billed, so retries stay few.
	MaxAttempts int
	// BaseDelay is the backoff ceiling of the first retry; default 1s.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling; default 60s (as Google's SDK).
	MaxDelay time.Duration
	// MaxJitter is added on top of a server-given delay (Retry-After,
	// RetryInfo) so workers told the same delay don't return in lockstep;
	// default 1s. A retry after a hint lands in [hint, hint+MaxJitter].
	MaxJitter time.Duration
	// MaxHint is the longest server-given delay waited in-process; a longer
	// one ends the attempts at this provider (the fallback or the job queue
	// takes over). Default 2m.
	MaxHint time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = time.Minute
	}
	if p.MaxJitter <= 0 {
		p.MaxJitter = time.Second
	}
	if p.MaxHint <= 0 {
		p.MaxHint = 2 * time.Minute
	}
	return p
}

// Delay is the wait before retry number attempt (1 = first retry). With a
// server hint it is hint + U(0, MaxJitter); without, "full jitter":
// U(0, min(MaxDelay, BaseDelay·2^(attempt-1))). rnd is in [0, 1).
func (p RetryPolicy) Delay(attempt int, hint time.Duration, rnd float64) time.Duration {
	if hint > 0 {
		return hint + time.Duration(rnd*float64(p.MaxJitter))
	}
	ceil := p.MaxDelay
	if attempt < 32 {
		if d := p.BaseDelay << (attempt - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(rnd * float64(ceil))
}

// retryable says whether err may be retried at the same provider after
// attempt attempts (1-based), and with which server hint.
func (p RetryPolicy) retryable(err *Error, attempt, noImageSeen int) (bool, time.Duration) {
	if attempt >= p.MaxAttempts {
		return false, 0
	}
	switch err.Class {
	case ClassUnavailable:
		return err.Code != "circuit_open", err.RetryAfter
	case ClassRateLimited:
		if err.RetryAfter > p.MaxHint {
			return false, 0
		}
		return true, err.RetryAfter
	case ClassNoImage:
		// A text-only answer is worth exactly one more try.
		return noImageSeen <= 1, 0
	}
	return false, 0
}
