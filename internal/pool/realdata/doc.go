// Package realdata holds the tests of the shipped element pool (data/pool,
// embedded by package pooldata): it validates with the real minimums, matches
// every county against an independent GB/T 2260 extract and checks the
// examples the product promises (邢台县 → 信都区, a tricycle on a dirt road in
// a Hebei July).
//
// They live apart from package pool's unit tests, which use small fixtures, so
// that incomplete or missing data never breaks those.
package realdata
