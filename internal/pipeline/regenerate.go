package pipeline

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/store"
)

// Errors of Regenerate and SelectVersion.
var (
	ErrImageState = fault.New(fault.Conflict, "image_state",
		"Only a finished image (succeeded or failed) can be regenerated or switched to another version.")
	ErrInstruction = fault.Newf(fault.Unprocessable, "regenerate_instruction_invalid",
		"The instruction must be one line of at most %d characters.", MaxInstructionRunes).With("max", MaxInstructionRunes)
)

// MaxInstructionRunes bounds a regenerate instruction ("lamp larger"): it
// is a nudge appended to the prompt, not a new prompt.
const MaxInstructionRunes = 120

// adjustMark starts the operator's instruction in a regenerated prompt; a
// later regenerate replaces everything from it on.
const adjustMark = "\nOperator adjustment for this image: "

// Instruction returns the operator instruction a prompt carries ("" if none).
func Instruction(prompt string) string {
	if i := strings.Index(prompt, adjustMark); i >= 0 {
		return strings.TrimSpace(prompt[i+len(adjustMark):])
	}
	return ""
}

func checkInstruction(s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > MaxInstructionRunes || !utf8.ValidString(s) {
		return "", ErrInstruction
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", ErrInstruction
		}
	}
	return s, nil
}

// Regenerate draws one image of a finished batch again: same scene and
// variant, a new seed, optionally an operator instruction appended to its
// prompt. The current result is kept as a version; the batch is queued
// again and settles as usual when the image is done. The batch cap and the
// owner's daily and monthly budgets must allow one more image.
func (p *Pipeline) Regenerate(ctx context.Context, imageID, instruction string) (*store.Batch, error) {
	instruction, err := checkInstruction(instruction)
	if err != nil {
		return nil, err
	}
	im, err := p.db.ImageByID(ctx, imageID)
	if err != nil {
		return nil, err
	}
	b, err := p.db.BatchByID(ctx, im.BatchID)
	if err != nil {
		return nil, err
	}
	if !store.BatchTerminal(b.Status) {
		return nil, ErrBatchActive.With("status", b.Status)
	}
	if im.Status != store.ImageSucceeded && im.Status != store.ImageFailed {
		return nil, ErrImageState.With("status", im.Status)
	}
	// Read outside the transaction (see checkBudget).
	owner, err := p.db.UserByID(ctx, b.UserID)
	if err != nil {
		return nil, err
	}
	if _, err := p.loadGroupIndex(ctx, b.ID); err != nil {
		return nil, err
	}
	price := p.pricePer(b.Params.Resolution)
	est := Estimate{Images: 1, PerImage: price, TotalMicros: price}
	if b.CapMicros != nil {
		spent, err := p.db.BatchSpent(ctx, b.ID)
		if err != nil {
			return nil, err
		}
		if spent+price > *b.CapMicros {
			return nil, budgetError("batch", est, *b.CapMicros-spent)
		}
	}
	v := im.Variant
	// Seeds stay below 2^53 (they travel as JSON numbers).
	v.Seed = rand.Int64N(1<<53-1) + 1
	prompt := im.Prompt
	if i := strings.Index(prompt, adjustMark); i >= 0 {
		prompt = prompt[:i]
	}
	if instruction != "" {
		prompt += adjustMark + instruction
	}
	err = p.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := p.db.BatchByIDTx(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		if !store.BatchTerminal(cur.Status) {
			return ErrBatchActive.With("status", cur.Status)
		}
		if err := p.checkBudget(ctx, tx, owner, est); err != nil {
			return err
		}
		if err := p.db.KeepVersion(ctx, tx, im, Instruction(im.Prompt)); err != nil {
			return err
		}
		zero, empty := 0, ""
		ok, err := p.db.UpdateImage(ctx, tx, im, []string{store.ImageSucceeded, store.ImageFailed}, store.ImageUpdate{
			Status: store.ImageQueued, Variant: &v, Prompt: &prompt, QCTries: &zero, Reason: &empty, QC: []store.QCVerdict{},
			Event: map[string]any{"regenerate": true, "instruction": instruction}})
		if err != nil {
			return err
		}
		if !ok {
			return ErrImageState
		}
		if _, err := p.db.SetBatchStatus(ctx, tx, b.ID, nil, store.BatchQueued, "", map[string]any{"regenerate": im.ID}); err != nil {
			return err
		}
		return p.jobs.insertTx(ctx, tx, []river.InsertManyParams{{
			Args: GenerateArgs{ImageID: im.ID, Round: time.Now().UnixNano()}, InsertOpts: jobOpts(b)}})
	})
	if err != nil {
		return nil, err
	}
	return p.db.BatchByID(ctx, b.ID)
}

// SelectVersion makes an earlier result of an image its current one (the
// one shown, starred, zipped). The batch must be finished.
func (p *Pipeline) SelectVersion(ctx context.Context, imageID, versionID string) error {
	return p.db.InTx(ctx, func(tx *store.Tx) error {
		im, err := p.db.ImageByIDTx(ctx, tx, imageID)
		if err != nil {
			return err
		}
		b, err := p.db.BatchByIDTx(ctx, tx, im.BatchID)
		if err != nil {
			return err
		}
		if !store.BatchTerminal(b.Status) {
			return ErrBatchActive.With("status", b.Status)
		}
		ok, err := p.db.SelectVersion(ctx, tx, im, versionID, Instruction(im.Prompt))
		if err != nil {
			return err
		}
		if !ok {
			return ErrImageState.With("status", im.Status)
		}
		return nil
	})
}
