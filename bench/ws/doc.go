// Package wsbench measures live-progress delivery latency: from the moment
// an event is appended to the (in-memory) store and published, to the moment
// each of 1,000 WebSocket clients subscribed to that batch has received it.
// It holds only benchmarks; see docs/live-progress.md ("Benchmarks") for the
// command and the numbers.
package wsbench
