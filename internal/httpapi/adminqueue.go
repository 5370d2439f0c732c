package httpapi

import (
	"net/http"

	"github.com/ludeng/ludeng/internal/batchview"
)

func (a *batchAPI) queue(pause bool) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var err error
		if pause {
			err = a.d.Pipeline.PauseQueue(r.Context())
		} else {
			err = a.d.Pipeline.ResumeQueue(r.Context())
		}
		if err != nil {
			return err
		}
		_ = a.s.audit(r, nil, map[bool]string{true: "queue.pause", false: "queue.resume"}[pause], "queue", "generate", nil)
		return writeJSON(w, http.StatusOK, batchview.QueueState{Queue: "generate", Paused: pause})
	}
}
