package pool

import (
	"errors"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
)

// Problem is one finding of Load or Validate.
type Problem struct {
	// File is the pool file, relative to the pool directory: "regions/13.json".
	// Aggregate findings over all region files use "regions/*.json".
	File string `json:"file"`
	// Where locates the finding inside the file: a path whose list items are
	// named by id when the id is usable ("regions[130503].crops[1].en",
	// "seasons[warm_temperate/7]", "elements[tricycle].fit.months[0]") and by
	// position otherwise ("elements[3]"); parse findings carry the line
	// ("zones[2].zh (line 14)"); whole-file findings say "file".
	Where string `json:"where"`
	// Code is a stable snake_case class, e.g. "duplicate_id", "outside_bbox".
	Code string `json:"code"`
	// Message is an English sentence fragment without a trailing period.
	Message string `json:"message"`
}

// String is the one-line form printed by `ludeng pool validate`:
// "<file>: <where>: <message>".
func (p Problem) String() string { return p.File + ": " + p.Where + ": " + p.Message }

// Problems is a list of findings; it is an error so it can travel wrapped.
type Problems []Problem

// Error joins the problems one per line.
func (ps Problems) Error() string { return strings.Join(ps.Strings(), "\n") }

// Strings returns the one-line form of each problem.
func (ps Problems) Strings() []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// ErrInvalid is the client-visible error for a pool that does not load or
// validate (422, code pool_invalid). Match it with errors.Is.
var ErrInvalid = fault.New(fault.Unprocessable, "pool_invalid", "The element pool is invalid.")

// maxProblemParams caps the problems listed in a fault's params.
const maxProblemParams = 100

// Err returns nil for no problems, else ErrInvalid with params "count" and
// "problems" (the first 100 lines) wrapping ps (recover it with ProblemsOf).
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	lines := ps.Strings()
	detail := "The element pool has " + plural(len(ps), "problem") + "; the first is: " + lines[0]
	e := fault.New(fault.Unprocessable, ErrInvalid.Code, detail).
		With("count", len(ps)).
		With("problems", lines[:min(len(lines), maxProblemParams)])
	return e.Wrap(ps)
}

// ProblemsOf returns the Problems carried by err (from Load, Decode,
// NewSnapshot or Problems.Err), or nil.
func ProblemsOf(err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return ps
	}
	return nil
}
