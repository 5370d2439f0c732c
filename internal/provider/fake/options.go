package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// Options configure a fake Server. The zero value answers every call
// successfully at once.
type Options struct {
	// Latency applies to every API's main call unless PerAPI overrides it.
	// It is the time to the answer: the image APIs render their picture
	// meanwhile (the answer waits for the render only if that takes longer).
	Latency Latency `json:"latency"`
	// Failures is the probability (0–1) of each failure step per main call,
	// e.g. {"503": 0.05, "429": 0.02, "no_image": 0.01}. Scripted steps
	// (POST /_fake/scenarios) take precedence.
	Failures map[string]float64 `json:"failures,omitempty"`
	// PerAPI overrides Latency and Failures for one API (gemini,
	// openrouter, openai, kie, deepseek).
	PerAPI map[string]Profile `json:"per_api,omitempty"`
	// APIKey, when set, is the only key accepted; otherwise any non-empty
	// key is accepted.
	APIKey string `json:"api_key,omitempty"`
	// PNG makes generated images PNG instead of JPEG.
	PNG bool `json:"png,omitempty"`
	// StaticImages renders one image per size and reuses it, so benchmarks
	// measure the client rather than the simulator.
	StaticImages bool `json:"static_images,omitempty"`
	// RetryAfter is the delay announced by 429 steps without one ("429:5s"
	// sets it per step); default 2s.
	RetryAfter Duration `json:"retry_after,omitempty"`
	// Hang is how long a "timeout" step holds the request before a 504
	// (default 10m; the client normally gives up first).
	Hang Duration `json:"hang,omitempty"`
	// KeepAliveLines is how many blank lines DeepSeek's fake writes (and
	// flushes) before its JSON body; default 2.
	KeepAliveLines int `json:"keep_alive_lines,omitempty"`
	// KiePolls is how many recordInfo polls a kie task takes to finish
	// (waiting → queuing → generating → success); default 3.
	KiePolls int `json:"kie_polls,omitempty"`
	// KieCallbackDelay is how long after createTask a task finishes by
	// itself and the callback (if any) is POSTed; 0 = only polls advance it.
	KieCallbackDelay Duration `json:"kie_callback_delay,omitempty"`
	// Limits are account limits per API ({"gemini":{"concurrency":4,
	// "per_minute":20}}): calls over them are answered with the API's 429,
	// as the real service does, and counted in Load.Rejected.
	Limits map[string]AccountLimits `json:"limits,omitempty"`
	// Seed makes failure injection and latency reproducible.
	Seed uint64 `json:"seed,omitempty"`

	// Now and Sleep replace real time in tests (not settable over JSON).
	Now   func() time.Time                                 `json:"-"`
	Sleep func(ctx context.Context, d time.Duration) error `json:"-"`
}

// Profile is one API's latency and failure rates.
type Profile struct {
	Latency  Latency            `json:"latency"`
	Failures map[string]float64 `json:"failures,omitempty"`
}

// Latency is Base + U(0, Jitter), replaced by Slow with probability SlowRate
// (a long tail, as image models have).
type Latency struct {
	Base     Duration `json:"base,omitempty"`
	Jitter   Duration `json:"jitter,omitempty"`
	SlowRate float64  `json:"slow_rate,omitempty"`
	Slow     Duration `json:"slow,omitempty"`
}

func (l Latency) sample(rng *rand.Rand) time.Duration {
	if l.SlowRate > 0 && rng.Float64() < l.SlowRate {
		return time.Duration(l.Slow)
	}
	d := time.Duration(l.Base)
	if l.Jitter > 0 {
		d += time.Duration(rng.Int64N(int64(l.Jitter)))
	}
	return d
}

// Duration is a time.Duration that reads "250ms"/"2s" or nanoseconds from JSON.
type Duration time.Duration

// UnmarshalJSON accepts a Go duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(n)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (o Options) withDefaults() Options {
	if o.RetryAfter <= 0 {
		o.RetryAfter = Duration(2 * time.Second)
	}
	if o.Hang <= 0 {
		o.Hang = Duration(10 * time.Minute)
	}
	if o.KeepAliveLines == 0 {
		o.KeepAliveLines = 2
	}
	if o.KiePolls <= 0 {
		o.KiePolls = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			if d <= 0 {
				return nil
			}
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	return o
}
