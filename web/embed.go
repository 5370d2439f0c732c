// Package web embeds the built single-page app (web/dist). The build output is
// committed so `go build` never needs Node; CI rebuilds it and fails when the
// committed copy is stale.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// FS returns the built app rooted at dist/.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // unreachable: "dist" is a literal directory of the embed
	}
	return sub
}
