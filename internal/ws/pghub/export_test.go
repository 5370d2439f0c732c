package pghub

// ListenerPID exposes the listening backend's pid so tests can kill it.
func (h *Hub) ListenerPID() uint32 { return h.pid.Load() }

// ParsePayload exposes parsePayload.
var ParsePayload = parsePayload
