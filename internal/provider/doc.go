// Package provider turns a product photo and a prompt into one generated
// marketing image, through real AI image APIs or the built-in simulator.
//
// # Shape
//
// The consumer-side interface is ImageGenerator: one Generate call in, one
// image of the exact requested size out, or a classified *Error. Service is the
// implementation the rest of ludeng uses. It holds, in configured order, one
// entry per provider (gemini, openrouter, openai, kie) and wraps each backend
// with the same resilience: per-operation timeouts, retries with exponential
// backoff and full jitter that honour Retry-After and Gemini's
// RetryInfo.retryDelay, a circuit breaker, tiered rate limits (per minute and
// per hour, requests and images) plus a concurrency cap shared by every worker
// of the process, a ledger row written before each paid call and settled after
// it, and Prometheus metrics. When a provider's quota is exhausted it gets no
// calls until the quota resets and work moves to the next provider in the
// fallback order. With no provider configured the simulator (package sim)
// serves every request so the product works out of the box.
//
// Prompt enhancement (DeepSeek) is a separate Enhancer that never fails the
// caller: without a key or while DeepSeek is down it returns the template
// prompt and says so.
//
// # Time and randomness
//
// Every wait (backoff, rate-limit slot, kie polling) goes through Clock, whose
// Now, Sleep and Rand are injectable, so tests check exact schedules without
// real sleeping.
//
// # What never leaves this package
//
// API keys and image bytes are never logged; prompts only at Debug. Provider
// error messages are kept (truncated) for the admin status view but are not
// meant for end users: use (*Error).Fault for that.
package provider
