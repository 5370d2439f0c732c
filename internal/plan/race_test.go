//go:build race

package plan_test

// The exhaustive and randomised planner checks are pure computation; the
// race detector multiplies their cost many times over and finds nothing in
// case 300 it would not find in case 60. Under -race they run a subset, in
// parallel with the other tests as before; the full sets run without -race,
// as `go test ./...` and CI's coverage run do.
const raceEnabled = true
