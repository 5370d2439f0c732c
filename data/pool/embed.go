// Package pooldata embeds the shipped element pool (the JSON files beside this
// file, format in SCHEMA.md) into the binary, so that `ludeng serve` on an
// empty database and `ludeng pool import` without a directory have a pool.
// Load it with pool.Load(pooldata.FS()).
package pooldata

import (
	"embed"
	"io/fs"
)

//go:embed *.json regions/*.json
var files embed.FS

// FS returns the embedded pool directory: zones.json, provinces.json,
// seasons.json, roads.json, elements.json and regions/NN.json at its root.
func FS() fs.FS { return files }
