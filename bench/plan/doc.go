// Package plan benchmarks the smart planner against a user with 1,000,000
// history rows on SQLite and PostgreSQL. It holds only benchmarks; see
// docs/planner.md ("Benchmarks") for the commands and the numbers.
package plan
