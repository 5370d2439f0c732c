//go:build race

package sim

// The QC test is pure computation (rendering and SSIM) with no
// concurrency worth checking; under the race detector it runs a subset of
// the plans so the suite stays within go test's default timeout.
const raceEnabled = true
