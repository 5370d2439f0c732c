package pipeline

import (
	"errors"

	"github.com/riverqueue/river"
)

// KeepProductClause is appended to every enhanced prompt: an enhancer may
// rephrase the template, but the product must stay exactly as photographed.
const KeepProductClause = "Keep the solar street light from the reference photo exactly unchanged: same shape, proportions, colours, materials, solar panel, lamp head and logo; do not redesign it or add text."

// EnhanceArgs: enhance the prompts of one group, then queue its images.
type EnhanceArgs struct {
	BatchID string `json:"batch_id"`
	GroupID string `json:"group_id"`
}

// Kind implements river.JobArgs.
func (EnhanceArgs) Kind() string { return "ludeng_enhance" }

// GenerateArgs: generate (and QC) one image. Round distinguishes retries
// requested by users; River refuses a second job with the same args while
// one exists, so an image never has two jobs of one round.
type GenerateArgs struct {
	ImageID string `json:"image_id"`
	Round   int64  `json:"round"`
}

// Kind implements river.JobArgs.
func (GenerateArgs) Kind() string { return "ludeng_generate" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (GenerateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueGenerate, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// FinalizeArgs: settle a batch whose images are all terminal.
type FinalizeArgs struct {
	BatchID string `json:"batch_id"`
}

// Kind implements river.JobArgs.
func (FinalizeArgs) Kind() string { return "ludeng_finalize" }

func (p *Pipeline) count(kind string, err error) {
	outcome := "ok"
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	switch {
	case err == nil:
	case errors.As(err, &snooze):
		outcome = "snoozed"
	case errors.As(err, &cancel):
		outcome = "cancelled"
	default:
		outcome = "error"
	}
	p.m.jobs.WithLabelValues(kind, outcome).Inc()
}
